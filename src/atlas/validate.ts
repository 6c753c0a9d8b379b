import type { AtlasApiFlavor } from '../config.js';
import { AppError } from '../errors.js';
import {
  ATLAS_ORG_ROLES,
  CLOUD_MANAGER_ORG_ROLES,
  CLOUD_MANAGER_PROJECT_ROLES,
  OPS_MANAGER_ORG_ROLES,
} from './role-names.js';
import type { AtlasRolesApi, AtlasScope } from './roles-api.js';

const ATLAS_ID = /^[a-f0-9]{24}$/;
const ATLAS_PROJECT_ROLE = /^GROUP_[A-Z_]+$/;

/** Throws unless `value` is a 24-hex Atlas id (orgId, groupId, userId). */
export function checkAtlasId(value: string, what: string): void {
  if (!ATLAS_ID.test(value)) {
    throw new AppError('ATLAS_INVALID_INPUT', `${what} "${value}" is not a 24-character hex Atlas id.`);
  }
}

/** The role names a flavor accepts in a scope, as a list, or `open` for Atlas project roles. */
export function rolesAcceptedBy(
  flavor: AtlasApiFlavor,
  kind: AtlasScope['kind'],
): readonly string[] | 'open' {
  switch (flavor) {
    case 'cloud-manager':
      return kind === 'org' ? CLOUD_MANAGER_ORG_ROLES : CLOUD_MANAGER_PROJECT_ROLES;
    case 'ops-manager':
      return kind === 'org' ? OPS_MANAGER_ORG_ROLES : CLOUD_MANAGER_PROJECT_ROLES;
    default:
      return kind === 'org' ? ATLAS_ORG_ROLES : 'open';
  }
}

/** The roles in `roles` that the flavor does not accept in the scope (Atlas project roles: any GROUP_[A-Z_]+). */
export function invalidRoles(
  flavor: AtlasApiFlavor,
  kind: AtlasScope['kind'],
  roles: readonly string[],
): string[] {
  const accepted = rolesAcceptedBy(flavor, kind);
  return roles.filter((role) =>
    accepted === 'open' ? !ATLAS_PROJECT_ROLE.test(role) : !accepted.includes(role),
  );
}

/**
 * Wraps a flavor so nothing malformed reaches Atlas: ids are 24 hex, roles belong to the flavor and
 * scope, and no change leaves a user with zero roles in a scope.
 */
export function withValidation(flavor: AtlasApiFlavor, api: AtlasRolesApi): AtlasRolesApi {
  return {
    async readUser(username, scope) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      return api.readUser(username, scope);
    },
    async setRoles(scope, userId, current, next) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      checkAtlasId(userId, 'userId');
      const bad = invalidRoles(flavor, scope.kind, next);
      if (bad.length > 0) {
        const accepted = rolesAcceptedBy(flavor, scope.kind);
        throw new AppError(
          'ATLAS_INVALID_INPUT',
          `${bad.join(', ')} ${bad.length === 1 ? 'is not' : 'are not'} ${scope.kind === 'org' ? 'an organization' : 'a project'} role of ${flavor}${accepted === 'open' ? '' : ` (accepted: ${accepted.join(', ')})`}.`,
        );
      }
      if (next.length === 0) {
        throw new AppError(
          'WOULD_REMOVE_ALL_ROLES',
          `This would leave the user with no role in the ${scope.kind === 'org' ? 'organization' : 'project'}; Atlas requires at least one. Remove the user from it in Atlas instead.`,
        );
      }
      return api.setRoles(scope, userId, current, next);
    },
  };
}
