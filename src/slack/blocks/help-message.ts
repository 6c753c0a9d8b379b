import type { KnownBlock } from '@slack/types';
import { type Policy, type PolicyTarget, ruleFor } from '../../policy/policy.js';
import { BUNDLE_EXAMPLE } from '../../requests/parse-bundle.js';
import { BREAKGLASS_EXAMPLE, REQUEST_EXAMPLE } from '../../requests/parse-command.js';
import { escapeMrkdwn, truncate } from '../mrkdwn.js';

/** A role as help lists it: `GROUP_OWNER` (2 approvals), `GROUP_READ_ONLY` (approved automatically). */
function describeRole(target: PolicyTarget, role: string): string {
  const rule = ruleFor(target, role);
  const notes = [
    ...(rule?.autoApprove ? ['approved automatically'] : []),
    ...((rule?.onCall?.length ?? 0) > 0 && rule?.onCallApproves !== 'approver'
      ? ['approved at once when you are on call']
      : []),
    ...(rule && rule.approvals > 1 ? [`${rule.approvals} approvals`] : []),
  ];
  return `\`${role}\`${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}

/** `/atlas-access help`: every form of the command, and the targets the policy offers. */
export function buildHelpMessage(policy: Policy): { text: string; blocks: KnownBlock[] } {
  const targets = policy.targets
    .map(
      (t) =>
        `• *${escapeMrkdwn(t.name)}* (${t.kind === 'org' ? 'organization' : 'project'}): ${t.roles.map((r) => describeRole(t, r)).join(', ')}`,
    )
    .join('\n');
  const usage = [
    '*Ask for MongoDB Atlas roles.* The approvers of the target decide (some roles are approved automatically, some need two people); Rolecall then changes the roles in Atlas and tells you.',
    '',
    '`/atlas-access` opens a form.',
    '`/atlas-access request ROLE[,ROLE...] on TARGET [from START] [for DURATION] [ticket KEY] because REASON` asks in one line, for example:',
    `\`${REQUEST_EXAMPLE}\``,
    '',
    '• *ROLE*: ORG_... roles for an organization, GROUP_... roles for a project; `team:NAME` joins a team of an organization for a while; `db:LEVEL` is temporary database access on a project (asked alone, at most 7d).',
    '• *ticket KEY* before `because` names the ticket behind the request, where the target asks for one (e.g. `… for 2h ticket OPS-123 because …`).',
    '• *from START* starts it later: `… from 22:00 for 2h because …` (the next 22:00 in your Slack time zone) or `from 2026-12-08T22:00`. It can be approved ahead, is applied at the start, ends its duration after it, and can be cancelled until then.',
    '• *TARGET*: a name below, or the 24-character Atlas id.',
    '• *DURATION*: 30m, 4h, 2d (or 45s). Without it, access is permanent. Temporary access is revoked on time; you get a reminder with *Extend* and *End now* before it ends.',
    '• Not in the project yet? Ask for temporary access: Rolecall adds you for its duration and takes you out again.',
    '• `/atlas-access list` shows your open requests and, for approvers, what waits for you.',
    '• `/atlas-access status AR-0042` shows a request and its audit trail.',
    '• `/atlas-access cancel AR-0042` withdraws your pending request.',
    '• `/atlas-access nudge AR-0042` reminds the approvers of your pending request (once).',
    '• `/atlas-access extend AR-0042 for 2h because REASON` asks for a temporary grant to end later (approved like a request).',
    '• `/atlas-access end AR-0042` ends your access now (approvers can end any grant on their targets).',
    `• \`/atlas-access breakglass ROLE on TARGET for DURATION because REASON\` grants you access at once in an emergency, if the policy lists you for it; the approvers are alerted. Example: \`${BREAKGLASS_EXAMPLE}\``,
    '• `/atlas-access review TARGET` (approvers) reviews who holds what on a target, or points to its review that is still open; `/atlas-access review all` does it for every target you approve; `/atlas-access status TARGET` shows its reviews.',
    '• `/atlas-access offboard EMAIL because REASON` (the policy’s offboarders) removes a leaving person from every target, once approved.',
    '• `/atlas-access help` shows this.',
  ].join('\n');
  const bundles = (policy.bundles ?? []).map(
    (b) =>
      `• \`bundle:${escapeMrkdwn(b.name)}\`: ${b.parts.map((p) => `${p.items.map((i) => `\`${i}\``).join(', ')} on *${escapeMrkdwn(p.target.name)}*`).join('; ')}`,
  );
  return {
    text: 'How to use /atlas-access',
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: usage } },
      { type: 'section', text: { type: 'mrkdwn', text: truncate(`*Targets*\n${targets}`, 3000) } },
      ...(bundles.length === 0
        ? []
        : [
            {
              type: 'section' as const,
              text: {
                type: 'mrkdwn' as const,
                text: truncate(
                  `*Bundles*: access on several targets in one request, decided once by someone allowed on every part, ended together: \`${BUNDLE_EXAMPLE}\`\n${bundles.join('\n')}`,
                  3000,
                ),
              },
            },
          ]),
    ],
  };
}
