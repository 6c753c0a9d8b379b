import type { AtlasScope } from '../roles-api.js';

/** The user document of `GET …/users/byName/{name}` (v2 2023-01-01, v1.0, public v1.0). */
export interface CloudAppUser {
  readonly id: string;
  readonly username: string;
  readonly roles?: readonly {
    readonly orgId?: string;
    readonly groupId?: string;
    readonly roleName: string;
  }[];
}

/** The user's roles in one scope, from the role assignments of a CloudAppUser. */
export function rolesIn(user: CloudAppUser, scope: AtlasScope): string[] {
  const roles = (user.roles ?? [])
    .filter((r) => (scope.kind === 'org' ? r.orgId === scope.id : r.groupId === scope.id))
    .map((r) => r.roleName);
  return [...new Set(roles)];
}
