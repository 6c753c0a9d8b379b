import type { RoleThroughTeam, TeamProjectAccess } from '../lib/access-items.js';
import type { AtlasScope } from '../lib/scope.js';
import type { AtlasTeamsApi } from './teams-api.js';

/** A user's identity and roles in one scope, as read from Atlas. */
export interface ScopedUser {
  readonly userId: string;
  /** [] when the user is not a member of the scope. */
  readonly roles: readonly string[];
  /**
   * The ids of the teams the person is in, in the organization (org scope only; absent for a project,
   * and where the read did not say). Read in the same answer as the roles: no extra call.
   */
  readonly teamIds?: readonly string[];
}

/** A person's membership in the organization that owns a project (spec `OrgUserResponse.orgMembershipStatus`). */
export type OrgMembershipStatus =
  | 'ACTIVE'
  | 'PENDING'
  | 'INVITATION_EXPIRED'
  | 'INVITATION_REJECTED'
  | 'NONE';

/**
 * Temporary project membership: adding an organization member to a project with roles, and removing
 * them again. Only the Atlas Admin API v2 resource version 2025-02-19 has these calls.
 */
export interface ProjectMembershipApi {
  /** The person's status in the organization that owns `groupId`; `NONE` when not a member (listOrgUsers). */
  orgStatus(username: string, groupId: string): Promise<OrgMembershipStatus>;
  /** Adds an active organization member to the project with `roles` (addGroupUsers, 201). */
  addToProject(groupId: string, username: string, roles: readonly string[]): Promise<void>;
  /** Removes the person from the project (removeGroupUser, 204); already gone is not an error. */
  removeFromProject(groupId: string, userId: string): Promise<void>;
}

/** One member of an organization or project and their roles there, as Atlas lists them. */
export interface ScopeMember {
  readonly userId: string;
  /** The Atlas username (an email), lower case. */
  readonly username: string;
  /** Their roles in that organization or project (never empty for a member). */
  readonly roles: readonly string[];
  /** The ids of the teams they are in (org scope only; absent for a project). */
  readonly teamIds?: readonly string[];
}

/**
 * Who is in an organization or project, and removing people from them: what access reviews and
 * offboarding need. Every method throws AppError like the rest of the client (retryable for
 * outages and 429s, Atlas errorCode and detail otherwise).
 */
export interface AtlasMembersApi {
  /**
   * Every member of the scope with their roles there, reading every page (itemsPerPage 500):
   * listOrgUsers / listGroupUsers (2025-02-19) on the Atlas v2 flavors, the v1.0 list calls on
   * atlas-v1, Cloud Manager and Ops Manager. Pending invitations are left out.
   */
  listMembers(scope: AtlasScope): Promise<ScopeMember[]>;
  /**
   * One authenticated read, the first page of one member of the scope's member list (the same call
   * as listMembers): resolves when Atlas accepts the credentials there (readiness). Throws AppError.
   */
  probe(scope: AtlasScope): Promise<void>;
  /** Removes the person from the project; already gone is not an error. */
  removeFromProject(groupId: string, userId: string): Promise<void>;
  /**
   * Removes the person from the organization (removeOrgUser, 2025-02-19); already gone is not an
   * error. Throws AppError `ATLAS_LAST_OWNER` when they are its last owner (Atlas refuses).
   * Absent where the API has no such call (Cloud Manager, Ops Manager) and on atlas-v1, whose
   * deprecated `DELETE /api/atlas/v1.0/orgs/{orgId}/users/{userId}` Rolecall does not use.
   */
  removeFromOrg?(orgId: string, userId: string): Promise<void>;
}

/** What one single-role call did, and the person's roles in the scope after it. */
export type RoleChange =
  /** Atlas made the change and answered with the roles after it (null when the answer had none: a dry run). */
  | { readonly changed: true; readonly roles: readonly string[] | null }
  /**
   * Atlas answered 409: the person already held the role (add), or no longer held it (remove).
   * `afterLostAnswer`: an earlier try of this very call lost its answer (a timeout, a 5xx), so the
   * 409 may be that try's own work.
   */
  | { readonly changed: false; readonly afterLostAnswer: boolean };

