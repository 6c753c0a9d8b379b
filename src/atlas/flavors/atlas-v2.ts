import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, ScopedUser } from '../roles-api.js';
import { type CloudAppUser, rolesIn, scopeWords } from './shared.js';

/** Media type of the 2023-01-01 resource version that carries the PUT roles endpoints. */
export const ATLAS_V2_2023 = 'application/vnd.atlas.2023-01-01+json';

/**
 * `atlas-v2`: Atlas Admin API v2, resource version 2023-01-01 (sunset 2027-07-01).
 * Reads with `GET /users/byName/{name}`; writes with `PUT /orgs|groups/{id}/users/{userId}/roles`.
 */
export function createAtlasV2RolesApi(http: AtlasHttp): AtlasRolesApi {
  return {
    async readUser(username, scope): Promise<ScopedUser> {
      const { body } = await http.send<CloudAppUser>({
        method: 'GET',
        path: `/api/atlas/v2/users/byName/${encodeURIComponent(username)}`,
        mediaType: ATLAS_V2_2023,
        operation: `looking up the Atlas user ${username}`,
        requiredRole: scope.kind === 'org' ? 'Organization Member' : 'Project Read Only',
      });
      return { userId: body.id, roles: rolesIn(body, scope) };
    },

    async setRoles(scope, userId, _current, next) {
      const words = scopeWords(scope);
      await http.send({
        method: 'PUT',
        path: `/api/atlas/v2/${words.segment}/${scope.id}/users/${userId}/roles`,
        body: { [words.field]: next },
        mediaType: ATLAS_V2_2023,
        operation: `updating ${words.roles}`,
        requiredRole: scope.kind === 'org' ? 'Organization Owner' : 'Project Owner',
      });
    },
  };
}
