import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/access/authorize.js';
import {
  createPolicyGate,
  type GroupMembers,
  type UnconfirmedReason,
  type UserGroups,
} from '../../src/access/policy-gate.js';
import { parsePolicy } from '../../src/policy/load-policy.js';
import type { AccessRequest } from '../../src/requests/model.js';
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

const gateWith = (groups: UserGroups) => createPolicyGate({ policy: () => POLICY, userGroups: groups });

describe('createPolicyGate with Slack user groups', () => {
  it('asks for members read within the bound for a decision, the last seen for a view, in the actor’s workspace', async () => {
    const { port, asked } = groupsAnswering({ S0DBA: ['U0DAVE'], S0ENG: ['U0ALICE'] });
    const gate = gateWith(port);
    await gate.check('approve', member('U0DAVE', 'T0ONE'), { request: request() });
    await gate.check('status', member('U0DAVE'), { request: request() });
    expect(asked).toEqual([
      { groupIds: ['S0DBA', 'S0OPS', 'S0ENG'], fresh: true, teamId: 'T0ONE' },
      { groupIds: ['S0DBA', 'S0OPS'], fresh: false, teamId: undefined },
    ]);
  });

  it('refuses in words a member of a group Slack could not confirm, and names the group', async () => {
    const gate = gateWith(groupsAnswering({ S0ENG: ['U0ALICE'] }, { S0DBA: 'unreachable' }).port);
    const { decision } = await gate.check('approve', member('U0DAVE'), { request: request() });
    expect(decision).toEqual({
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
    const { decision, members } = await gate.check('approve', member('U0BOB'), { request: request() });
    expect(decision).toMatchObject({ allowed: true });
    expect(members.includes(['S0DBA'], 'U0DAVE')).toBe(false);
    expect((await gate.check('approve', member('U0OLGA'), { request: request() })).decision).toMatchObject({
      allowed: true,
    });
  });

  it('keeps a refusal the unconfirmed group could not change (a self-approval)', async () => {
    const gate = gateWith(groupsAnswering({ S0ENG: ['U0ALICE'] }, { S0DBA: 'unreachable' }).port);
    const { decision } = await gate.check('approve', member('U0ALICE'), { request: request() });
    expect(decision).toMatchObject({ allowed: false, code: 'SELF_APPROVAL' });
  });

  it('refuses in words when the person a request is for may hold it only through an unconfirmed group', async () => {
    const gate = gateWith(groupsAnswering({ S0DBA: ['U0DAVE'] }, { S0ENG: 'unreachable' }).port);
    const { decision } = await gate.check('approve', member('U0BOB'), {
      request: request(),
      grantee: member('U0ALICE'),
    });
    expect(decision).toMatchObject({
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
    const { decision } = await gate.check('approve', member('U0BOB'), { request: pending });
    expect(decision).toMatchObject({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason:
        'Slack could not confirm that U0DAVE is still in S0DBA, so the approvals AR-0042 already has cannot be counted; nothing was decided. Try again in a minute.',
      who: ['U0DAVE', 'S0DBA'],
    });
  });

  it('says when an org-wide install cannot read a group because the check came from no workspace', async () => {
    const gate = gateWith(groupsAnswering({}, { S0ENG: 'no-workspace', S0DBA: 'no-workspace' }).port);
    const { decision } = await gate.check('request', member('U0ALICE'), {
      draft: {
        roles: ['GROUP_READ_ONLY'],
        scope: 'project',
        target: 'payments-prod',
        durationSeconds: 3600,
        reason: 'x',
      },
      grantee: member('U0ALICE'),
    });
    expect(decision).toMatchObject({
      allowed: false,
      code: 'USER_GROUP_UNCONFIRMED',
      reason:
        'Rolecall could not confirm that you are in S0ENG: it is installed across the Slack organization, and this check came from no Slack workspace to read it in. Nothing was decided.',
      who: ['S0ENG'],
    });
  });

  it('lists without asking Slack to confirm anything', async () => {
    const gate = gateWith(groupsAnswering({}, { S0DBA: 'unreachable' }).port);
    expect((await gate.check('list', member('U0DAVE'), null)).decision).toEqual({
      allowed: true,
      target: null,
    });
  });
});
