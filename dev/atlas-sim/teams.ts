import type { SimAnswer, SimModule, SimModuleContext, SimRoute } from './module.js';

/** A team of an organization in the simulated Atlas. */
export interface SimulatedTeam {
  /** 24 hex; generated when absent. */
  readonly id?: string;
  readonly name: string;
  readonly orgId: string;
  /** Usernames of its members: active members of `orgId`, or people with a pending invitation to it. */
  readonly members?: readonly string[];
  /** The roles the team has on projects of `orgId`, per groupId. */
  readonly projectRoles?: Readonly<Record<string, readonly string[]>>;
}

/** One moment in a person's membership of a team: whether they were in it from `at` on. */
export interface TeamMembershipChange {
  readonly at: number;
  readonly member: boolean;
}

/** What the teams module needs of the core simulator beyond {@link SimModuleContext}. */
export interface TeamsSimHooks {
  /** The 2025-02-19 `OrgUserResponse` of an active member or an invitee of the organization. */
  orgUserOf(userId: string, orgId: string): unknown;
  /** The `CloudAppUser` of an active account (the v1.0 answers). */
  cloudAppUserOf(userId: string): unknown;
  /** An invitation not accepted (yet), by its id. */
  invitationOf(
    id: string,
  ): { readonly username: string; readonly orgId: string; readonly status: string } | undefined;
  /** The invitation of `username` to `orgId`, if any. */
  invitationFor(username: string, orgId: string): { readonly id: string } | undefined;
}

/** The teams module: its routes and buckets, what the core asks of it, and its controls. */
export interface TeamsSimModule extends SimModule {
  /** The teams a person (account or invitation id) is in: of one organization, or of all. */
  teamIdsOf(userId: string, orgId?: string): string[];
  /** The person left the organization (removed, deleted, invitation taken back): out of its teams. */
  leaveOrg(userId: string, orgId: string): void;
  /** The organization was deleted: its teams with it. */
  dropOrg(orgId: string): void;
  /** The usernames in the team, sorted. */
  teamMembers(teamId: string): string[];
  /** Sets the team's members by hand, as an owner would in the Atlas UI. */
  setTeamMembers(teamId: string, usernames: readonly string[]): void;
  /** Renames a team, as an owner would in the Atlas UI (renameOrgTeam): its id and members stay. */
  renameTeam(teamId: string, name: string): void;
  /** Every state of a person's membership of the team, start state first. */
  teamTimeline(teamId: string, username: string): TeamMembershipChange[];
}

interface TeamState {
  readonly id: string;
  name: string;
  readonly orgId: string;
  readonly members: Set<string>;
  readonly projectRoles: Map<string, string[]>;
}

const V2_2023 = 'application/vnd.atlas.2023-01-01+json';
const V2_2025 = 'application/vnd.atlas.2025-02-19+json';
const JSON_TYPE = 'application/json';
/** "You can assign up to 250 MongoDB Cloud users from one organization to one team" (spec addOrgTeamUsers). */
const MAX_USERS_PER_TEAM = 250;
const ID = /^[a-f0-9]{24}$/;

/**
 * Teams of the simulated Atlas, per the official spec (2026-08-21) and the v1.0 references: listOrgTeams
 * (`PaginatedTeamView` of `TeamResponse`), listGroupTeams (`PaginatedTeamRoleView` of `TeamRole`),
 * addOrgTeamUser / removeOrgTeamUser (`AddOrRemoveUserFromTeam` in, `OrgUserResponse` out; active and
 * pending members), and the v1.0 team calls of Atlas v1.0, Cloud Manager and Ops Manager. Errors in the
 * core's ApiError body, with the api-errors catalogue's codes (mongodb/docs
 * content/atlas/source/reference/api-errors.txt): 404 TEAM_NOT_FOUND "No team with ID %s exists.", 404
 * TEAM_NOT_IN_ORG "Team %s is not in Organization %s.", 404 USER_NOT_IN_ORG "User %s is not in
 * organization %s." (the spec's addOrgTeamUser text names it for expired and rejected invitations too),
 * 404 USER_NOT_FOUND, 404 CANNOT_ADD_PENDING_USER (v1.0, which takes no pending user), 409
 * USER_ALREADY_IN_TEAM "The user with ID %s in team %s already exists.", 400
 * MAX_USERS_PER_TEAM_EXCEEDED. Removing someone who is not in the team is not documented: the
 * simulator answers 404 RESOURCE_NOT_FOUND "Cannot find resource %s." (the spec's own 404 example;
 * unverified against Atlas).
 */
