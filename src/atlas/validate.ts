import { AppError } from '../errors.js';
import { ATLAS_ID, ATLAS_PROJECT_ROLE } from '../lib/patterns.js';
import type { AtlasScope } from '../lib/scope.js';
import type { AtlasApiFlavor } from './atlas-options.js';
import {
  ATLAS_ORG_ROLES,
  CLOUD_MANAGER_ORG_ROLES,
  CLOUD_MANAGER_PROJECT_ROLES,
  OPS_MANAGER_ORG_ROLES,
} from './role-names.js';
import type { AtlasMembersApi, AtlasRolesApi } from './roles-api.js';
import type { AtlasTeamsApi } from './teams-api.js';

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

/** Wraps a flavor's members calls so every orgId, groupId and userId is 24 hex before it reaches a path. */
function membersWithValidation(members: AtlasMembersApi): AtlasMembersApi {
  const removeFromOrg = members.removeFromOrg?.bind(members);
  return {
    async listMembers(scope) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      return members.listMembers(scope);
    },
    async probe(scope) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      return members.probe(scope);
    },
    async removeFromProject(groupId, userId) {
      checkAtlasId(groupId, 'groupId');
      checkAtlasId(userId, 'userId');
      return members.removeFromProject(groupId, userId);
    },
    ...(removeFromOrg
      ? {
          async removeFromOrg(orgId: string, userId: string) {
            checkAtlasId(orgId, 'orgId');
            checkAtlasId(userId, 'userId');
            return removeFromOrg(orgId, userId);
          },
        }
      : {}),
  };
}

/** Wraps a flavor's team calls so every orgId, groupId, teamId and userId is 24 hex before it reaches a path. */
function teamsWithValidation(teams: AtlasTeamsApi): AtlasTeamsApi {
  const checkMembership = (orgId: string, teamId: string, userId: string): void => {
    checkAtlasId(orgId, 'orgId');
    checkAtlasId(teamId, 'teamId');
    checkAtlasId(userId, 'userId');
  };
  return {
    async listTeams(orgId) {
      checkAtlasId(orgId, 'orgId');
      return teams.listTeams(orgId);
    },
    async projectTeams(groupId) {
      checkAtlasId(groupId, 'groupId');
      return teams.projectTeams(groupId);
    },
    async addMember(orgId, teamId, userId) {
      checkMembership(orgId, teamId, userId);
      return teams.addMember(orgId, teamId, userId);
    },
    async removeMember(orgId, teamId, userId) {
      checkMembership(orgId, teamId, userId);
      return teams.removeMember(orgId, teamId, userId);
    },
  };
}

/**
 * Wraps a flavor so nothing malformed reaches Atlas: ids are 24 hex, roles belong to the flavor and
 * scope, and no change leaves a user with zero roles in a scope.
 */
export function withValidation(flavor: AtlasApiFlavor, api: AtlasRolesApi): AtlasRolesApi {
  const checkRoles = (kind: AtlasScope['kind'], roles: readonly string[]): void => {
    const bad = invalidRoles(flavor, kind, roles);
    if (bad.length === 0) return;
    const accepted = rolesAcceptedBy(flavor, kind);
    throw new AppError(
      'ATLAS_INVALID_INPUT',
      `${bad.join(', ')} ${bad.length === 1 ? 'is not' : 'are not'} ${kind === 'org' ? 'an organization' : 'a project'} role of ${flavor}${accepted === 'open' ? '' : ` (accepted: ${accepted.join(', ')})`}.`,
    );
  };
  const membership = api.projectMembership;
  const single = api.singleRole;
  const checkChange = (scope: AtlasScope, userId: string, role: string): void => {
    checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
    checkAtlasId(userId, 'userId');
    checkRoles(scope.kind, [role]);
  };
  return {
    writeScope: api.writeScope,
    members: membersWithValidation(api.members),
    ...(api.teams ? { teams: teamsWithValidation(api.teams) } : {}),
    ...(membership
      ? {
          projectMembership: {
            async orgStatus(username, groupId) {
              checkAtlasId(groupId, 'groupId');
              return membership.orgStatus(username, groupId);
            },
            async addToProject(groupId, username, roles) {
              checkAtlasId(groupId, 'groupId');
              checkRoles('project', roles);
              if (roles.length === 0) {
                throw new AppError(
                  'ATLAS_INVALID_INPUT',
                  'Adding someone to a project needs at least one role.',
                );
              }
              return membership.addToProject(groupId, username, roles);
            },
            async removeFromProject(groupId, userId) {
              checkAtlasId(groupId, 'groupId');
              checkAtlasId(userId, 'userId');
              return membership.removeFromProject(groupId, userId);
            },
          },
        }
      : {}),
    ...(single
      ? {
          singleRole: {
            async addRole(scope, userId, role) {
              checkChange(scope, userId, role);
              return single.addRole(scope, userId, role);
            },
            async removeRole(scope, userId, role) {
              checkChange(scope, userId, role);
              return single.removeRole(scope, userId, role);
            },
          },
        }
      : {}),
    async readUser(username, scope) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      return api.readUser(username, scope);
    },
    async findMissing(scope, person) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      if (person.userId) checkAtlasId(person.userId, 'userId');
      return api.findMissing(scope, person);
    },
    async setRoles(scope, userId, current, next) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      checkAtlasId(userId, 'userId');
      checkRoles(scope.kind, next);
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
