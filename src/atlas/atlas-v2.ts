import type { AtlasHttp } from './http-client.js';
import type { AtlasRolesApi, AtlasScope, ScopedUser } from './roles-api.js';

/** Media type of the 2023-01-01 resource version that carries the PUT roles endpoints. */
export const ATLAS_V2_2023 = 'application/vnd.atlas.2023-01-01+json';

interface CloudAppUser {
  readonly id: string;
  readonly username: string;
  readonly roles?: readonly {
    readonly orgId?: string;
    readonly groupId?: string;
    readonly roleName: string;
  }[];
}

/**
 * Atlas Admin API v2, resource version 2023-01-01: `GET /users/byName/{name}` to read,
 * `PUT /orgs/{orgId}/users/{userId}/roles` and `PUT /groups/{groupId}/users/{userId}/roles` to write.
 */
export function createAtlasV2RolesApi(http: AtlasHttp): AtlasRolesApi {
  return {
    async readUser(username, scope): Promise<ScopedUser> {
      const { body } = await http.send<CloudAppUser>({
        method: 'GET',
        path: `/api/atlas/v2/users/byName/${encodeURIComponent(username)}`,
        mediaType: ATLAS_V2_2023,
        operation: `looking up the Atlas user ${username}`,
      });
      const roles = (body.roles ?? [])
        .filter((r) => (scope.kind === 'org' ? r.orgId === scope.id : r.groupId === scope.id))
        .map((r) => r.roleName);
      return { userId: body.id, roles: [...new Set(roles)] };
    },

    async setRoles(scope: AtlasScope, userId, _current, next) {
      const [segment, field, words] =
        scope.kind === 'org'
          ? (['orgs', 'orgRoles', 'organization roles'] as const)
          : (['groups', 'groupRoles', 'project roles'] as const);
      await http.send({
        method: 'PUT',
        path: `/api/atlas/v2/${segment}/${scope.id}/users/${userId}/roles`,
        body: { [field]: next },
        mediaType: ATLAS_V2_2023,
        operation: `updating ${words}`,
      });
    },
  };
}
