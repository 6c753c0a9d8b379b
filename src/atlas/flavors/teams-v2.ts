import type { AtlasHttp } from '../http-client.js';
import type { AtlasTeamsApi, TeamChange } from '../teams-api.js';
import type { MembersOptions } from './members.js';
import { readAllPages } from './paging.js';
import { ATLAS_V2_2023, ATLAS_V2_2025 } from './shared.js';
import { settleTeamChange, type TeamMembershipCheck } from './teams-change.js';

/** An entry of listOrgTeams (spec `PaginatedTeamView.results`, `TeamResponse`). */
interface TeamEntry {
  readonly id: string;
  readonly name?: string;
}

/** An entry of listGroupTeams (spec `PaginatedTeamRoleView.results`, `TeamRole`). */
interface TeamRoleEntry {
  readonly teamId: string;
  readonly roleNames?: readonly string[];
}

/** The one field of getOrgUser's answer (spec `OrgUserResponse.teamIds`) a refused removal reads. */
interface OrgUserTeams {
  readonly teamIds?: readonly string[];
}

/**
 * Teams on the Atlas Admin API v2, for both v2 flavors: listOrgTeams `GET /orgs/{orgId}/teams` and
 * listGroupTeams `GET /groups/{groupId}/teams` (2023-01-01, the only version they have; every page, at
 * the flavor's page size), addOrgTeamUser `POST /orgs/{orgId}/teams/{teamId}:addUser` and
 * removeOrgTeamUser `…:removeUser` (2025-02-19, body `AddOrRemoveUserFromTeam` `{id}`, answered with
 * the person's `OrgUserResponse`; they take active and pending organization members). What a refusal
 * means is decided in teams-change.ts; a refused removal reads getOrgUser (2025-02-19) `teamIds`.
 */
export function createTeamsV2Api(http: AtlasHttp, options: MembersOptions = {}): AtlasTeamsApi {
  const isMember: TeamMembershipCheck = async (orgId, teamId, userId) => {
    const { body } = await http.send<OrgUserTeams | undefined>({
      method: 'GET',
      path: `/api/atlas/v2/orgs/${orgId}/users/${userId}`,
      mediaType: ATLAS_V2_2025,
      operation: 'reading the teams of the user',
      requiredRole: 'Organization Member',
    });
    return (body?.teamIds ?? []).includes(teamId);
  };

  const change = async (
    verb: 'addUser' | 'removeUser',
    orgId: string,
    teamId: string,
    userId: string,
  ): Promise<TeamChange> => {
    try {
      await http.send({
        method: 'POST',
        path: `/api/atlas/v2/orgs/${orgId}/teams/${teamId}:${verb}`,
        body: { id: userId },
        mediaType: ATLAS_V2_2025,
        operation: verb === 'addUser' ? 'adding the user to the team' : 'removing the user from the team',
        requiredRole: 'Organization Owner',
      });
      return { changed: true };
    } catch (error) {
      return settleTeamChange(error, verb === 'addUser', { orgId, teamId, userId }, isMember);
    }
  };

  return {
    async listTeams(orgId) {
      const teams = await readAllPages<TeamEntry>(
        http,
        {
          path: `/api/atlas/v2/orgs/${orgId}/teams`,
          mediaType: ATLAS_V2_2023,
          operation: 'listing the teams of the organization',
          requiredRole: 'Organization Member',
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
          path: `/api/atlas/v2/groups/${groupId}/teams`,
          mediaType: ATLAS_V2_2023,
          operation: 'listing the teams of the project',
          requiredRole: 'Project Read Only',
        },
        (team) => team.teamId,
        options.pageSize,
      );
      return teams.map((team) => ({ teamId: team.teamId, roles: [...new Set(team.roleNames ?? [])] }));
    },

    addMember: (orgId, teamId, userId) => change('addUser', orgId, teamId, userId),
    removeMember: (orgId, teamId, userId) => change('removeUser', orgId, teamId, userId),
  };
}
