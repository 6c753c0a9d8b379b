import type { AtlasScope } from '../../lib/scope.js';
import type { AtlasHttp } from '../http-client.js';
import type { AtlasMembersApi, ScopeMember } from '../roles-api.js';
import { readAllPages } from './paging.js';
import { removeGroupUser } from './project-membership.js';
import { ATLAS_V2_2025, type CloudAppUser, isAlreadyGone, rolesIn, teamIdsFor } from './shared.js';

/** An entry of listOrgUsers 2025-02-19 (`PaginatedOrgUserView.results`, spec `OrgUserResponse`). */
interface OrgUserEntry {
  readonly id: string;
  readonly username: string;
  readonly orgMembershipStatus?: string;
  readonly roles?: { readonly orgRoles?: readonly string[] };
  /** Spec `OrgUserResponse.teamIds`: the teams of this organization the person is in. */
  readonly teamIds?: readonly string[];
}

/** An entry of listGroupUsers 2025-02-19 (`PaginatedGroupUserView.results`, spec `GroupUserResponse`). */
interface GroupUserEntry {
  readonly id: string;
  readonly username: string;
  readonly orgMembershipStatus?: string;
  readonly roles?: readonly string[];
}

/**
 * A member as the interface promises it: username lower case, roles once each, `teamIds` on an
 * organization's list when the answer had them; undefined without roles.
 */
function member(
  userId: string,
  username: string,
  roles: readonly string[],
  teams: { readonly teamIds?: readonly string[] } = {},
): ScopeMember | undefined {
  const unique = [...new Set(roles)];
  return unique.length === 0
    ? undefined
    : { userId, username: username.toLowerCase(), roles: unique, ...teams };
}

function present<T>(value: T | undefined): value is T {
  return value !== undefined;
}

/**
 * Members on the Atlas Admin API v2, always in resource version 2025-02-19 whatever ATLAS_API says (the
 * 2023-01-01 lists are deprecated): listOrgUsers `GET /orgs/{orgId}/users` (org roles from
 * `roles.orgRoles`) and listGroupUsers `GET /groups/{groupId}/users` (project roles from `roles`), every
 * page of 500; only `orgMembershipStatus: ACTIVE` entries (pending, expired or rejected invitations are
 * left out). removeGroupUser and removeOrgUser (both 204) remove; already gone is not an error.
 */
/** Options of the members APIs. */
export interface MembersOptions {
  /** Items per page of a list call (1–500). @defaultValue 500 */
  readonly pageSize?: number;
}

export function createAtlasV2MembersApi(http: AtlasHttp, options: MembersOptions = {}): AtlasMembersApi {
  return {
    async listMembers(scope: AtlasScope): Promise<ScopeMember[]> {
      if (scope.kind === 'org') {
        const entries = await readAllPages<OrgUserEntry>(
          http,
          {
            path: `/api/atlas/v2/orgs/${scope.id}/users`,
            mediaType: ATLAS_V2_2025,
            operation: 'listing the members of the organization',
            requiredRole: 'Organization Member',
          },
          (entry) => entry.id,
          options.pageSize,
        );
        return entries
          .filter((entry) => entry.orgMembershipStatus === 'ACTIVE')
          .map((entry) =>
            member(entry.id, entry.username, entry.roles?.orgRoles ?? [], teamIdsFor(scope, entry.teamIds)),
          )
          .filter(present);
      }
      const entries = await readAllPages<GroupUserEntry>(
        http,
        {
          path: `/api/atlas/v2/groups/${scope.id}/users`,
          mediaType: ATLAS_V2_2025,
          operation: 'listing the members of the project',
          requiredRole: 'Project Read Only',
        },
        (entry) => entry.id,
        options.pageSize,
      );
      return entries
        .filter((entry) => entry.orgMembershipStatus === 'ACTIVE')
        .map((entry) => member(entry.id, entry.username, entry.roles ?? []))
        .filter(present);
    },

    async probe(scope: AtlasScope) {
      const org = scope.kind === 'org';
      await http.send({
        method: 'GET',
        path: `/api/atlas/v2/${org ? 'orgs' : 'groups'}/${scope.id}/users`,
        query: { itemsPerPage: '1', pageNum: '1' },
        mediaType: ATLAS_V2_2025,
        operation: `checking access to the ${org ? 'organization' : 'project'}`,
        requiredRole: org ? 'Organization Member' : 'Project Read Only',
      });
    },

    removeFromProject: (groupId, userId) => removeGroupUser(http, groupId, userId),

    async removeFromOrg(orgId, userId) {
      try {
        await http.send({
          method: 'DELETE',
          path: `/api/atlas/v2/orgs/${orgId}/users/${userId}`,
          mediaType: ATLAS_V2_2025,
          operation: 'removing the user from the organization',
          requiredRole: 'Organization Owner',
        });
      } catch (error) {
        // Already gone is done; the last owner (ATLAS_LAST_OWNER) and everything else is not.
        if (isAlreadyGone(error)) return;
        throw error;
      }
    },
  };
}

