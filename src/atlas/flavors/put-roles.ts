import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, ScopedUser } from '../roles-api.js';
import { createFindMissing, userByName } from './existence.js';
import { type CloudAppUser, rolesIn, teamIdsFor } from './shared.js';

/** What differs between the APIs that replace a scope's roles with one PUT. */
export interface PutRolesApiShape {
  /** `/api/atlas/v2` or `/api/public/v1.0`. */
  readonly base: string;
  readonly mediaType: string;
  /** The Atlas roles the key needs to read a user, and to change roles, per scope (for 401/403 messages). */
  readonly readRole: { readonly org: string; readonly project: string };
  readonly writeRole: { readonly org: string; readonly project: string };
}

/**
 * Reads with `GET {base}/users/byName/{name}`; tells a deleted target or account apart with
 * `GET {base}/groups/{id}` or `{base}/orgs/{id}` and the same by-name read; writes with `PUT {base}/orgs/{id}/users/{userId}/roles`
 * `{"orgRoles"}` or `PUT {base}/groups/{id}/users/{userId}/roles` `{"groupRoles"}`. Members come from
 * the flavor (their calls differ).
 */
export function createPutRolesApi(http: AtlasHttp, shape: PutRolesApiShape): Omit<AtlasRolesApi, 'members'> {
  return {
    writeScope: 'scope',
    findMissing: createFindMissing(http, shape, userByName(http, shape.base, shape.mediaType)),
    async readUser(username, scope): Promise<ScopedUser> {
      const { body } = await http.send<CloudAppUser>({
        method: 'GET',
        path: `${shape.base}/users/byName/${encodeURIComponent(username)}`,
        mediaType: shape.mediaType,
        operation: `looking up the user ${username}`,
        requiredRole: shape.readRole[scope.kind],
      });
      // teamIds: every team of the account (the by-name document does not say which organization's).
      return { userId: body.id, roles: rolesIn(body, scope), ...teamIdsFor(scope, body.teamIds) };
    },

    async setRoles(scope, userId, _current, next) {
      const org = scope.kind === 'org';
      await http.send({
        method: 'PUT',
        path: `${shape.base}/${org ? 'orgs' : 'groups'}/${scope.id}/users/${userId}/roles`,
        body: org ? { orgRoles: next } : { groupRoles: next },
        mediaType: shape.mediaType,
        operation: `updating ${org ? 'organization' : 'project'} roles`,
        requiredRole: shape.writeRole[scope.kind],
      });
    },
  };
}
