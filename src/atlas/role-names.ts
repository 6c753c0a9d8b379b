// Role names per API flavor: the Atlas Admin API v2 spec (2026-08-21), the Atlas user-roles page,
// and the Cloud Manager / Ops Manager API docs.

/** Atlas organization roles: the complete enum of the v2 spec. */
export const ATLAS_ORG_ROLES = [
  'ORG_OWNER',
  'ORG_MEMBER',
  'ORG_GROUP_CREATOR',
  'ORG_BILLING_ADMIN',
  'ORG_BILLING_READ_ONLY',
  'ORG_STREAM_PROCESSING_ADMIN',
  'ORG_READ_ONLY',
] as const;

/**
 * Atlas project roles known today. The v2 spec no longer has an enum (the list grows), so the client
 * accepts any `GROUP_[A-Z_]+` and lets the policy restrict; this list is what the simulator accepts.
 */
export const ATLAS_PROJECT_ROLES = [
  'GROUP_OWNER',
  'GROUP_REPLICA_SET_MANAGER',
  'GROUP_CLUSTER_MANAGER',
  'GROUP_CLUSTER_CREATOR',
  'GROUP_CLUSTER_LOG_VIEWER',
  'GROUP_CLUSTER_RESILIENCE_TESTER',
  'GROUP_STREAM_PROCESSING_OWNER',
  'GROUP_ACCESS_MANAGER',
  'GROUP_DATA_ACCESS_ADMIN',
  'GROUP_DATA_ACCESS_READ_WRITE',
  'GROUP_DATA_ACCESS_READ_ONLY',
  'GROUP_DATABASE_ACCESS_ADMIN',
  'GROUP_BACKUP_MANAGER',
  'GROUP_BACKUP_CREATOR',
  'GROUP_BACKUP_RECOVERY_OPERATOR',
  'GROUP_BACKUP_EXPORT_OPERATOR',
  'GROUP_NETWORK_ACCESS_MANAGER',
  'GROUP_OBSERVABILITY_VIEWER',
  'GROUP_TRIGGER_MANAGER',
  'GROUP_READ_ONLY',
  'GROUP_INDEX_MANAGER',
  'GROUP_SEARCH_INDEX_EDITOR',
  'GROUP_REAL_TIME_PERFORMANCE_OPERATOR',
  'GROUP_SUPPORT_ACCESS_MANAGER',
  'GROUP_ALERTS_MANAGER',
  'GROUP_MODEL_OWNER',
] as const;

/** Cloud Manager organization roles. */
export const CLOUD_MANAGER_ORG_ROLES = [
  'ORG_OWNER',
  'ORG_MEMBER',
  'ORG_GROUP_CREATOR',
  'ORG_BILLING_ADMIN',
  'ORG_READ_ONLY',
  'ORG_BILLING_READ_ONLY',
] as const;

/** Ops Manager organization roles (no billing roles). */
export const OPS_MANAGER_ORG_ROLES = [
  'ORG_MEMBER',
  'ORG_READ_ONLY',
  'ORG_GROUP_CREATOR',
  'ORG_OWNER',
] as const;

/** Cloud Manager and Ops Manager project roles. */
export const CLOUD_MANAGER_PROJECT_ROLES = [
  'GROUP_AUTOMATION_ADMIN',
  'GROUP_BACKUP_ADMIN',
  'GROUP_DATA_ACCESS_ADMIN',
  'GROUP_DATA_ACCESS_READ_ONLY',
  'GROUP_DATA_ACCESS_READ_WRITE',
  'GROUP_MONITORING_ADMIN',
  'GROUP_OWNER',
  'GROUP_READ_ONLY',
  'GROUP_USER_ADMIN',
] as const;
