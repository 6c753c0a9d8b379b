import { isTeamItem, teamItem } from '../lib/access-items.js';

/**
 * Who holds which project role through which team, worked out from two organization-wide reads made
 * once per review (not one read per person): the teams that have roles on the project, and the
 * organization's members with the teams they are in. Pure.
 */

/** A role someone holds on a project through a team they are in. */
export interface TeamHolding {
  readonly userId: string;
  /** Their Atlas username (an email), lower case. */
  readonly username: string;
  readonly role: string;
  /** The team as an item (`team:NAME`), as the client names it. */
  readonly team: string;
}

/** A team's roles on the project (listGroupTeams). */
export interface ProjectTeamRoles {
  readonly teamId: string;
  readonly roles: readonly string[];
}

/**
 * An organization member as the client lists them: roles followed by one `team:` item per team id,
 * in the order of `teamIds` (atlas/team-memberships.ts names the teams that way).
 */
export interface OrgMemberWithTeams {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly string[];
  readonly teamIds?: readonly string[];
}

/** The item of each team a member is in, by team id; `team:<id>` where the items do not line up. */
function itemsByTeamId(member: OrgMemberWithTeams): Map<string, string> {
  const ids = member.teamIds ?? [];
  const items = member.roles.filter(isTeamItem);
  const aligned = items.length === ids.length;
  return new Map(ids.map((id, i) => [id, (aligned ? items[i] : undefined) ?? teamItem(id)]));
}

/** Every (person, role, team) where a team with roles on the project has the person as a member. */
export function holdingsThroughTeams(
  projectTeams: readonly ProjectTeamRoles[],
  orgMembers: readonly OrgMemberWithTeams[],
): TeamHolding[] {
  const giving = projectTeams.filter((t) => t.roles.length > 0);
  const holdings: TeamHolding[] = [];
  for (const member of orgMembers) {
    const items = itemsByTeamId(member);
    for (const team of giving) {
      const item = items.get(team.teamId);
      if (item === undefined) continue;
      for (const role of new Set(team.roles)) {
        holdings.push({ userId: member.userId, username: member.username.toLowerCase(), role, team: item });
      }
    }
  }
  return holdings;
}