export function createTeamsModule(
  context: SimModuleContext,
  hooks: TeamsSimHooks,
  seeds: readonly SimulatedTeam[],
): TeamsSimModule {
  const teams = new Map<string, TeamState>();
  const startedAt = Date.now();
  const initial = new Map<string, Set<string>>();
  const changes: { teamId: string; userId: string; at: number; member: boolean }[] = [];
  // Every person ever in a team, by lower-case username: timelines stay readable after deletions.
  const idsByName = new Map<string, string>();
  const nameOf = (id: string): string | undefined =>
    context.userById(id)?.username ?? hooks.invitationOf(id)?.username;

  /** An active member of the organization, or a pending invitee of it, by username: their id. */
  const personIn = (username: string, orgId: string): string | undefined => {
    const user = context.userByUsername(username);
    if (user && context.isMember(user.id, { kind: 'org', id: orgId })) return user.id;
    const invitation = hooks.invitationFor(username, orgId);
    return invitation && hooks.invitationOf(invitation.id)?.status === 'PENDING' ? invitation.id : undefined;
  };

  /** The one place memberships change: keeps the timeline. */
  const setMember = (team: TeamState, userId: string, member: boolean): void => {
    if (team.members.has(userId) === member) return;
    if (member) team.members.add(userId);
    else team.members.delete(userId);
    const name = nameOf(userId);
    if (name !== undefined) idsByName.set(name.toLowerCase(), userId);
    changes.push({ teamId: team.id, userId, at: Date.now(), member });
  };

  for (const seed of seeds) {
    let id = seed.id;
    while (id === undefined || teams.has(id)) id = context.newId('7e');
    const members = (seed.members ?? []).map((username) => {
      const found = personIn(username, seed.orgId);
      if (found === undefined) throw new Error(`team ${seed.name}: ${username} is not in ${seed.orgId}`);
      idsByName.set(username.toLowerCase(), found);
      return found;
    });
    teams.set(id, {
      id,
      name: seed.name,
      orgId: seed.orgId,
      members: new Set(members),
      projectRoles: new Map(Object.entries(seed.projectRoles ?? {}).map(([g, roles]) => [g, [...roles]])),
    });
    initial.set(id, new Set(members));
  }

  /** 404 for an organization that is not there, a team that is not, or a team of another organization. */
  const teamIn = (orgId: string, teamId: string): TeamState | SimAnswer => {
    const missing = context.scopeMissing({ kind: 'org', id: orgId });
    if (missing) return missing;
    const team = teams.get(teamId);
    if (!team) return context.error(404, 'TEAM_NOT_FOUND', `No team with ID ${teamId} exists.`, [teamId]);
    if (team.orgId !== orgId) {
      return context.error(404, 'TEAM_NOT_IN_ORG', `Team ${teamId} is not in Organization ${orgId}.`, [
        teamId,
        orgId,
      ]);
    }
    return team;
  };
  const isAnswer = (value: TeamState | SimAnswer): value is SimAnswer => !('members' in value);

  /** A person a team call names, checked as Atlas does: an account or invitation of the organization. */
  const personCheck = (orgId: string, userId: string, pendingAllowed: boolean): SimAnswer | undefined => {
    const notInOrg = () =>
      context.error(404, 'USER_NOT_IN_ORG', `User ${userId} is not in organization ${orgId}.`, [
        userId,
        orgId,
      ]);
    const invitation = hooks.invitationOf(userId);
    if (invitation) {
      if (invitation.orgId !== orgId || invitation.status !== 'PENDING') return notInOrg();
      return pendingAllowed
        ? undefined
        : context.error(
            404,
            'CANNOT_ADD_PENDING_USER',
            'The user cannot be added to any group or teams in this organization as it is a pending user/the user has not accepted the invite to this organization.',
          );
    }
    if (!context.userById(userId))
      return context.error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);
    return context.isMember(userId, { kind: 'org', id: orgId }) ? undefined : notInOrg();
  };

  /** Adds or removes one person; undefined when done, else Atlas's refusal. */
  const change = (team: TeamState, userId: string, add: boolean, pendingAllowed: boolean) => {
    const refused = personCheck(team.orgId, userId, pendingAllowed);
    if (refused) return refused;
    if (add && team.members.has(userId)) {
      return context.error(
        409,
        'USER_ALREADY_IN_TEAM',
        `The user with ID ${userId} in team ${team.id} already exists.`,
        [userId, team.id],
      );
    }
    if (add && team.members.size >= MAX_USERS_PER_TEAM) {
      return context.error(
        400,
        'MAX_USERS_PER_TEAM_EXCEEDED',
        `Maximum number of users per team ${MAX_USERS_PER_TEAM} in ${team.id} exceeded while trying to add users.`,
        [MAX_USERS_PER_TEAM, team.id],
      );
    }
    if (!add && !team.members.has(userId)) {
      // Undocumented (see the module's comment): the spec's generic 404.
      const resource = `/orgs/${team.orgId}/teams/${team.id}/users/${userId}`;
      return context.error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${resource}.`, [resource]);
    }
    setMember(team, userId, add);
    return undefined;
  };

  /** The body of :addUser / :removeUser: `AddOrRemoveUserFromTeam` `{id}` and nothing else. */
  const idOf = (body: unknown): string | SimAnswer => {
    const record = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<
      string,
      unknown
    >;
    const extra = Object.keys(record).find((k) => k !== 'id');
    if (extra !== undefined)
      return context.error(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${extra} specified.`, [extra]);
    if (typeof record.id !== 'string')
      return context.error(400, 'MISSING_ATTRIBUTE', 'The required attribute id was not specified.', ['id']);
    if (!ID.test(record.id)) {
      return context.error(
        400,
        'VALIDATION_ERROR',
        'The request content produced the validation error: id must match ^([a-f0-9]{24})$.',
        ['id'],
      );
    }
    return record.id;
  };

  const orgTeams = (orgId: string, path: string, query: URLSearchParams): SimAnswer => {
    const missing = context.scopeMissing({ kind: 'org', id: orgId });
    if (missing) return missing;
    const items = [...teams.values()]
      .filter((t) => t.orgId === orgId)
      .map((t) => ({ id: t.id, name: t.name, links: [] }));
    return context.page(items, path, query);
  };

  const projectTeams = (groupId: string, path: string, query: URLSearchParams): SimAnswer => {
    const missing = context.scopeMissing({ kind: 'project', id: groupId });
    if (missing) return missing;
    const items = [...teams.values()]
      .filter((t) => (t.projectRoles.get(groupId)?.length ?? 0) > 0)
      .map((t) => ({ teamId: t.id, roleNames: [...(t.projectRoles.get(groupId) ?? [])], links: [] }));
    return context.page(items, path, query);
  };

  /** The team's active members as v1.0 user documents (pending ones have no such document). */
  const activeMembers = (team: TeamState) =>
    [...team.members].filter((id) => context.userById(id)).map((id) => hooks.cloudAppUserOf(id));

  const routes: SimRoute[] = [
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/teams$/,
      mediaType: V2_2023,
      handle: (m, _body, query) => orgTeams(m[1] as string, m[0], query),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/teams$/,
      mediaType: V2_2023,
      handle: (m, _body, query) => projectTeams(m[1] as string, m[0], query),
    },
    {
      method: 'POST',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/teams\/([^/:]+):(addUser|removeUser)$/,
      mediaType: V2_2025,
      handle: (m, body) => {
        const orgId = m[1] as string;
        const team = teamIn(orgId, m[2] as string);
        if (isAnswer(team)) return team;
        const userId = idOf(body);
        if (typeof userId !== 'string') return userId;
        const refused = change(team, userId, m[3] === 'addUser', true);
        return refused ?? { status: 200, body: hooks.orgUserOf(userId, orgId) };
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/orgs\/([^/]+)\/teams$/,
      mediaType: JSON_TYPE,
      handle: (m, _body, query) => orgTeams(m[1] as string, m[0], query),
    },
    {
      method: 'GET',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/groups\/([^/]+)\/teams$/,
      mediaType: JSON_TYPE,
      handle: (m, _body, query) => projectTeams(m[1] as string, m[0], query),
    },
    {
      // "Get All Users Assigned to a Team".
      method: 'GET',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/orgs\/([^/]+)\/teams\/([^/]+)\/users$/,
      mediaType: JSON_TYPE,
      handle: (m, _body, query) => {
        const team = teamIn(m[1] as string, m[2] as string);
        return isAnswer(team) ? team : context.page(activeMembers(team), m[0], query);
      },
    },
    {
      // "Add Users to Team": an array of `{id}`; answered with the team's users.
      method: 'POST',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/orgs\/([^/]+)\/teams\/([^/]+)\/users$/,
      mediaType: JSON_TYPE,
      handle: (m, body, query) => {
        const team = teamIn(m[1] as string, m[2] as string);
        if (isAnswer(team)) return team;
        if (!Array.isArray(body) || body.length === 0)
          return context.error(400, 'INVALID_JSON', 'Received JSON does not match expected format.');
        const ids: string[] = [];
        for (const entry of body) {
          const id = idOf(entry);
          if (typeof id !== 'string') return id;
          ids.push(id);
        }
        for (const id of ids) {
          const refused = change(team, id, true, false);
          if (refused) return refused;
        }
        return context.page(activeMembers(team), m[0], query);
      },
    },
    {
      // "Remove a User from a Team": no response body.
      method: 'DELETE',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/orgs\/([^/]+)\/teams\/([^/]+)\/users\/([^/]+)$/,
      mediaType: JSON_TYPE,
      handle: (m) => {
        const team = teamIn(m[1] as string, m[2] as string);
        if (isAnswer(team)) return team;
        return change(team, m[3] as string, false, false) ?? { status: 204 };
      },
    },
  ];

  const teamOf = (teamId: string): TeamState => {
    const team = teams.get(teamId);
    if (!team) throw new Error(`no simulated team ${teamId}`);
    return team;
  };

  return {
    routes,
    // The Teams endpoint set counts per organization (NOTES.md section 9); a project's teams per project.
    buckets: [
      { pattern: /\/orgs\/([^/:]+)\/teams/, scope: 'org' },
      { pattern: /\/groups\/([^/:]+)\/teams/, scope: 'project' },
    ],
    teamIdsOf: (userId, orgId) =>
      [...teams.values()]
        .filter((t) => t.members.has(userId) && (orgId === undefined || t.orgId === orgId))
        .map((t) => t.id),
    leaveOrg(userId, orgId) {
      for (const team of teams.values()) if (team.orgId === orgId) setMember(team, userId, false);
    },
    dropOrg(orgId) {
      for (const team of [...teams.values()].filter((t) => t.orgId === orgId)) {
        for (const userId of [...team.members]) setMember(team, userId, false);
        teams.delete(team.id);
      }
    },
    teamMembers: (teamId) =>
      [...teamOf(teamId).members]
        .map((id) => nameOf(id))
        .filter((name): name is string => name !== undefined)
        .sort(),
    renameTeam(teamId, name) {
      teamOf(teamId).name = name;
    },
    setTeamMembers(teamId, usernames) {
      const team = teamOf(teamId);
      const next = new Set(
        usernames.map((username) => {
          const id = personIn(username, team.orgId);
          if (id === undefined) throw new Error(`${username} is not in the organization ${team.orgId}`);
          return id;
        }),
      );
      for (const id of [...team.members]) if (!next.has(id)) setMember(team, id, false);
      for (const id of next) setMember(team, id, true);
    },
    teamTimeline(teamId, username) {
      const id = idsByName.get(username.toLowerCase()) ?? context.userByUsername(username)?.id;
      if (id === undefined) return [];
      const start = initial.get(teamId)?.has(id) ?? false;
      return [
        { at: startedAt, member: start },
        ...changes
          .filter((c) => c.teamId === teamId && c.userId === id)
          .map(({ at, member }) => ({ at, member })),
      ];
    },
  };
}