/** What differs between the v1.0 APIs (legacy Atlas, Cloud Manager / Ops Manager public API). */
export interface V1MembersShape {
  /** `/api/atlas/v1.0` or `/api/public/v1.0`. */
  readonly base: string;
  /** The roles the key needs to list, per scope, and to remove someone from a project (for 401/403 messages). */
  readonly readRole: { readonly org: string; readonly project: string };
  readonly removeRole: string;
}

/**
 * Members on a v1.0 API: `GET {base}/orgs/{id}/users` and `GET {base}/groups/{id}/users` (JSON,
 * `pageNum`, `itemsPerPage` 500; each result lists `roles: [{orgId|groupId, roleName}]` of every scope,
 * of which only this one's are kept), and `DELETE {base}/groups/{groupId}/users/{userId}` to remove.
 * No `removeFromOrg`: see the flavors.
 */
export function createV1MembersApi(
  http: AtlasHttp,
  shape: V1MembersShape,
  options: MembersOptions = {},
): AtlasMembersApi {
  return {
    async listMembers(scope: AtlasScope): Promise<ScopeMember[]> {
      const org = scope.kind === 'org';
      const users = await readAllPages<CloudAppUser>(
        http,
        {
          path: `${shape.base}/${org ? 'orgs' : 'groups'}/${scope.id}/users`,
          mediaType: 'application/json',
          operation: `listing the members of the ${org ? 'organization' : 'project'}`,
          requiredRole: shape.readRole[scope.kind],
        },
        (user) => user.id,
        options.pageSize,
      );
      // teamIds (organization lists only): every team of the account, as the v1.0 user document lists them.
      return users
        .map((user) => member(user.id, user.username, rolesIn(user, scope), teamIdsFor(scope, user.teamIds)))
        .filter(present);
    },

    async probe(scope: AtlasScope) {
      const org = scope.kind === 'org';
      await http.send({
        method: 'GET',
        path: `${shape.base}/${org ? 'orgs' : 'groups'}/${scope.id}/users`,
        query: { itemsPerPage: '1', pageNum: '1' },
        mediaType: 'application/json',
        operation: `checking access to the ${org ? 'organization' : 'project'}`,
        requiredRole: shape.readRole[scope.kind],
      });
    },

    async removeFromProject(groupId, userId) {
      try {
        // Cloud Manager / Ops Manager "Remove One User from One Project" (legacy Atlas v1.0: "Remove One User from a Project").
        await http.send({
          method: 'DELETE',
          path: `${shape.base}/groups/${groupId}/users/${userId}`,
          mediaType: 'application/json',
          operation: 'removing the user from the project',
          requiredRole: shape.removeRole,
        });
      } catch (error) {
        if (isAlreadyGone(error)) return;
        throw error;
      }
    },
  };
}
