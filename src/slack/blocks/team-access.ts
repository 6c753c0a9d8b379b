import type { KnownBlock } from '@slack/types';
import { isTeamItem } from '../../lib/access-items.js';
import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn, truncate } from '../mrkdwn.js';

/**
 * What the teams a request asks to join give, for its approval message: "team:oncall gives
 * GROUP_READ_ONLY on payments-prod", read when the request was checked; null when it asks for no team
 * or Atlas could not be read then.
 */
export function buildTeamAccessBlock(request: AccessRequest): KnownBlock | null {
  const teams = request.roles.filter(isTeamItem);
  if (teams.length === 0 || request.rolesAtRequest === null) return null;
  const lines = teams.map((team) => {
    const given = request.teamAccess.filter((a) => a.team === team);
    const where =
      given.length === 0
        ? 'no roles on the projects in the policy'
        : given
            .map(
              (a) =>
                `${a.roles.map((r) => `\`${escapeMrkdwn(r)}\``).join(', ')} on *${escapeMrkdwn(a.project)}*`,
            )
            .join('; ');
    return `:busts_in_silhouette: \`${escapeMrkdwn(team)}\` gives ${where}`;
  });
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000), verbatim: true },
  };
}

/** "`GROUP_READ_ONLY` through `team:data-readers`": the roles held through teams, for "Current roles". */
export function describeRolesThroughTeams(request: AccessRequest): string | null {
  const held = request.rolesThroughTeamsAtRequest;
  if (held.length === 0) return null;
  return held.map((t) => `\`${escapeMrkdwn(t.role)}\` through \`${escapeMrkdwn(t.team)}\``).join(', ');
}
