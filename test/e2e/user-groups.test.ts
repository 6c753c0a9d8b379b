import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox, storedRequestIds } from '../../dev/sandbox.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import {
  ephemeralAfter,
  type Person,
  PROJECT,
  readRequest,
  requestAs,
  sleep,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const OWNER = 'GROUP_OWNER';

/** Approvers: the DBA user group, and Bob by his user id. */
const POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [S0DBA, ${PEOPLE.bob.id}]
    roles: [${READ}, ${WRITE}]
`;

/** How old the members of a group may be for a decision, in these tests. */
const MAX_AGE_MS = 1_000;

/** Issue 22: decisions on user groups Slack cannot confirm, and org-wide (Enterprise Grid) installs. */
describe('Slack user groups (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, options: { policy?: string; orgWide?: boolean } = {}) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy: options.policy ?? POLICY,
      userGroups: {
        S0DBA: [PEOPLE.dave.id, PEOPLE.carol.id],
        S0ENG: [PEOPLE.alice.id, PEOPLE.dana.id],
        S0ONCALL: [PEOPLE.dana.id],
      },
      orgWide: options.orgWide ?? false,
      env: { USER_GROUP_MAX_AGE: `${MAX_AGE_MS / 1000}s` },
    });
  };
  const ask = (person: Person, text: string) => requestAs(sandbox, person, `request ${text}`);
  const click = (person: Person, message: SimulatedMessage, action: string) =>
    sandbox.driver.clickButton(person, message, action);
  const puts = () => sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT');
  const groupCalls = () => sandbox.slack.callsTo('usergroups.users.list');
  /** The refusals in the global audit stream, as `code actor request` lines. */
  const refusals = async (): Promise<string[]> => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const entries = await redis.xrange(redisKeys(sandbox.config.redis.prefix).audit, '-', '+');
      return entries
        .map(([, fields]) =>
          Object.fromEntries(fields.flatMap((f, i) => (i % 2 ? [] : [[f, fields[i + 1]]]))),
        )
        .filter((e) => e.kind === 'refusal')
        .map((e) => `${e.code} ${e.actor} ${e.request}`);
    } finally {
      redis.disconnect();
    }
  };

  it('approves nothing by itself on group members it cannot confirm: a request and an extension wait for a person', async () => {
    const auto = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    requesters: [S0ENG]
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [${READ}, ${WRITE}]
    rules:
      - roles: [${READ}]
        autoApprove: true
        maxDuration: 1h
`;
    await start('groups-auto', { policy: auto });
    const first = await ask(PEOPLE.alice, `${READ} on payments-prod for 10m because before`);
    await waitForState(sandbox, first.id, 'applied');
    // Alice leaves the requesters' group; then Slack stops answering, past the bound.
    sandbox.slack.setUserGroup('S0ENG', [PEOPLE.dana.id]);
    sandbox.slack.fail({
      method: 'usergroups.users.list',
      error: 'internal_error',
      status: 503,
      times: Number.POSITIVE_INFINITY,
    });
    await sleep(MAX_AGE_MS + 200);
    const extension = await requestAs(sandbox, PEOPLE.alice, `extend ${first.id} for 10m because more`);
    const again = await ask(PEOPLE.alice, `${READ} on payments-prod for 10m because again`);
    // Neither is approved by the policy: both wait for Bob or Carol, and nothing more is granted.
    expect((await waitForState(sandbox, extension.id, 'pending')).decision).toBeNull();
    expect((await waitForState(sandbox, again.id, 'pending')).decision).toBeNull();
    await sleep(500);
    expect((await readRequest(sandbox, again.id)).state).toBe('pending');
    expect((await readRequest(sandbox, first.id)).extensions).toEqual([]);
    sandbox.slack.endFailures();
  });

  it('refuses in words a removed approver while Slack fails, lets an approver by id decide, and refuses him as a non-approver once Slack answers', async () => {
    await start('ug-outage');
    const first = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because x`);
    const second = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because y`);
    // Dave leaves the DBA group; then Slack's usergroups.users.list goes down.
    sandbox.slack.setUserGroup('S0DBA', [PEOPLE.carol.id]);
    sandbox.slack.fail({
      method: 'usergroups.users.list',
      error: 'internal_error',
      status: 503,
      times: Number.POSITIVE_INFINITY,
    });
    // The members seen when the requests were filed are now older than the bound.
    await sleep(MAX_AGE_MS + 200);
    const failedBefore = groupCalls().filter((c) => !c.ok).length;

    let since = sandbox.slack.events.length;
    await click(PEOPLE.dave, first.approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.dave, since, /could not confirm/)).toContain(
      'Slack could not confirm that you are in <!subteam^S0DBA>; nothing was decided. Try again in a minute.',
    );
    expect(groupCalls().filter((c) => !c.ok).length).toBeGreaterThan(failedBefore);
    expect(await refusals()).toContain(`USER_GROUP_UNCONFIRMED ${PEOPLE.dave.id} ${first.id}`);
    expect((await readRequest(sandbox, first.id)).state).toBe('pending');

    // Bob is an approver by his own user id: the unknown group does not matter for him.
    await click(PEOPLE.bob, second.approval, 'request_approve');
    const applied = await waitForState(sandbox, second.id, 'applied');
    expect(applied.decision?.by).toBe(PEOPLE.bob.id);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(WRITE);

    sandbox.slack.endFailures('usergroups.users.list');
    since = sandbox.slack.events.length;
    await click(PEOPLE.dave, first.approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.dave, since, /can’t approve/)).toContain(
      `only the approvers of ${READ} on payments-prod can decide on it.`,
    );
    expect(await refusals()).toContain(`NOT_AN_APPROVER ${PEOPLE.dave.id} ${first.id}`);
    expect((await readRequest(sandbox, first.id)).state).toBe('pending');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain(READ);
    expect(puts().filter((c) => JSON.stringify(c.body).includes(READ))).toEqual([]);
  });

  it('refuses in words while Slack rate-limits the group lookups, without waiting for Retry-After', async () => {
    await start('ug-ratelimited');
    const { id, approval } = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because x`);
    await sleep(MAX_AGE_MS + 200);
    sandbox.slack.fail({
      method: 'usergroups.users.list',
      error: 'ratelimited',
      status: 429,
      retryAfter: 30,
      times: Number.POSITIVE_INFINITY,
    });
    const since = sandbox.slack.events.length;
    const started = Date.now();
    await click(PEOPLE.carol, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /could not confirm/)).toContain(
      'Slack could not confirm that you are in <!subteam^S0DBA>',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await readRequest(sandbox, id)).state).toBe('pending');
  });

  it.each([
    ['disabled', (s: Sandbox) => s.slack.disableUserGroup('S0DBA')],
    ['deleted', (s: Sandbox) => s.slack.deleteUserGroup('S0DBA')],
  ])('counts a %s user group as nobody, not as unknown', async (how, change) => {
    await start(`ug-${how}`);
    const { id, approval } = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because x`);
    change(sandbox);
    await sleep(MAX_AGE_MS + 200);
    const since = sandbox.slack.events.length;
    await click(PEOPLE.dave, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.dave, since, /can’t approve/)).toContain(
      `only the approvers of ${READ} on payments-prod can decide on it.`,
    );
    expect(groupCalls().at(-1)).toMatchObject({ ok: false, error: 'no_such_subteam' });
    // Never asked for a disabled group's members: they would still be listed.
    expect(groupCalls().every((c) => c.args.include_disabled === undefined)).toBe(true);
    expect((await readRequest(sandbox, id)).state).toBe('pending');
    expect(puts()).toEqual([]);
  });

  describe('org-wide (Enterprise Grid) install', () => {
    /** Engineers ask, DBAs decide, on-call may break glass: every list a user group. */
    const ORG_POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    requesters: [S0ENG]
    approvers: [S0DBA]
    roles: [${READ}, ${WRITE}, ${OWNER}]
    maxDuration: 8h
    rules:
      - roles: [${READ}]
        autoApprove: true
      - roles: [${OWNER}]
        maxDuration: 1h
        breakGlass: [S0ONCALL]
`;

    it('lets a member of an approver user group approve, reading the group in the workspace the click came from', async () => {
      await start('ug-org', { policy: ORG_POLICY, orgWide: true });
      const { id, approval } = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because x`);
      await sleep(MAX_AGE_MS + 200);
      await click(PEOPLE.dave, approval, 'request_approve');
      const applied = await waitForState(sandbox, id, 'applied');
      expect(applied.decision?.by).toBe(PEOPLE.dave.id);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(WRITE);
      const calls = groupCalls();
      expect(calls.map((c) => c.args.usergroup)).toEqual(expect.arrayContaining(['S0ENG', 'S0DBA']));
      for (const call of calls) expect(call).toMatchObject({ ok: true, args: { team_id: 'T0ROLECALL' } });
    });

    it('approves by the policy in the worker, reading the group in the workspace the request came from', async () => {
      await start('ug-org-auto', { policy: ORG_POLICY, orgWide: true });
      const { id } = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because x`);
      const applied = await waitForState(sandbox, id, 'applied');
      expect(applied.decision?.by).toBe('policy');
      expect(applied.requesterTeamId).toBe('T0ROLECALL');
      expect(groupCalls().length).toBeGreaterThan(0);
      for (const call of groupCalls()) expect(call.args.team_id).toBe('T0ROLECALL');
    });

    it("grants break-glass in the worker on an org-wide install, the group read in the requester's workspace", async () => {
      await start('ug-org-glass', { policy: ORG_POLICY, orgWide: true });
      await sandbox.driver.command(
        PEOPLE.dana,
        `breakglass ${OWNER} on payments-prod for 30m because x`,
        CHANNELS.general,
      );
      // The one request stored.
      const id = await waitUntil(
        async () => {
          const ids = await storedRequestIds(sandbox.config.redis);
          return ids.length === 1 ? ids[0] : undefined;
        },
        5_000,
        'the break-glass request',
      );
      await waitForState(sandbox, id, 'applied', 10_000);
      expect(sandbox.atlas.rolesOf(PEOPLE.dana.email.toLowerCase(), PROJECT)).toContain(OWNER);
      for (const call of groupCalls()) expect(call.args.team_id).toBe('T0ROLECALL');
    });
  });
});
