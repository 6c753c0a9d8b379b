import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, ScopedUser } from '../roles-api.js';
import { createFindMissing, userByName } from './existence.js';
import { createV1MembersApi, type MembersOptions } from './members.js';
import { type CloudAppUser, rolesIn, teamIdsFor } from './shared.js';
import { createTeamsV1Api } from './teams-v1.js';

type RoleAssignment = NonNullable<CloudAppUser['roles']>[number];

/**
 * `atlas-v1`: the legacy Atlas Admin API v1.0. Reads with `GET /users/byName/{name}`; writes with
 * `PATCH /users/{USER-ID}` `{"roles":[{"orgId"|"groupId","roleName"}]}`. The PATCH carries every role
 * the user holds, with only the target scope changed, so it is right whether Atlas replaces the
 * whole list or only the scopes present (the docs do not say which). Members: "Get All Users in One
 * Organization / Project" and "Remove One User from a Project" (`DELETE /groups/{id}/users/{userId}`);
 * no `removeFromOrg`, as the AtlasMembersApi contract leaves it out for this flavor.
 */
export function createAtlasV1RolesApi(http: AtlasHttp, options: MembersOptions = {}): AtlasRolesApi {
  const read = async (path: string, what: string) =>
    (
      await http.send<CloudAppUser>({
        method: 'GET',
        path,
        mediaType: 'application/json',
        operation: `looking up the Atlas user ${what}`,
        requiredRole: 'Organization Member',
      })
    ).body;

  return {
    // The PATCH carries every scope of the user: two writes for one user must never interleave.
    writeScope: 'user',
    findMissing: createFindMissing(
      http,
      {
        base: '/api/atlas/v1.0',
        mediaType: 'application/json',
        readRole: { org: 'Organization Member', project: 'Project Read Only' },
      },
      userByName(http, '/api/atlas/v1.0', 'application/json'),
    ),
    // No removeFromOrg, per the contract in roles-api.ts. The deprecated v1 reference does document
    // removeOrganizationUser (DELETE /api/atlas/v1.0/orgs/{orgId}/users/{userId}, 204); not wired up here.
    members: createV1MembersApi(
      http,
      {
        base: '/api/atlas/v1.0',
        readRole: { org: 'Organization Member', project: 'Project Read Only' },
        removeRole: 'Project Owner',
      },
      options,
    ),
    teams: createTeamsV1Api(
      http,
      {
        base: '/api/atlas/v1.0',
        readRole: { org: 'Organization Member', project: 'Project Read Only' },
        writeRole: 'Organization Owner',
      },
      options,
    ),
    async readUser(username, scope): Promise<ScopedUser> {
      const user = await read(`/api/atlas/v1.0/users/byName/${encodeURIComponent(username)}`, username);
      // teamIds: every team of the account (the by-name document does not say which organization's).
      return { userId: user.id, roles: rolesIn(user, scope), ...teamIdsFor(scope, user.teamIds) };
    },

    async setRoles(scope, userId, _current, next) {
      const user = await read(`/api/atlas/v1.0/users/${userId}`, userId);
      const inScope = (r: RoleAssignment) =>
        scope.kind === 'org' ? r.orgId === scope.id : r.groupId === scope.id;
      const others = (user.roles ?? [])
        .filter((r) => !inScope(r))
        .map(
          (r): RoleAssignment =>
            r.orgId
              ? { orgId: r.orgId, roleName: r.roleName }
              : { groupId: r.groupId ?? '', roleName: r.roleName },
        );
      const changed = next.map(
        (roleName): RoleAssignment =>
          scope.kind === 'org' ? { orgId: scope.id, roleName } : { groupId: scope.id, roleName },
      );
      await http.send({
        method: 'PATCH',
        path: `/api/atlas/v1.0/users/${userId}`,
        body: { roles: [...others, ...changed] },
        mediaType: 'application/json',
        operation: `updating ${scope.kind === 'org' ? 'organization' : 'project'} roles`,
        requiredRole: scope.kind === 'org' ? 'Organization Owner' : 'Project Owner',
      });
    },
  };
}
