/** Media type of the 2023-01-01 resource version that carries the PUT roles endpoints (sunset 2027-07-01). */
export const ATLAS_V2_2023 = 'application/vnd.atlas.2023-01-01+json';

/** Media type of the 2025-02-19 resource version (`:addRole`, `:removeRole`, project membership, user reads). */
export const ATLAS_V2_2025 = 'application/vnd.atlas.2025-02-19+json';

import { isAppError } from '../../errors.js';
import type { AtlasScope } from '../../lib/scope.js';

/** The user document of `GET …/users/byName/{name}` (v2 2023-01-01, v1.0, public v1.0). */
export interface CloudAppUser {
  readonly id: string;
  readonly username: string;
  readonly roles?: readonly {
    readonly orgId?: string;
    readonly groupId?: string;
    readonly roleName: string;
  }[];
  /** Every team the account is in (spec `CloudAppUser.teamIds`; the v1.0 user document has it too). */
  readonly teamIds?: readonly string[];
}

/** The user's roles in one scope, from the role assignments of a CloudAppUser. */
export function rolesIn(user: CloudAppUser, scope: AtlasScope): string[] {
  const roles = (user.roles ?? [])
    .filter((r) => (scope.kind === 'org' ? r.orgId === scope.id : r.groupId === scope.id))
    .map((r) => r.roleName);
  return [...new Set(roles)];
}

/**
 * Whether a failed removal means the person was already gone (404 USER_NOT_IN_GROUP / USER_NOT_IN_ORG,
 * or USER_NOT_FOUND for a deleted account): a retried DELETE whose first try landed, or someone removed
 * them by hand. Any other 404 (an unknown org or project) is a real failure.
 */
export function isAlreadyGone(error: unknown): boolean {
  return isAppError(error, 'ATLAS_NOT_A_MEMBER') || isAppError(error, 'ATLAS_USER_NOT_FOUND');
}

/**
 * The `teamIds` a ScopedUser or ScopeMember carries (roles-api.ts): organization scope only, and only
 * when the answer said. Read from the same answer as the roles, never with a call of its own.
 */
export function teamIdsFor(
  scope: AtlasScope,
  teamIds: readonly string[] | undefined,
): { readonly teamIds?: readonly string[] } {
  return scope.kind === 'org' && teamIds !== undefined ? { teamIds: [...new Set(teamIds)] } : {};
}
