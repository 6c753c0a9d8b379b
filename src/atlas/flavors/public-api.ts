import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, ScopedUser } from '../roles-api.js';
import { type CloudAppUser, rolesIn, scopeWords } from './shared.js';

/**
 * `cloud-manager` and `ops-manager`: the public API v1.0 (`/api/public/v1.0`). Reads with
 * `GET /users/byName/{name}`; writes with `PUT /orgs/{ORG-ID}/users/{USER-ID}/roles` `{"orgRoles"}`
 * and `PUT /groups/{PROJECT-ID}/users/{USER-ID}/roles` `{"groupRoles"}`.
 */
export function createPublicApiRolesApi(http: AtlasHttp): AtlasRolesApi {
  return {
    async readUser(username, scope): Promise<ScopedUser> {
      const { body } = await http.send<CloudAppUser>({
        method: 'GET',
        path: `/api/public/v1.0/users/byName/${encodeURIComponent(username)}`,
        mediaType: 'application/json',
        operation: `looking up the user ${username}`,
        requiredRole: scope.kind === 'org' ? 'Organization Read Only' : 'Project Read Only',
      });
      return { userId: body.id, roles: rolesIn(body, scope) };
    },

    async setRoles(scope, userId, _current, next) {
      const words = scopeWords(scope);
      await http.send({
        method: 'PUT',
        path: `/api/public/v1.0/${words.segment}/${scope.id}/users/${userId}/roles`,
        body: { [words.field]: next },
        mediaType: 'application/json',
        operation: `updating ${words.roles}`,
        requiredRole: scope.kind === 'org' ? 'Organization User Admin' : 'Project User Admin',
      });
    },
  };
}
