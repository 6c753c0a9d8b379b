import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/access/actions.js';
import { createPolicyGate } from '../../src/access/policy-gate.js';
import type { Refusal, RefusalLog } from '../../src/access/refusal-log.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import type { AccessRequest } from '../../src/requests/model.js';
import type { GroupMembers, UnconfirmedReason, UserGroups } from '../../src/requests/ports.js';
import { appErrorOf } from '../support/errors.js';
import { accessRequest } from '../support/request-fixture.js';

const PROJECT = '5f1a2b3c4d5e6f7a8b9c0d1e';

/** DBAs and ops (user groups) and Bob (by id) approve; engineers (a user group) may ask. */
const POLICY = parsePolicy(`approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: ${PROJECT}
    requesters: [S0ENG, U0ERIN]
    approvers: [S0DBA, S0OPS, U0BOB]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    rules:
      - roles: [GROUP_DATA_ACCESS_READ_WRITE]
        approvals: 2
`);

const member = (id: string, teamId?: string): Actor =>
  teamId === undefined ? { id, standing: 'member' } : { id, standing: 'member', teamId };

function request(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequest({
    id: 'AR-0042',
    state: 'pending',
    requesterId: 'U0ALICE',
    granteeId: 'U0ALICE',
    granteeEmail: 'alice@example.com',
    target: { name: 'payments-prod', kind: 'project', id: PROJECT },
    approversAtRequest: ['S0DBA', 'U0BOB'],
    ...overrides,
  });
}

/** A UserGroups port answering from fixed members; `unconfirmed` groups Slack could not confirm. */
function groupsAnswering(
  known: Record<string, readonly string[]>,
  unconfirmed: Record<string, UnconfirmedReason> = {},
) {
  const asked: { groupIds: readonly string[]; fresh: boolean; teamId: string | undefined }[] = [];
  const port: UserGroups = {
    async members(groupIds, { fresh, teamId }): Promise<GroupMembers> {
      asked.push({ groupIds, fresh, teamId });
      return {
        known: new Map(
          groupIds.filter((id) => known[id] !== undefined).map((id) => [id, new Set(known[id])]),
        ),
        unconfirmed: new Map(
          groupIds.flatMap((id) => (unconfirmed[id] === undefined ? [] : [[id, unconfirmed[id]] as const])),
        ),
      };
    },
  };
  return { port, asked };
}

/** A refusal log that keeps what it is told, to read back. */
function refusalsKept() {
  const kept: Refusal[] = [];
  const log: RefusalLog = {
    async record(refusal) {
      kept.push(refusal);
    },
  };
  return { log, kept };
}

const gateWith = (groups: UserGroups, refusals: RefusalLog = refusalsKept().log) =>
  createPolicyGate({ policy: () => POLICY, userGroups: groups, refusals });

