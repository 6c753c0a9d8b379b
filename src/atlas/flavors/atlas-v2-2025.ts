import { AppError, isAppError } from '../../errors.js';
import type { AtlasScope } from '../../lib/scope.js';
import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi, RoleChange, ScopedUser } from '../roles-api.js';
import { ATLAS_V2_TARGETS, createFindMissing, userById } from './existence.js';
import { createAtlasV2MembersApi, type MembersOptions } from './members.js';
import { createProjectMembershipApi, createProjectOrgLookup } from './project-membership.js';
import { ATLAS_V2_2025, teamIdsFor } from './shared.js';
import { createTeamsV2Api } from './teams-v2.js';

interface OrgUser {
  readonly id: string;
  readonly username: string;
  readonly roles?: { readonly orgRoles?: readonly string[] };
  /** The teams of this organization the person is in (spec `OrgUserResponse.teamIds`). */
  readonly teamIds?: readonly string[];
}

interface GroupUser {
  readonly id: string;
  readonly roles?: readonly string[];
}

/**
 * `atlas-v2-2025`: the current v2 user endpoints. Reads a person seen for the first time with one
 * list call filtered by username (`GET /groups/{groupId}/users?username=` or the org's), which gives
 * the id and the roles; after that by id (`GET …/users/{userId}`). Changes one role with one
 * `:addRole` / `:removeRole` call, answered with the roles after it (`singleRole`); `setRoles` adds
 * first, then removes, so the user never has zero roles. Members: listOrgUsers / listGroupUsers, removeGroupUser,
 * removeOrgUser (members.ts). Teams: teams-v2.ts; an organization read carries the person's `teamIds`.
 */
export function createAtlasV2025RolesApi(http: AtlasHttp, options: MembersOptions = {}): AtlasRolesApi {
  const projectOrg = createProjectOrgLookup(http);
  const userIds = new Map<string, string>();

  const orgOf = (scope: AtlasScope): Promise<string> =>
    scope.kind === 'org' ? Promise.resolve(scope.id) : projectOrg(scope.id);

  /** One :addRole / :removeRole; a 409 (already held, or no longer held) is `changed: false`. */
  const change = async (
    scope: AtlasScope,
    userId: string,
    verb: 'addRole' | 'removeRole',
    role: string,
  ): Promise<RoleChange> => {
    const segment = scope.kind === 'org' ? 'orgs' : 'groups';
    try {
      const { body } = await http.send<OrgUser | GroupUser | undefined>({
        method: 'POST',
        path: `/api/atlas/v2/${segment}/${scope.id}/users/${userId}:${verb}`,
        body: scope.kind === 'org' ? { orgRole: role } : { groupRole: role },
        mediaType: ATLAS_V2_2025,
        operation: `${verb === 'addRole' ? 'adding' : 'removing'} ${role}`,
        requiredRole: scope.kind === 'org' ? 'Organization Owner' : 'Project Access Manager',
      });
      return { changed: true, roles: body === undefined ? null : rolesOf(scope, body) };
    } catch (error) {
      // A retried :addRole whose first try landed, or a role someone removed meanwhile: already done.
      if (isAppError(error) && error.details.status === 409)
        return { changed: false, afterLostAnswer: error.details.afterLostAnswer === true };
      throw error;
    }
  };

  /** The roles of an OrgUserResponse (org scope) or GroupUserResponse (project scope). */
  const rolesOf = (scope: AtlasScope, user: OrgUser | GroupUser): string[] =>
    scope.kind === 'org'
      ? [...((user as OrgUser).roles?.orgRoles ?? [])]
      : [...((user as GroupUser).roles ?? [])];

  /** A username not seen before: one list call with `?username=` gives the id and the roles. */
  const lookUp = async (username: string, scope: AtlasScope): Promise<ScopedUser | null> => {
    const segment = scope.kind === 'org' ? 'orgs' : 'groups';
    const { body } = await http.send<{ results?: readonly (OrgUser & GroupUser)[] }>({
      method: 'GET',
      path: `/api/atlas/v2/${segment}/${scope.id}/users`,
      query: { username },
      mediaType: ATLAS_V2_2025,
      operation: `looking up the Atlas user ${username}`,
      requiredRole: scope.kind === 'org' ? 'Organization Member' : 'Project Read Only',
    });
    const user = body.results?.find((u) => u.username.toLowerCase() === username.toLowerCase());
    return user ? { userId: user.id, roles: rolesOf(scope, user), ...teamIdsFor(scope, user.teamIds) } : null;
  };

  return {
    writeScope: 'scope',
    projectMembership: createProjectMembershipApi(http, projectOrg),
    members: createAtlasV2MembersApi(http, options),
    teams: createTeamsV2Api(http, options),
    // The account by id (getOrgUser): listOrgUsers `?username=` cannot tell deleted from gone elsewhere.
    findMissing: createFindMissing(http, ATLAS_V2_TARGETS, userById(http, orgOf)),
    async readUser(username, scope): Promise<ScopedUser> {
      const cacheKey = username.toLowerCase();
      const known = userIds.get(cacheKey);
      if (known === undefined) {
        // One call: the list filtered by username answers with the id and the roles in the scope.
        const found = await lookUp(username, scope);
        if (found) {
          userIds.set(cacheKey, found.userId);
          return found;
        }
        // Not in the project: their id, from the organization that owns it.
        const orgId = await orgOf(scope);
        const member = scope.kind === 'project' ? await lookUp(username, { kind: 'org', id: orgId }) : null;
        if (!member) {
          throw new AppError(
            'ATLAS_NOT_A_MEMBER',
            `${username} is not a member of the Atlas organization ${orgId}; invite them first.`,
          );
        }
        // An Atlas account's id is the same in every organization and project.
        userIds.set(cacheKey, member.userId);
        return { userId: member.userId, roles: [] };
      }
      try {
        const segment = scope.kind === 'org' ? 'orgs' : 'groups';
        const { body } = await http.send<OrgUser | GroupUser>({
          method: 'GET',
          path: `/api/atlas/v2/${segment}/${scope.id}/users/${known}`,
          mediaType: ATLAS_V2_2025,
          operation: `reading the ${scope.kind === 'org' ? 'organization' : 'project'} roles of ${username}`,
          requiredRole: scope.kind === 'org' ? 'Organization Member' : 'Project Read Only',
        });
        return {
          userId: known,
          roles: rolesOf(scope, body),
          ...teamIdsFor(scope, (body as OrgUser).teamIds),
        };
      } catch (error) {
        // A remembered id of an account deleted since: look the username up again next time.
        if (isAppError(error, 'ATLAS_USER_NOT_FOUND')) userIds.delete(cacheKey);
        if (scope.kind === 'project' && isAppError(error, 'ATLAS_NOT_A_MEMBER'))
          return { userId: known, roles: [] };
        throw error;
      }
    },

    singleRole: {
      addRole: (scope, userId, role) => change(scope, userId, 'addRole', role),
      removeRole: (scope, userId, role) => change(scope, userId, 'removeRole', role),
    },

    async setRoles(scope, userId, current, next) {
      // Additions first, so the user never has zero roles.
      for (const role of next.filter((r) => !current.includes(r)))
        await change(scope, userId, 'addRole', role);
      for (const role of current.filter((r) => !next.includes(r)))
        await change(scope, userId, 'removeRole', role);
    },
  };
}
