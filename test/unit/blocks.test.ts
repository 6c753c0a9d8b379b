import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SANDBOX_POLICY } from '../../dev/sandbox.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';
import type { RequestEvent } from '../../src/requests/ports.js';
import {
  buildApprovalMessage,
  buildDetails,
  buildGrantActions,
} from '../../src/slack/blocks/approval-message.js';
import { buildDenyModal, buildNoticeModal } from '../../src/slack/blocks/deny-modal.js';
import { buildExtendModal } from '../../src/slack/blocks/extend-modal.js';
import { buildHelpMessage } from '../../src/slack/blocks/help-message.js';
import { buildHomeView } from '../../src/slack/blocks/home-view.js';
import { buildOutcomeText } from '../../src/slack/blocks/outcome-message.js';
import { buildRequestModal, targetOptions } from '../../src/slack/blocks/request-modal.js';
import { escapeMrkdwn, mentionPrincipals } from '../../src/slack/mrkdwn.js';
import { expectValidHomeView, expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import { accessRequest } from '../support/request-fixture.js';

const HOSTILE = '<!channel> <@U0BOSS> & <https://evil.example|click me>';

function request(state: RequestState, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequest({
    id: 'AR-0042',
    state,
    requesterId: 'U0ALICE',
    granteeId: 'U0DAVE',
    granteeEmail: 'dave+<!here>@example.com',
    target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
    durationSeconds: 4 * 3600,
    reason: HOSTILE.repeat(20),
    createdAt: 1_790_000_000_000,
    updatedAt: 1_790_000_100_000,
    sourceChannelId: 'C0GENERAL',
    rolesAtRequest: ['GROUP_DATA_ACCESS_READ_ONLY'],
    approversAtRequest: ['U0BOB'],
    approvalMessage: { channelId: 'C0APPROVALS', ts: '1.2' },
    decision: state === 'pending' ? null : { by: 'U0BOB', at: 1_790_000_050_000, note: HOSTILE },
    plan: {
      atlasUserId: '64b000000000000000000a11',
      rolesBefore: ['GROUP_DATA_ACCESS_READ_ONLY'],
      added: ['GROUP_READ_ONLY'],
      addsToProject: false,
    },
    grant: {
      rolesAfter: ['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_READ_ONLY'],
      appliedAt: 1_790_000_060_000,
      revokeAt: 1_790_014_460_000,
      held: ['GROUP_READ_ONLY'],
      joined: [],
      outside: [],
      addedToProject: false,
    },
    revocation: {
      removed: ['GROUP_READ_ONLY'],
      kept: [],
      gone: [],
      rolesAfter: ['GROUP_DATA_ACCESS_READ_ONLY'],
      revokedAt: 1_790_014_460_000,
      leftProject: false,
    },
    failure: { code: 'ATLAS_REJECTED', message: `Atlas said no ${HOSTILE}`, at: 1 },
    ...overrides,
  });
}

const STATES: RequestState[] = [
  'pending',
  'approved',
  'applying',
  'applied',
  'revoking',
  'revoked',
  'denied',
  'expired',
  'cancelled',
  'failed',
  'revoke_failed',
];
const EVENTS: RequestEvent[] = [
  'approved',
  'denied',
  'applied',
  'failed',
  'revoked',
  'revoke_failed',
  'expired',
  'cancelled',
  'drift',
  'reminder',
  'extended',
  'waiting',
];

describe('Block Kit builders', () => {
  it.each(STATES)('builds a valid approval message for a %s request with hostile text escaped', (state) => {
    const message = buildApprovalMessage(request(state));
    expectValidMessageBlocks(message.blocks);
    const json = JSON.stringify(message);
    expect(json).not.toContain('<!channel>');
    expect(json).not.toContain('<!here>');
    expect(json).not.toContain('<https://evil');
    expect(json.includes('request_approve')).toBe(state === 'pending');
  });

  it.each(STATES)(
    'builds a valid message for an extension request and a project join in state %s',
    (state) => {
      const extension = buildApprovalMessage(
        request(state, {
          extends: 'AR-0041',
          holdersAtRequest: [{ role: 'GROUP_READ_ONLY', requestId: 'AR-0041', until: 1_790_014_460_000 }],
          extension: state === 'applied' ? { by: 'AR-0042', of: 'AR-0041', from: 1, to: 2 } : null,
        }),
      );
      expectValidMessageBlocks(extension.blocks);
      expect(JSON.stringify(extension.blocks)).toContain('Extension request AR-0042');
      const joins = buildApprovalMessage(request(state, { addsToProject: true, rolesAtRequest: [] }));
      expectValidMessageBlocks(joins.blocks);
      expect(JSON.stringify(joins.blocks)).toContain('Approving adds <@U0DAVE> to payments-prod');
      expect(JSON.stringify(joins.blocks).includes('grant_revoke_now')).toBe(state === 'applied');
    },
  );

  it('offers every one of 250 targets in the request modal through an external select (field report 5)', () => {
    const targets = Array.from({ length: 250 }, (_, i) => ({
      name: `project-${String(i).padStart(3, '0')}`,
      kind: i < 10 ? ('org' as const) : ('project' as const),
      id: i.toString(16).padStart(24, '0'),
      approvers: ['U0BOB'],
      roles: [i < 10 ? 'ORG_READ_ONLY' : 'GROUP_READ_ONLY'],
      maxDurationSeconds: undefined,
      approvalsChannel: 'C0APPROVALS',
      requesters: undefined,
      onBehalf: undefined,
      rules: [],
      reviewEverySeconds: undefined,
    }));
    const policy = {
      approvalsChannel: 'C0APPROVALS',
      groups: {},
      version: 'v',
      offboarders: [],
      offboardApprovers: undefined,
      targets,
    };
    const modal = buildRequestModal(policy, 'U0ALICE', { channelId: null, responseUrl: null });
    expectValidModal(modal);
    const select = JSON.parse(JSON.stringify(modal.blocks[0])).element as {
      type: string;
      options?: unknown[];
    };
    expect(select.type).toBe('external_select');
    expect(select.options).toBeUndefined();
    expect(targetOptions(policy, '')).toHaveLength(100);
    expect(targetOptions(policy, 'PROJECT-24').map((o) => o.value)).toEqual(
      Array.from({ length: 10 }, (_, i) => `project-24${i}`),
    );
    const small = { ...policy, targets: targets.slice(0, 30) };
    const grouped = JSON.parse(
      JSON.stringify(buildRequestModal(small, 'U0ALICE', { channelId: null, responseUrl: null }).blocks[0]),
    ).element as { option_groups: { label: { text: string }; options: unknown[] }[] };
    expect(grouped.option_groups.map((g) => [g.label.text, g.options.length])).toEqual([
      ['Organizations', 10],
      ['Projects', 20],
    ]);
  });

  it('builds valid Extend / End now buttons and the Extend modal', () => {
    expectValidMessageBlocks([
      { type: 'section', text: { type: 'mrkdwn', text: 'x' } },
      buildGrantActions('AR-0042'),
    ]);
    expectValidModal(buildExtendModal({ requestId: 'AR-0042', responseUrl: null }, `ends soon ${HOSTILE}`));
  });

  it('cuts a reason that would overflow a section to Slack’s 3000 characters', () => {
    const message = buildApprovalMessage(request('pending', { reason: 'x'.repeat(500) + '&'.repeat(500) }));
    const sections = JSON.parse(JSON.stringify(message.blocks)) as {
      type: string;
      text?: { text: string };
    }[];
    const reason = sections.find((b) => b.type === 'section' && b.text?.text.startsWith('*Reason*'));
    expect(reason?.text?.text.length).toBeLessThanOrEqual(3000);
    expect(reason?.text?.text.endsWith('…')).toBe(true);
  });

  it('keeps the grantee’s current roles out of the channel message, behind the Details button', () => {
    const channel = JSON.stringify(buildApprovalMessage(request('pending')).blocks);
    expect(channel).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(channel).toContain('request_details');
    const details = buildDetails(request('pending'), { approver: false });
    expectValidMessageBlocks(details.blocks);
    expect(details.text).toContain('*Current roles*: `GROUP_DATA_ACCESS_READ_ONLY`');
    expect(details.text).toContain(
      '*Roles after approval*: `GROUP_DATA_ACCESS_READ_ONLY`, `GROUP_READ_ONLY`',
    );
  });

  it('shows what Atlas said in full to approvers only, and in the channel only a summary', () => {
    const failure = {
      code: 'ATLAS_REJECTED' as const,
      message: 'Atlas refused the change (403).',
      detail: 'IP address 203.0.113.9 is not allowed to access this resource.',
      at: 1,
    };
    const failed = request('failed', { failure });
    expect(JSON.stringify(buildApprovalMessage(failed).blocks)).not.toContain('203.0.113.9');
    expect(buildDetails(failed, { approver: true }).text).toContain('203.0.113.9');
    expect(buildDetails(failed, { approver: false }).text).not.toContain('203.0.113.9');
  });

  it('shows approval progress and who may still approve, and never Approve buttons for a policy approval', () => {
    const one = request('pending', { approvals: [{ by: 'U0BOB', at: 1, note: null }] });
    const text = JSON.stringify(
      buildApprovalMessage(one, { approvalsNeeded: 2, approvers: ['U0BOB', 'U0CAROL', 'S0DBA'] }).blocks,
    );
    expect(text).toContain('1 of 2 approvals: <@U0BOB> · may still approve: <@U0CAROL>, <!subteam^S0DBA>');
    const auto = buildApprovalMessage(
      request('approved', { decision: { by: 'policy', at: 1, note: 'rule 1' } }),
    );
    expectValidMessageBlocks(auto.blocks);
    expect(JSON.stringify(auto.blocks)).not.toContain('request_approve');
    expect(JSON.stringify(auto.blocks)).toContain('Approved by the policy');
  });

  it('marks a break-glass grant loudly, with Acknowledge and Revoke now until acknowledged', () => {
    const glass = request('applied', { breakGlass: true, requesterId: 'U0DAVE', decision: null });
    const message = buildApprovalMessage(glass);
    expectValidMessageBlocks(message.blocks);
    const json = JSON.stringify(message.blocks);
    expect(json).toContain(':rotating_light: Break-glass AR-0042');
    expect(json).toContain('Break-glass by <@U0DAVE>');
    expect(json).toContain('breakglass_acknowledge');
    expect(json).toContain('grant_revoke_now');
    const acknowledged = buildApprovalMessage({ ...glass, acknowledged: { by: 'U0BOB', at: 2, note: null } });
    expect(JSON.stringify(acknowledged.blocks)).not.toContain('breakglass_acknowledge');
    expect(JSON.stringify(acknowledged.blocks)).toContain('acknowledged by <@U0BOB>');
  });

  it('says the current roles are unknown when Atlas could not be read', () => {
    expect(buildDetails(request('pending', { rolesAtRequest: null }), { approver: true }).text).toContain(
      'unknown: Atlas could not be read',
    );
  });

  it('quotes a reason so it cannot imitate Rolecall’s own lines', () => {
    const forged = 'need it\n*Roles after approval*\n`ORG_OWNER`';
    const message = buildApprovalMessage(request('pending', { reason: forged }));
    const reason = JSON.parse(JSON.stringify(message.blocks)).find((b: { text?: { text: string } }) =>
      b.text?.text.startsWith('*Reason*'),
    ) as { text: { text: string; verbatim: boolean } };
    expect(reason.text.text).toBe('*Reason*\n> need it\n> *Roles after approval*\n> `ORG_OWNER`');
    expect(reason.text.verbatim).toBe(true);
  });

  it.each(EVENTS)('escapes user text in the %s outcome message', (event) => {
    const text = buildOutcomeText(request('applied'), event);
    expect(text).toContain('AR-0042');
    expect(text).not.toMatch(/<!channel>|<!here>|<https:\/\/evil/);
  });

  it('says how long a grant waits for Atlas when the notice carries the wait, and only the id otherwise', () => {
    const waiting = buildOutcomeText(request('applying'), 'waiting', { round: '12' });
    expect(waiting).toContain('AR-0042 waits about 12 s for its turn');
    expect(buildOutcomeText(request('applying'), 'waiting', { round: 'x' })).toContain('waits a moment');
    expect(waiting).not.toContain('<@');
  });

  it('builds valid modals and help', () => {
    const policy = parsePolicy(SANDBOX_POLICY);
    expectValidModal(
      buildRequestModal(policy, 'U0ALICE', {
        channelId: 'C0GENERAL',
        responseUrl: 'https://hooks.slack.com/x',
      }),
    );
    expectValidModal(buildDenyModal('AR-0042'));
    expectValidModal(buildNoticeModal('Not denied', escapeMrkdwn(HOSTILE)));
    expectValidMessageBlocks(buildHelpMessage(policy).blocks);
  });

  it('says in help which roles are approved automatically or need several approvals, and how to break glass', async () => {
    const example = parsePolicy(await readFile(new URL('../../policy.example.yml', import.meta.url), 'utf8'));
    const help = JSON.stringify(buildHelpMessage(example).blocks);
    expect(help).toContain('`GROUP_READ_ONLY` (approved automatically)');
    expect(help).toContain('`GROUP_OWNER` (2 approvals)');
    expect(help).toContain('`/atlas-access breakglass ROLE on TARGET for DURATION because REASON`');
  });

  it('escapes the three characters mrkdwn treats specially, and only those', () => {
    expect(escapeMrkdwn('a & b < c > d *e* _f_')).toBe('a &amp; b &lt; c &gt; d *e* _f_');
  });
});

describe('mentionPrincipals', () => {
  it('names at most 15 and counts the rest, so no mention is ever cut in half', () => {
    const many = Array.from({ length: 400 }, (_, i) => `U0P${String(i).padStart(7, '0')}`);
    const text = mentionPrincipals(many);
    expect(text.endsWith('<@U0P0000014> and 385 more')).toBe(true);
    expect(text.match(/<@U0P\d+>/g)).toHaveLength(15);
    expect(mentionPrincipals(['U0BOB', 'S0DBA', 'dba'])).toBe('<@U0BOB>, <!subteam^S0DBA>, *dba*');
  });

  it('keeps the approval progress line whole with hundreds of approvers', () => {
    const approvers = Array.from({ length: 400 }, (_, i) => `U0P${String(i).padStart(7, '0')}`);
    const message = buildApprovalMessage(request('pending'), { approvalsNeeded: 2, approvers });
    expectValidMessageBlocks(message.blocks);
    expect(JSON.stringify(message.blocks)).toContain('may still approve: <@U0P0000000>');
    expect(JSON.stringify(message.blocks)).toContain('and 385 more');
  });
});

describe('Home tab and guided form', () => {
  const policy = parsePolicy(SANDBOX_POLICY);
  const target = policy.targets[0] as (typeof policy.targets)[number];

  it('shows an extension waiting for a decision as an extension', () => {
    const extension = request('pending', { id: 'AR-0043', extends: 'AR-0042', durationSeconds: 3600 });
    const view = buildHomeView(
      { grants: [], requests: [], toDecide: [extension], decided: [], policy },
      'U0BOB',
    );
    expectValidHomeView(view);
    expect(JSON.stringify(view)).toContain(
      '*AR-0043* <@U0ALICE> for <@U0DAVE>: extend AR-0042 (`GROUP_READ_ONLY` on *payments-prod*) by 1h',
    );
  });

  it('offers the longest allowed duration even when it is shorter than every usual choice', () => {
    const guide = {
      target,
      mayAskForOthers: false,
      requirements: {
        autoApprove: false,
        approvals: 1,
        maxDurationSeconds: 900,
        approverLists: [['U0BOB']],
        breakGlassLists: [[]],
        rules: [],
        ticket: { required: false, patterns: [], url: undefined },
      },
      deciders: ['U0BOB'],
      currentRoles: null,
      chosenRoles: ['GROUP_READ_ONLY'],
    };
    const modal = buildRequestModal(policy, 'U0ALICE', { channelId: null, responseUrl: null }, guide);
    expectValidModal(modal);
    const duration = JSON.parse(JSON.stringify(modal.blocks)).find(
      (b: { block_id?: string }) => b.block_id === 'duration',
    ) as {
      element: { options: { value: string }[] };
    };
    expect(duration.element.options.map((o) => o.value)).toEqual(['15m']);
  });

  it('keeps a Home tab of 200 waiting requests within Slack’s limits', () => {
    const many = Array.from({ length: 200 }, (_, i) =>
      request('pending', { id: `AR-${1000 + i}`, reason: HOSTILE }),
    );
    const view = buildHomeView(
      {
        grants: many.slice(0, 30),
        requests: many.slice(0, 30),
        toDecide: many,
        decided: many.slice(0, 10),
        policy,
      },
      'U0BOB',
    );
    expectValidHomeView(view);
    expect(JSON.stringify(view)).toContain('…and 185 more');
    expect(JSON.stringify(view)).not.toContain('<!channel>');
  });
});

describe('drift at the end of a grant', () => {
  it('says when the roles are not what Rolecall left: one added by hand stays and goes to the next review', () => {
    const revoked = request('revoked');
    const changed = {
      ...revoked,
      revocation: {
        ...(revoked.revocation as NonNullable<typeof revoked.revocation>),
        rolesAfter: ['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_OWNER'],
      },
    };
    const text = buildOutcomeText(changed, 'revoked', { audience: 'channel' });
    expect(text).toContain(
      '`GROUP_OWNER` was added by hand while the grant was active and stays; the next access review of payments-prod lists it',
    );
    expect(buildOutcomeText(revoked, 'revoked', { audience: 'channel' })).not.toContain('by hand');
  });
});

describe('a grant whose target or person no longer exists in Atlas', () => {
  const vanished = (what: 'target' | 'user') =>
    request('revoked', {
      revocation: {
        removed: [],
        kept: [],
        gone: ['GROUP_READ_ONLY'],
        rolesAfter: [],
        revokedAt: 1_790_014_460_000,
        leftProject: false,
        vanished: what,
      },
    });

  it('says the project no longer exists, for everyone alike, without roles that would look removed', () => {
    for (const audience of ['channel', 'grantee', 'requester'] as const) {
      const text = buildOutcomeText(vanished('target'), 'revoked', { audience });
      expect(text).toBe(
        ':lock: AR-0042 ended: the project no longer exists in Atlas (*payments-prod* was deleted), so there was nothing left to remove. Rolecall no longer holds `GROUP_READ_ONLY` for it.',
      );
    }
    const message = buildApprovalMessage(vanished('target'));
    expectValidMessageBlocks(message.blocks);
    expect(JSON.stringify(message.blocks)).toContain('the project no longer exists in Atlas');
  });

  it('says the user no longer exists, escaping their email', () => {
    expect(buildOutcomeText(vanished('user'), 'revoked')).toContain(
      'ended: the user no longer exists in Atlas (the account of dave+&lt;!here&gt;@example.com was deleted)',
    );
  });

  it('offers no Retry, and says none is possible, when the project of a failed grant no longer exists', () => {
    const failed = request('failed', {
      failure: { code: 'ATLAS_TARGET_GONE', message: 'The project no longer exists in Atlas.', at: 1 },
    });
    expect(buildOutcomeText(failed, 'failed')).not.toContain('Retry');
    expect(JSON.stringify(buildApprovalMessage(failed).blocks)).not.toContain('"Retry"');
    const other = request('failed');
    expect(JSON.stringify(buildApprovalMessage(other).blocks)).toContain('"Retry"');
  });
});