describe('createPolicyGate with Slack user groups', () => {
  it('asks for members read within the bound for a decision, the last seen for a view, in the actor’s workspace', async () => {
    const { port, asked } = groupsAnswering({ S0DBA: ['U0DAVE'], S0ENG: ['U0ALICE'] });
    const gate = gateWith(port);
    await gate.ask('approve', member('U0DAVE', 'T0ONE'), { request: request() });
    await gate.ask('status', member('U0DAVE'), { request: request() });
    expect(asked).toEqual([
      { groupIds: ['S0DBA', 'S0OPS', 'S0ENG'], fresh: true, teamId: 'T0ONE' },
      { groupIds: ['S0DBA', 'S0OPS'], fresh: false, teamId: undefined },
    ]);
  });

  it('refuses in words a member of a group Slack could not confirm, and names the group', async () => {
    const gate = gateWith(groupsAnswering({ S0ENG: ['U0ALICE'] }, { S0DBA: 'unreachable' }).port);
    const { verdict } = await gate.ask('approve', member('U0DAVE'), { request: request() });
    expect(verdict).toEqual({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason: 'Slack could not confirm that you are in S0DBA; nothing was decided. Try again in a minute.',
      who: ['S0DBA'],
    });
  });

  it('still allows an approver listed by user id or in a group Slack confirmed, the other counted as nobody', async () => {
    const gate = gateWith(
      groupsAnswering({ S0ENG: ['U0ALICE'], S0OPS: ['U0OLGA'] }, { S0DBA: 'unreachable' }).port,
    );
    const { verdict, members } = await gate.ask('approve', member('U0BOB'), { request: request() });
    expect(verdict).toMatchObject({ allowed: true });
    expect(members.includes(['S0DBA'], 'U0DAVE')).toBe(false);
    expect((await gate.ask('approve', member('U0OLGA'), { request: request() })).verdict).toMatchObject({
      allowed: true,
    });
  });

  it('keeps a refusal the unconfirmed group could not change (a self-approval)', async () => {
    const gate = gateWith(groupsAnswering({ S0ENG: ['U0ALICE'] }, { S0DBA: 'unreachable' }).port);
    const { verdict } = await gate.ask('approve', member('U0ALICE'), { request: request() });
    expect(verdict).toMatchObject({ allowed: false, code: 'SELF_APPROVAL' });
  });

  it('refuses in words when the person a request is for may hold it only through an unconfirmed group', async () => {
    const gate = gateWith(groupsAnswering({ S0DBA: ['U0DAVE'] }, { S0ENG: 'unreachable' }).port);
    const { verdict } = await gate.ask('approve', member('U0BOB'), {
      request: request(),
      grantee: member('U0ALICE'),
    });
    expect(verdict).toMatchObject({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason: 'Slack could not confirm who is in S0ENG; nothing was decided. Try again in a minute.',
    });
  });

  it('does not count, nor drop, an earlier approval whose approver Slack could not confirm', async () => {
    const gate = gateWith(groupsAnswering({ S0ENG: ['U0ALICE'] }, { S0DBA: 'unreachable' }).port);
    const pending = request({
      roles: ['GROUP_DATA_ACCESS_READ_WRITE'],
      approvals: [{ by: 'U0DAVE', at: 1, note: null }],
    });
    const { verdict } = await gate.ask('approve', member('U0BOB'), { request: pending });
    expect(verdict).toMatchObject({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason:
        'Slack could not confirm that U0DAVE is still in S0DBA, so the approvals AR-0042 already has cannot be counted; nothing was decided. Try again in a minute.',
      who: ['U0DAVE', 'S0DBA'],
    });
  });

  it('says when an org-wide install cannot read a group because the check came from no workspace', async () => {
    const gate = gateWith(groupsAnswering({}, { S0ENG: 'no-workspace', S0DBA: 'no-workspace' }).port);
    const { verdict } = await gate.ask('request', member('U0ALICE'), {
      draft: {
        roles: ['GROUP_READ_ONLY'],
        scope: 'project',
        target: 'payments-prod',
        durationSeconds: 3600,
        reason: 'x',
      },
      grantee: member('U0ALICE'),
    });
    expect(verdict).toMatchObject({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason:
        'Rolecall could not confirm that you are in S0ENG: it is installed across the Slack organization, and this check came from no Slack workspace to read it in. Nothing was decided.',
      who: ['S0ENG'],
    });
  });

  it('lists without asking Slack to confirm anything', async () => {
    const gate = gateWith(groupsAnswering({}, { S0DBA: 'unreachable' }).port);
    expect((await gate.ask('list', member('U0DAVE'), null)).verdict).toEqual({
      allowed: true,
      target: null,
    });
  });
});

describe('PolicyGate.require', () => {
  it('records a refusal and throws it in words with who may instead, when the actor may not', async () => {
    const refusals = refusalsKept();
    const gate = gateWith(groupsAnswering({ S0DBA: ['U0DAVE'] }).port, refusals.log);
    const error = await appErrorOf(() =>
      gate.require('approve', member('U0MALLORY'), { request: request() }),
    );
    const reason =
      'You can’t approve this: only the approvers of GROUP_READ_ONLY on payments-prod can decide on it.';
    expect({ code: error.code, message: error.message, details: error.details }).toEqual({
      code: 'NOT_AN_APPROVER',
      message: reason,
      details: { refused: 'approve', who: 'S0DBA,S0OPS,U0BOB' },
    });
    expect(refusals.kept).toEqual([
      { action: 'approve', actorId: 'U0MALLORY', requestId: 'AR-0042', code: 'NOT_AN_APPROVER', reason },
    ]);
  });

  it('returns the target, membership and policy it decided under, and records nothing, when allowed', async () => {
    const refusals = refusalsKept();
    const gate = gateWith(groupsAnswering({ S0DBA: ['U0DAVE'] }).port, refusals.log);
    const permit = await gate.require('approve', member('U0DAVE'), { request: request() });
    expect(permit.target?.name).toBe('payments-prod');
    expect(permit.policy).toBe(POLICY);
    expect(permit.members.includes(['S0DBA'], 'U0DAVE')).toBe(true);
    expect(refusals.kept).toEqual([]);
  });

  it('records a refused offboarding decision against the offboarding', async () => {
    const refusals = refusalsKept();
    const gate = gateWith(groupsAnswering({ S0DBA: [], S0OPS: [] }).port, refusals.log);
    const error = await appErrorOf(() =>
      gate.require('offboard-decide', member('U0MALLORY'), {
        offboarding: { id: 'OB-0007', requesterId: 'U0BOB', own: false },
      }),
    );
    expect(error.details).toEqual({ refused: 'offboard-decide', who: 'S0DBA,S0OPS,U0BOB' });
    expect(refusals.kept).toMatchObject([{ action: 'offboard-decide', requestId: 'OB-0007' }]);
  });

  it('records nothing when a caller only checks', async () => {
    const refusals = refusalsKept();
    const gate = gateWith(groupsAnswering({ S0DBA: ['U0DAVE'] }).port, refusals.log);
    const { verdict } = await gate.ask('approve', member('U0MALLORY'), { request: request() });
    expect(verdict).toMatchObject({ allowed: false, code: 'NOT_AN_APPROVER' });
    expect(refusals.kept).toEqual([]);
  });
});
