import type { OrgRoleMappings } from '../lib/role-mappings.js';
import type { AtlasScope } from '../lib/scope.js';

/** The role-mapping shapes (defined in lib/, so the domain check can take them too). */
export type { OrgRoleMappings, RoleAssignment, RoleMapping } from '../lib/role-mappings.js';

/** A legacy identity-provider id, as the spec writes it (`OrgFederationSettings.identityProviderId`: `^([a-f0-9]{20})$`). */
export const IDENTITY_PROVIDER_ID = /^[a-f0-9]{20}$/;

/**
 * What Rolecall reads of an organization's federation: whether identity-provider groups set people's
 * roles there (role mappings), and whether Atlas's events say a federated login took a role back. Only
 * the Atlas v2 flavors have it (`AtlasClient.federation`). Every method throws AppError like the rest
 * of the client: retryable for outages and 429s; ATLAS_AUTH_FAILED naming the role the key needs.
 */
export interface AtlasFederationApi {
  /**
   * The role mappings in force in the organization: null when it has no federation, no active identity
   * provider or no role mappings. Needs the Organization Owner role (getOrgFederationSettings,
   * getFederationSettingConnectedOrgConfig).
   */
  readRoleMappings(orgId: string): Promise<OrgRoleMappings | null>;
  /**
   * When Atlas's events say it changed or removed this person's roles in the scope because of a
   * federated login (the person's own USER_ROLES_CHANGED_AUDIT, REMOVED_FROM_GROUP or REMOVED_FROM_ORG; see
   * flavors/federation-v2.ts) at or after `since` (ms since epoch): the time of the first such event;
   * else null.
   */
  removedAtLogin(scope: AtlasScope, userId: string, username: string, since: number): Promise<number | null>;
}
