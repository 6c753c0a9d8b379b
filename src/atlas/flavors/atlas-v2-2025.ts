import { AppError, isAppError } from '../../errors.js';
import type { AtlasScope } from '../../lib/scope.js';
import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, ScopedUser } from '../roles-api.js';
import { ATLAS_V2_TARGETS, createFindMissing, userById } from './existence.js';
import { createAtlasV2MembersApi, type MembersOptions } from './members.js';
import { createProjectMembershipApi, createProjectOrgLookup } from './project-membership.js';
import { ATLAS_V2_2025 } from './shared.js';

interface OrgUser {
  readonly id: string;
  readonly username: string;
  readonly roles?: { readonly orgRoles?: readonly string[] };
}

interface GroupUser {
  readonly id: string;
  readonly roles?: readonly string[];
}

/**
 * `atlas-v2-2025`: the current v2 user endpoints. Resolves the user with
 * `GET /orgs/{orgId}/users?username=`, reads roles with `GET /orgs/{orgId}/users/{userId}` or
 * `GET /groups/{groupId}/users/{userId}`, and changes them with `:addRole` calls first, then
 * `:removeRole`, so the user never has zero roles. Members: listOrgUsers / listGroupUsers, removeGroupUser,
 * removeOrgUser (members.ts).
 */
export function createAtlasV2025RolesApi(http: AtlasHttp, options: MembersOptions = {}): AtlasRolesApi {
  const projectOrg = createProjectOrgLookup(http);
  const userIds = new Map<string, string>();

  const orgOf = (scope: AtlasScope): Promise<string> =>
    scope.kind === 'org' ? Promise.resolve(scope.id) : projectOrg(scope.id);

  const resolve = async (orgId: string, username: string): Promise<string> => {
    const key = `${orgId}/${username.toLowerCase()}`;
    const known = userIds.get(key);
    if (known) return known;
    const { body } = await http.send<{ results?: readonly OrgUser[] }>({
      method: 'GET',
      path: `/api/atlas/v2/orgs/${orgId}/users`,
      query: { username },
      mediaType: ATLAS_V2_2025,
      operation: `looking up the Atlas user ${username}`,
      requiredRole: 'Organization Member',
    });
    const user = body.results?.find((u) => u.username.toLowerCase() === username.toLowerCase());
    if (!user) {
      throw new AppError(
        'ATLAS_NOT_A_MEMBER',
        `${username} is not a member of the Atlas organization ${orgId}; invite them first.`,
      );
    }
    userIds.set(key, user.id);
    return user.id;
  };

  const change = async (scope: AtlasScope, userId: string, verb: 'addRole' | 'removeRole', role: string) => {
    const segment = scope.kind === 'org' ? 'orgs' : 'groups';
    try {
      await http.send({
        method: 'POST',
        path: `/api/atlas/v2/${segment}/${scope.id}/users/${userId}:${verb}`,
        body: scope.kind === 'org' ? { orgRole: role } : { groupRole: role },
        mediaType: ATLAS_V2_2025,
        operation: `${verb === 'addRole' ? 'adding' : 'removing'} ${role}`,
        requiredRole: scope.kind === 'org' ? 'Organization Owner' : 'Project Access Manager',
      });
    } catch (error) {
      // A retried :addRole whose first try landed, or a role someone removed meanwhile: already done.
      if (isAppError(error) && error.details.status === 409) return;
      throw error;
    }
  };

  return {
    writeScope: 'scope',
    projectMembership: createProjectMembershipApi(http, projectOrg),
    members: createAtlasV2MembersApi(http, options),
    // The account by id (getOrgUser): listOrgUsers `?username=` cannot tell deleted from gone elsewhere.
    findMissing: createFindMissing(http, ATLAS_V2_TARGETS, userById(http, orgOf)),
    async readUser(username, scope): Promise<ScopedUser> {
      const orgId = await orgOf(scope);
      const userId = await resolve(orgId, username);
      try {
        if (scope.kind === 'org') {
          const { body } = await http.send<OrgUser>({
            method: 'GET',
            path: `/api/atlas/v2/orgs/${orgId}/users/${userId}`,
            mediaType: ATLAS_V2_2025,
            operation: `reading the organization roles of ${username}`,
            requiredRole: 'Organization Member',
          });
          return { userId, roles: [...(body.roles?.orgRoles ?? [])] };
        }
        const { body } = await http.send<GroupUser>({
          method: 'GET',
          path: `/api/atlas/v2/groups/${scope.id}/users/${userId}`,
          mediaType: ATLAS_V2_2025,
          operation: `reading the project roles of ${username}`,
          requiredRole: 'Project Read Only',
        });
        return { userId, roles: [...(body.roles ?? [])] };
      } catch (error) {
        // A remembered id of an account deleted since: look the username up again next time.
        if (isAppError(error, 'ATLAS_USER_NOT_FOUND')) userIds.delete(`${orgId}/${username.toLowerCase()}`);
        if (scope.kind === 'project' && isAppError(error, 'ATLAS_NOT_A_MEMBER')) return { userId, roles: [] };
        throw error;
      }
    },

    async setRoles(scope, userId, current, next) {
      for (const role of next.filter((r) => !current.includes(r)))
        await change(scope, userId, 'addRole', role);
      for (const role of current.filter((r) => !next.includes(r)))
        await change(scope, userId, 'removeRole', role);
    },
  };
}
