/** One team of an Atlas organization. */
export interface OrgTeam {
  /** 24 hex. */
  readonly id: string;
  readonly name: string;
}

/** The project roles one team has on one project (listGroupTeams). */
export interface TeamProjectRoles {
  readonly teamId: string;
  readonly roles: readonly string[];
}

/**
 * What one team-membership call did. `changed: false`: Atlas said the person was already in the team
 * (add) or no longer in it (remove); `afterLostAnswer` as in RoleChange: an earlier try of this very
 * call lost its answer, so "already" may be that try's own work.
 */
export type TeamChange =
  | { readonly changed: true }
  | { readonly changed: false; readonly afterLostAnswer: boolean };

/**
 * Teams of an organization and who is in them: what team grants and "roles through teams" need.
 * Every flavor has it: the 2025-02-19 `:addUser` / `:removeUser` calls on the Atlas v2 flavors, the
 * v1.0 team users calls on atlas-v1, Cloud Manager and Ops Manager. Every method throws AppError like
 * the rest of the client.
 */
export interface AtlasTeamsApi {
  /** Every team of the organization, reading every page. */
  listTeams(orgId: string): Promise<OrgTeam[]>;
  /** The teams that have roles on the project, with those roles. */
  projectTeams(groupId: string): Promise<TeamProjectRoles[]>;
  /** Adds the person (an active or pending organization member) to the team. */
  addMember(orgId: string, teamId: string, userId: string): Promise<TeamChange>;
  /** Removes the person from the team; not in it (any more) is `changed: false`, not an error. */
  removeMember(orgId: string, teamId: string, userId: string): Promise<TeamChange>;
}
