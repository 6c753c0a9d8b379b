import { isAppError } from '../../errors.js';
import type { AtlasScope } from '../../lib/scope.js';
import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, PersonRef } from '../roles-api.js';
import { ATLAS_V2_2023, ATLAS_V2_2025 } from './shared.js';

/** How a flavor reads an organization or project by id (getOrg / getGroup, or the v1.0 equivalents). */
export interface TargetReadShape {
  /** `/api/atlas/v2`, `/api/atlas/v1.0` or `/api/public/v1.0`. */
  readonly base: string;
  readonly mediaType: string;
  readonly readRole: { readonly org: string; readonly project: string };
}

/** Tells whether the person's account still exists: false when Atlas does not know it, null when it cannot tell. */
export type UserCheck = (scope: AtlasScope, person: PersonRef) => Promise<boolean | null>;

/**
 * A 404 on the target's own read, with a code that names it missing (NOTES.md section 6: 404
 * GROUP_NOT_FOUND / INVALID_GROUP_ID "No group with ID %s exists", ORG_NOT_FOUND / INVALID_ORG_ID, and
 * the generic RESOURCE_NOT_FOUND "Cannot find resource %s"). Other 404s (NOT_ATLAS_GROUP: the wrong
 * API for it) say nothing about whether it exists.
 */
function isTargetMissing(error: unknown): boolean {
  if (!isAppError(error) || error.details.status !== 404) return false;
  return error.code === 'ATLAS_TARGET_GONE' || error.details.errorCode === 'RESOURCE_NOT_FOUND';
}

/**
 * `findMissing` for a flavor: reads the target itself (an organization Atlas returns with
 * `isDeleted: true` counts as gone, spec `AtlasOrganization`), then asks `userExists`.
 */
export function createFindMissing(
  http: AtlasHttp,
  shape: TargetReadShape,
  userExists: UserCheck,
): AtlasRolesApi['findMissing'] {
  return async (scope, person) => {
    try {
      const { body } = await http.send<{ isDeleted?: boolean } | undefined>({
        method: 'GET',
        path: `${shape.base}/${scope.kind === 'org' ? 'orgs' : 'groups'}/${scope.id}`,
        mediaType: shape.mediaType,
        operation: `reading the ${scope.kind === 'org' ? 'organization' : 'project'}`,
        requiredRole: shape.readRole[scope.kind],
      });
      if (body?.isDeleted === true) return 'target';
    } catch (error) {
      if (isTargetMissing(error)) return 'target';
      throw error;
    }
    return (await userExists(scope, person)) === false ? 'user' : null;
  };
}

/**
 * Whether the account exists, by username: `GET {base}/users/byName/{userName}` answers 404
 * USERNAME_NOT_FOUND "No user with username %s exists" for an account Atlas does not know.
 */
export function userByName(http: AtlasHttp, base: string, mediaType: string): UserCheck {
  return async (_scope, person) => {
    try {
      await http.send({
        method: 'GET',
        path: `${base}/users/byName/${encodeURIComponent(person.username)}`,
        mediaType,
        operation: `looking up the user ${person.username}`,
      });
      return true;
    } catch (error) {
      if (isAppError(error, 'ATLAS_USER_NOT_FOUND')) return false;
      throw error;
    }
  };
}

/**
 * Whether the account exists, by id, on the 2025-02-19 calls (getOrgUser): 404 USER_NOT_FOUND or
 * INVALID_USER_ID means Atlas does not know the id; USER_NOT_IN_ORG, that the account exists but left
 * the organization. Without an id it cannot tell: listOrgUsers `?username=` lists members only.
 */
export function userById(http: AtlasHttp, orgOf: (scope: AtlasScope) => Promise<string>): UserCheck {
  return async (scope, person) => {
    if (!person.userId) return null;
    try {
      await http.send({
        method: 'GET',
        path: `/api/atlas/v2/orgs/${await orgOf(scope)}/users/${person.userId}`,
        mediaType: ATLAS_V2_2025,
        operation: `looking up the Atlas user ${person.username}`,
        requiredRole: 'Organization Member',
      });
      return true;
    } catch (error) {
      if (isAppError(error, 'ATLAS_USER_NOT_FOUND')) return false;
      if (isAppError(error, 'ATLAS_NOT_A_MEMBER')) return true;
      throw error;
    }
  };
}

/** getGroup / getOrg on the Atlas Admin API v2 (resource version 2023-01-01, the only one they have). */
export const ATLAS_V2_TARGETS: TargetReadShape = {
  base: '/api/atlas/v2',
  mediaType: ATLAS_V2_2023,
  readRole: { org: 'Organization Member', project: 'Project Read Only' },
};
