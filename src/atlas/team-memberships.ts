import { AppError, isAppError } from '../errors.js';
import {
  isTeamItem,
  type RoleThroughTeam,
  rolesAmong,
  TEAM_NAME,
  type TeamProjectAccess,
  teamItem,
  teamOfItem,
} from '../lib/access-items.js';
import { ATLAS_ID } from '../lib/patterns.js';
import type { AtlasScope } from '../lib/scope.js';
import type { AtlasRolesApi, RoleChange, ScopedUser, ScopeMember } from './roles-api.js';
import type { AtlasTeamsApi, OrgTeam } from './teams-api.js';

/** Dependencies of {@link withTeamMemberships}. */
export interface TeamMembershipOptions {
  readonly teams: AtlasTeamsApi;
  /** The organization that owns a project (cached by the caller's lookup). */
  readonly orgOfProject: (groupId: string) => Promise<string>;
  /**
   * The teams the policy names by 24-hex id: their items are `team:<id>`; every other team's item is
   * `team:<name>`, as the policy writes it.
   * @defaultValue nothing named by id
   */
  readonly namedById?: () => ReadonlySet<string>;
  /**
   * The team names the policy writes, in its spelling: Atlas team names compare without letter case,
   * so a team read back is `team:<the policy's spelling>` and matches the item it was granted as.
   * @defaultValue none (Atlas's spelling)
   */
  readonly namedByName?: () => readonly string[];
  /**
   * How long an organization's team list and a project's teams are used before they are read again.
   * @defaultValue 300_000
   */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

/**
 * Makes an organization's team memberships part of a person's access there, as `team:NAME` items
 * beside their roles (lib/access-items.ts): a read of an org member lists the teams they are in (from
 * the ids the same answer carries), and a write that adds or removes an item joins or leaves the team.
 * The ledger, plans, overlaps and revocations then treat a team like a role. Reads of a project also
 * offer the roles a person holds there through teams (`rolesThroughTeams`), which are never theirs to
 * remove one by one.
 */
export function withTeamMemberships(inner: AtlasRolesApi, options: TeamMembershipOptions): AtlasRolesApi {
  const { teams } = options;
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 300_000;
  /** A read kept per key for cacheMs, one at a time; a failed read is not kept (`fresh` reads again now). */
  const cachedReads = <T>(read: (key: string) => Promise<T>) => {
    const kept = new Map<string, { at: number; value: Promise<T> }>();
    return (key: string, fresh = false): Promise<T> => {
      const cached = kept.get(key);
      if (cached && !fresh && now() - cached.at < cacheMs) return cached.value;
      const value = read(key);
      kept.set(key, { at: now(), value });
      value.catch(() => kept.delete(key));
      return value;
    };
  };
  /** The organization's teams, read at most once per cacheMs (or again at once when `fresh`). */
  const directory = cachedReads((orgId) => teams.listTeams(orgId));
  /** The teams with roles on a project, read at most once per cacheMs. */
  const projectTeams = cachedReads((groupId) => teams.projectTeams(groupId));

  const itemOf = (team: OrgTeam): string => {
    if ((options.namedById?.().has(team.id) ?? false) || !TEAM_NAME.test(team.name)) return teamItem(team.id);
    const lower = team.name.toLowerCase();
    return teamItem(options.namedByName?.().find((name) => name.toLowerCase() === lower) ?? team.name);
  };

  /** The items of the teams with these ids; an id the list does not know yet reads it again once. */
  const itemsOf = async (orgId: string, teamIds: readonly string[]): Promise<string[]> => {
    if (teamIds.length === 0) return [];
    let list = await directory(orgId);
    if (teamIds.some((id) => !list.some((t) => t.id === id))) list = await directory(orgId, true);
    return teamIds.map((id) => {
      const team = list.find((t) => t.id === id);
      return team ? itemOf(team) : teamItem(id);
    });
  };

  // The id each item was resolved to in this process: a team renamed in Atlas since is still found.
  const resolved = new Map<string, string>();

  /** The Atlas team id of an item: its id, the id it had, or its name looked up (read again once when unknown). */
  const teamIdOf = async (orgId: string, item: string): Promise<string> => {
    const named = teamOfItem(item) ?? '';
    if (ATLAS_ID.test(named)) return named;
    const known = resolved.get(`${orgId}|${item}`);
    if (known !== undefined) return known;
    const find = (list: readonly OrgTeam[]) =>
      list.find((t) => t.name === named) ?? list.find((t) => t.name.toLowerCase() === named.toLowerCase());
    const found = find(await directory(orgId)) ?? find(await directory(orgId, true));
    if (!found) {
      throw new AppError(
        'ATLAS_REJECTED',
        `The Atlas organization ${orgId} has no team named ${named}: it may have been renamed or deleted. Fix the policy's teams: (or name the team by its 24-hex id).`,
      );
    }
    resolved.set(`${orgId}|${item}`, found.id);
    return found.id;
  };

  const withItems = async <
    T extends { readonly roles: readonly string[]; readonly teamIds?: readonly string[] },
  >(
    scope: AtlasScope,
    read: T,
  ): Promise<T> => {
    if (scope.kind !== 'org' || read.teamIds === undefined || read.teamIds.length === 0) return read;
    const items = await itemsOf(scope.id, read.teamIds);
    // A team this process joined someone to under another name (renamed since): still that item.
    for (const [key, id] of resolved) {
      const [orgId, item = ''] = key.split('|');
      if (orgId === scope.id && read.teamIds.includes(id) && !items.includes(item)) items.push(item);
    }
    return { ...read, roles: [...read.roles, ...items] };
  };

  const refuseProjectTeams = (scope: AtlasScope, items: readonly string[]): void => {
    if (scope.kind === 'project' && items.some(isTeamItem)) {
      throw new AppError('ROLE_INVALID', 'Teams belong to an organization: ask for them on the org target.');
    }
  };

  const joinOrLeave = async (
    scope: AtlasScope,
    userId: string,
    item: string,
    verb: 'addMember' | 'removeMember',
  ): Promise<RoleChange> => {
    refuseProjectTeams(scope, [item]);
    const answer = await teams[verb](scope.id, await teamIdOf(scope.id, item), userId);
    return answer.changed ? { changed: true, roles: null } : answer;
  };

  const single = inner.singleRole;
  return {
    ...inner,
    teams,
    members: {
      ...inner.members,
      async listMembers(scope) {
        const members = await inner.members.listMembers(scope);
        return Promise.all(members.map((m): Promise<ScopeMember> => withItems(scope, m)));
      },
    },
    async readUser(username, scope): Promise<ScopedUser> {
      return withItems(scope, await inner.readUser(username, scope));
    },
    async setRoles(scope, userId, current, next) {
      refuseProjectTeams(scope, next);
      const roles = { current: rolesAmong(current), next: rolesAmong(next) };
      const joins = next.filter((i) => isTeamItem(i) && !current.includes(i));
      const leaves = current.filter((i) => isTeamItem(i) && !next.includes(i));
      // Joins first and leaves last, as roles are added before they are removed.
      for (const item of joins) await joinOrLeave(scope, userId, item, 'addMember');
      const sameRoles =
        roles.current.length === roles.next.length && roles.current.every((r) => roles.next.includes(r));
      if (!sameRoles) await inner.setRoles(scope, userId, roles.current, roles.next);
      for (const item of leaves) await joinOrLeave(scope, userId, item, 'removeMember');
    },
    ...(single
      ? {
          singleRole: {
            addRole: (scope, userId, role) =>
              isTeamItem(role)
                ? joinOrLeave(scope, userId, role, 'addMember')
                : single.addRole(scope, userId, role),
            removeRole: (scope, userId, role) =>
              isTeamItem(role)
                ? joinOrLeave(scope, userId, role, 'removeMember')
                : single.removeRole(scope, userId, role),
          },
        }
      : {}),
    async teamExists(orgId, item) {
      try {
        await teamIdOf(orgId, item);
        return true;
      } catch (error) {
        if (isAppError(error, 'ATLAS_REJECTED')) return false;
        throw error;
      }
    },
    async teamAccess(orgId, items, projects): Promise<TeamProjectAccess[]> {
      const ids = new Map<string, string>();
      for (const item of items.filter(isTeamItem)) {
        try {
          ids.set(item, await teamIdOf(orgId, item));
        } catch (error) {
          // A team the organization does not have gives nothing anywhere.
          if (!isAppError(error, 'ATLAS_REJECTED')) throw error;
        }
      }
      if (ids.size === 0) return [];
      const access: TeamProjectAccess[] = [];
      for (const project of projects) {
        const given = await projectTeams(project.id);
        for (const [item, id] of ids) {
          const roles = given.find((t) => t.teamId === id)?.roles ?? [];
          if (roles.length > 0) access.push({ team: item, project: project.name, roles });
        }
      }
      return access;
    },
    async rolesThroughTeams(username, groupId): Promise<RoleThroughTeam[]> {
      const withRoles = (await projectTeams(groupId)).filter((t) => t.roles.length > 0);
      // No team has roles here: nobody holds any through one, and nothing else needs reading.
      if (withRoles.length === 0) return [];
      const orgId = await options.orgOfProject(groupId);
      const person = await inner.readUser(username, { kind: 'org', id: orgId });
      const mine = withRoles.filter((t) => person.teamIds?.includes(t.teamId) ?? false);
      const items = await itemsOf(
        orgId,
        mine.map((t) => t.teamId),
      );
      return mine.flatMap((t, i) => t.roles.map((role) => ({ role, team: items[i] ?? teamItem(t.teamId) })));
    },
  };
}
