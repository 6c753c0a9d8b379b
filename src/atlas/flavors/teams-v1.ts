import type { AtlasHttp } from '../http-client.js';
import type { AtlasTeamsApi, TeamChange } from '../teams-api.js';
import type { MembersOptions } from './members.js';
import { readAllPages } from './paging.js';
import { settleTeamChange, type TeamMembershipCheck } from './teams-change.js';

/** What differs between the v1.0 APIs' team calls (legacy Atlas, Cloud Manager / Ops Manager). */
export interface TeamsV1Shape {
  /** `/api/atlas/v1.0` or `/api/public/v1.0`. */
  readonly base: string;
  /** The roles the key needs to read the organization's and the project's teams, and to change a team's members. */
  readonly readRole: { readonly org: string; readonly project: string };
  readonly writeRole: string;
}

/** One entry of "Get All Teams" (`results`: `id`, `name`, `links`). */
interface TeamEntry {
  readonly id: string;
  readonly name?: string;
}

/** One entry of "Get All Teams in One Project" (`results`: `teamId`, `roleNames`, `links`). */
interface TeamRoleEntry {
  readonly teamId: string;
  readonly roleNames?: readonly string[];
}

/**
 * Teams on a v1.0 API (JSON, `application/json`), as the Ops Manager / Cloud Manager references
 * document them (Teams: "Get All Teams", "Add Users to Team", "Remove a User from a Team", "Get All
 * Users Assigned to a Team"; Projects: "Get All Teams in One Project"; legacy Atlas v1.0 has the same
 * calls under /api/atlas/v1.0): `GET {base}/orgs/{ORG-ID}/teams`, `GET {base}/groups/{GROUP-ID}/teams`,
 * `POST {base}/orgs/{ORG-ID}/teams/{TEAM-ID}/users` with `[{"id": USER-ID}]`, and
 * `DELETE {base}/orgs/{ORG-ID}/teams/{TEAM-ID}/users/{USER-ID}` (no response body). A refused removal
 * reads the team's members (`GET …/teams/{TEAM-ID}/users`) to tell "not in it" apart (teams-change.ts).
 */
export function createTeamsV1Api(
  http: AtlasHttp,
  shape: TeamsV1Shape,
  options: MembersOptions = {},
): AtlasTeamsApi {
  const isMember: TeamMembershipCheck = async (orgId, teamId, userId) => {
    const members = await readAllPages<{ readonly id: string }>(
      http,
      {
        path: `${shape.base}/orgs/${orgId}/teams/${teamId}/users`,
        mediaType: 'application/json',
        operation: 'listing the members of the team',
        requiredRole: shape.readRole.org,
      },
      (user) => user.id,
      options.pageSize,
    );
    return members.some((user) => user.id === userId);
  };

  const settle = (error: unknown, add: boolean, orgId: string, teamId: string, userId: string) =>
    settleTeamChange(error, add, { orgId, teamId, userId }, isMember);

  return {
    async listTeams(orgId) {
      const teams = await readAllPages<TeamEntry>(
        http,
        {
          path: `${shape.base}/orgs/${orgId}/teams`,
          mediaType: 'application/json',
          operation: 'listing the teams of the organization',
          requiredRole: shape.readRole.org,
        },
        (team) => team.id,
        options.pageSize,
      );
      return teams.map((team) => ({ id: team.id, name: team.name ?? '' }));
    },

    async projectTeams(groupId) {
      const teams = await readAllPages<TeamRoleEntry>(
        http,
        {
          path: `${shape.base}/groups/${groupId}/teams`,
          mediaType: 'application/json',
          operation: 'listing the teams of the project',
          requiredRole: shape.readRole.project,
        },
        (team) => team.teamId,
        options.pageSize,
      );
      return teams.map((team) => ({ teamId: team.teamId, roles: [...new Set(team.roleNames ?? [])] }));
    },

    async addMember(orgId, teamId, userId): Promise<TeamChange> {
      try {
        await http.send({
          method: 'POST',
          path: `${shape.base}/orgs/${orgId}/teams/${teamId}/users`,
          body: [{ id: userId }],
          mediaType: 'application/json',
          operation: 'adding the user to the team',
          requiredRole: shape.writeRole,
        });
        return { changed: true };
      } catch (error) {
        return settle(error, true, orgId, teamId, userId);
      }
    },

    async removeMember(orgId, teamId, userId): Promise<TeamChange> {
      try {
        await http.send({
          method: 'DELETE',
          path: `${shape.base}/orgs/${orgId}/teams/${teamId}/users/${userId}`,
          mediaType: 'application/json',
          operation: 'removing the user from the team',
          requiredRole: shape.writeRole,
        });
        return { changed: true };
      } catch (error) {
        return settle(error, false, orgId, teamId, userId);
      }
    },
  };
}