/**
 * One role added or removed with one call, answered with the person's roles after it: the
 * 2025-02-19 `:addRole` / `:removeRole` ("This operation is atomic"). Nothing needs reading first,
 * so a grant is one call and a revocation one call. Absent on the flavors whose write replaces the
 * whole list (PUT, PATCH), which must read before they write.
 */
export interface SingleRoleApi {
  addRole(scope: AtlasScope, userId: string, role: string): Promise<RoleChange>;
  /** Atlas refuses to remove a person's last role in a scope: AppError WOULD_REMOVE_ALL_ROLES. */
  removeRole(scope: AtlasScope, userId: string, role: string): Promise<RoleChange>;
}

/** What no longer exists in Atlas: the organization or project itself, or the person's account. */
export type Missing = 'target' | 'user';

/** The person a {@link AtlasRolesApi.findMissing} check is about. */
export interface PersonRef {
  /** Their Atlas username (email). */
  readonly username: string;
  /** Their Atlas user id, when Rolecall stored it (a grant's plan): atlas-v2-2025 asks by id. */
  readonly userId?: string | undefined;
}

/**
 * The operations the worker needs, whatever API flavor carries them out.
 * Every method throws AppError (retryable for outages, with Atlas errorCode and detail otherwise).
 */
export interface AtlasRolesApi {
  /**
   * What one role write touches, so no two overlapping writes interleave: `user` when a write
   * rewrites every scope of the user (atlas-v1 PATCH), `scope` when it touches one org or project.
   */
  readonly writeScope: 'user' | 'scope';
  /** Present on the Atlas v2 flavors; absent where the API cannot add someone to a project. */
  readonly projectMembership?: ProjectMembershipApi;
  /** Listing and removing members (access reviews, offboarding). */
  readonly members: AtlasMembersApi;
  /** Teams of the organization and their members (team grants, roles through teams). */
  readonly teams?: AtlasTeamsApi;
  /**
   * The project roles the person holds through teams they are in (not their own roles): listGroupTeams
   * (cached), and when a team has roles there, one read of their organization membership. Present
   * where `teams` is.
   */
  rolesThroughTeams?(username: string, groupId: string): Promise<RoleThroughTeam[]>;
  /**
   * What the `team:` items among `items` give on these projects (listGroupTeams, kept like the reads
   * above); a team the organization does not have gives nothing. Present where `teams` is.
   */
  teamAccess?(
    orgId: string,
    items: readonly string[],
    projects: readonly { readonly id: string; readonly name: string }[],
  ): Promise<TeamProjectAccess[]>;
  /**
   * Whether a `team:NAME` item still names a team of the organization (by its name or 24-hex id, or
   * the id it had when this process last used it); false for a team renamed or deleted in Atlas.
   */
  teamExists?(orgId: string, item: string): Promise<boolean>;
  /** Present on atlas-v2-2025: a role changed with one call, no read before it. */
  readonly singleRole?: SingleRoleApi;
  /** Finds a user by username (their email) and reads their roles in `scope` (one call where the flavor can). */
  readUser(username: string, scope: AtlasScope): Promise<ScopedUser>;
  /**
   * After a call failed with a 404 or found the person gone: asks Atlas about the organization or
   * project itself (getGroup / getOrg), then about the person. `target` when Atlas answers 404
   * GROUP_NOT_FOUND, ORG_NOT_FOUND, INVALID_GROUP_ID, INVALID_ORG_ID or RESOURCE_NOT_FOUND on the
   * target's own read (or marks the organization deleted); `user` when it does not know the person's
   * account (by username, or by id on atlas-v2-2025, where without an id it cannot tell); null when
   * both are there. Throws AppError when Atlas cannot say (an outage, credentials).
   */
  findMissing(scope: AtlasScope, person: PersonRef): Promise<Missing | null>;
  /** Makes the user's roles in `scope` exactly `next`; `current` is what was just read. */
  setRoles(
    scope: AtlasScope,
    userId: string,
    current: readonly string[],
    next: readonly string[],
  ): Promise<void>;
}
