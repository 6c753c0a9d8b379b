import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox, storedRequestIds } from '../../dev/sandbox.js';
import { buildCommandPayload } from '../../dev/slack-driver.js';
import {
  blockText,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import {
  ephemeralAfter,
  type Person,
  PROJECT,
  readAudit,
  readRequest,
  requestAs,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const SEARCH = 'GROUP_SEARCH_INDEX_EDITOR';
const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const OWNER = 'GROUP_OWNER';

/** Every key of policy v2 at work: groups, user groups, a target channel, requesters, rules. */
const POLICY_V2 = `approvalsChannel: ${CHANNELS.approvals}
groups:
  dba: [${PEOPLE.carol.id}, S0DBA]
  oncall: [S0ONCALL]
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvalsChannel: ${CHANNELS.payments}
    requesters: [S0ENG, ${PEOPLE.gus.id}]
    approvers: [dba, ${PEOPLE.bob.id}]
    roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}, ${OWNER}, ${SEARCH}]
    maxDuration: 8h
    rules:
      - roles: [${READ}]
        autoApprove: true
      - roles: [${WRITE}]
        approvals: 2
      - roles: [${OWNER}]
        approvers: [dba]
        maxDuration: 1h
        breakGlass: [oncall]
  - name: ${ATLAS.org.name}
    org: ${ATLAS.org.id}
    approvers: [${PEOPLE.carol.id}]
    roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY]
`;

/** Slack user groups: engineers (alice, dana), DBAs (dave), on-call (dana). */
const USER_GROUPS = {
  S0ENG: [PEOPLE.alice.id, PEOPLE.dana.id],
  S0DBA: [PEOPLE.dave.id],
  S0ONCALL: [PEOPLE.dana.id],
};

/** The first JSON log line in `output` with this message (and passing `also`), parsed. */
function loggedLine(
  output: string,
  msg: string,
  also: (line: Record<string, unknown>) => boolean = () => true,
): Record<string, unknown> | undefined {
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    const line = JSON.parse(text) as Record<string, unknown>;
    if (line.msg === msg && also(line)) return line;
  }
  return undefined;
}

describe('policy v2 (end to end)', () => {
  let sandbox: Sandbox;
  const extra: { stop(): Promise<void> }[] = [];

  afterEach(async () => {
    for (const thing of extra.splice(0).reverse()) await thing.stop();
    await sandbox.stop();
  });

  const start = async (label: string, mode: 'all' | 'bot' = 'all') => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy: POLICY_V2,
      userGroups: USER_GROUPS,
      mode,
      // Groups change between clicks here, and the next click must see it: Slack is asked every time.
      env: { USER_GROUP_MAX_AGE: '0' },
    });
  };
  const ask = (person: Person, text: string) =>
    requestAs(sandbox, person, `request ${text}`, CHANNELS.payments);
  const puts = () => sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT');
  /** Whether any request id was issued (the counter exists): none issued, nothing stored. */
  const anyIdIssued = async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const exists = await redis.exists(redisKeys(sandbox.config.redis.prefix).requestSeq);
    await redis.quit();
    return exists === 1;
  };
  /** The requests stored, oldest first (the counter no longer counts them: src/lib/ids.ts). */
  const storedRequests = () => storedRequestIds(sandbox.config.redis);
  /** The one request stored, once it is. */
  const theStoredRequest = () =>
    waitUntil(
      async () => {
        const ids = await storedRequests();
        return ids.length === 1 ? ids[0] : undefined;
      },
      5_000,
      'the request',
    );
  const click = (person: Person, message: SimulatedMessage, action: string) =>
    sandbox.driver.clickButton(person, message, action);

  it('lets a member of an approver user group approve, and refuses them on the next click once removed', async () => {
    await start('user-group');
    const first = await ask(PEOPLE.alice, `${SEARCH} on payments-prod for 1h because index rebuild`);
    expect(first.approval.channel).toBe(CHANNELS.payments);
    await click(PEOPLE.dave, first.approval, 'request_approve');
    const applied = await waitForState(sandbox, first.id, 'applied');
    expect(applied.decision?.by).toBe(PEOPLE.dave.id);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(SEARCH);
    await waitForThreadReply(sandbox.slack, first.approval, /applied/);

    const second = await ask(PEOPLE.dana, `${SEARCH} on payments-prod for 1h because index rebuild`);
    sandbox.slack.setUserGroup('S0DBA', []);
    const since = sandbox.slack.events.length;
    await click(PEOPLE.dave, second.approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.dave, since, /can’t approve/)).toContain(
      `only the approvers of ${SEARCH} on payments-prod can decide on it.\nWho may: <@U0CAROL>, <!subteam^S0DBA>, <@U0BOB>.`,
    );
    expect((await readRequest(sandbox, second.id)).state).toBe('pending');
  });

  it('refuses someone the requesters do not name, saying who may ask, and stores nothing', async () => {
    await start('requesters');
    await sandbox.driver.command(
      PEOPLE.mallory,
      `request ${SEARCH} on payments-prod for 1h because x`,
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, 0, /can’t ask/)).toBe(
      ':warning: You can’t ask for access on payments-prod: the policy names who may.\nWho may: <!subteam^S0ENG>, <@U0GUS>.',
    );
    expect(await anyIdIssued()).toBe(false);
    // acme names no requesters: every full member may ask there.
    const org = await requestAs(sandbox, PEOPLE.mallory, 'request ORG_READ_ONLY on acme for 1h because x');
    expect(org.approval.channel).toBe(CHANNELS.approvals);
  });

  it('lets a guest ask only where the policy lists them by their own id', async () => {
    await start('guests');
    await sandbox.driver.command(
      PEOPLE.gus,
      'request ORG_READ_ONLY on acme for 1h because x',
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.gus, 0, /guest/)).toContain(
      'Your Slack account is a guest account; guests can use Rolecall only where the policy names them.',
    );
    expect(await anyIdIssued()).toBe(false);
    await sandbox.driver.command(
      PEOPLE.gus,
      `request ${SEARCH} on payments-prod for 1h because x`,
      CHANNELS.general,
    );
    const id = await theStoredRequest();
    expect(await readRequest(sandbox, id)).toMatchObject({
      requesterId: PEOPLE.gus.id,
      roles: [SEARCH],
    });
  });

  it('needs two different approvers for a 2-approval role, showing progress; the same one twice is told so', async () => {
    await start('two-approvals');
    const { id, approval } = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because migration`);
    expect(blockText(approval)).toContain(
      '0 of 2 approvals · may still approve: <@U0CAROL>, <!subteam^S0DBA>, <@U0BOB>',
    );
    await click(PEOPLE.bob, approval, 'request_approve');
    await waitUntil(
      () => (blockText(approval).includes('1 of 2 approvals: <@U0BOB>') ? true : undefined),
      5_000,
    );
    expect(blockText(approval)).toContain(
      '1 of 2 approvals: <@U0BOB> · may still approve: <@U0CAROL>, <!subteam^S0DBA>',
    );
    expect(blockText(approval)).toContain('request_approve');
    expectValidMessageBlocks(approval.blocks);
    const since = sandbox.slack.events.length;
    await click(PEOPLE.bob, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /already approved/)).toContain(
      `You have already approved ${id}; it needs 2 approvals from different people (1 so far).`,
    );
    // The requester never counts.
    await click(PEOPLE.alice, approval, 'request_approve');
    await ephemeralAfter(sandbox, PEOPLE.alice, since, /can’t decide on a request that you made/);
    expect((await readRequest(sandbox, id)).state).toBe('pending');
    expect(puts()).toEqual([]);

    await click(PEOPLE.dave, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id, PEOPLE.dave.id]);
    const audit = await readAudit(sandbox, id);
    expect(
      audit.filter((e) => /approval \d of 2/.test(e.detail)).map((e) => [e.actor, e.from, e.to, e.detail]),
    ).toEqual([
      [PEOPLE.bob.id, 'pending', 'pending', 'approval 1 of 2'],
      [PEOPLE.dave.id, 'pending', 'approved', 'approval 2 of 2'],
    ]);
    expect(
      audit
        .filter((e) => e.detail.startsWith('approval'))
        .every((e) => /^[0-9a-f]{12}$/.test(e.policy ?? '')),
    ).toBe(true);
    expect(puts()).toHaveLength(1);
  });

  it('applies once when two approvers click 20 times at once on a 2-approval request', async () => {
    await start('approval-race');
    const { id, approval } = await ask(PEOPLE.dana, `${WRITE} on payments-prod for 1h because race`);
    const clicks = Array.from({ length: 20 }, (_, i) =>
      click(i % 2 === 0 ? PEOPLE.bob : PEOPLE.carol, approval, 'request_approve'),
    );
    expect((await Promise.all(clicks)).map((r) => r.status)).toEqual(Array(20).fill(200));
    const applied = await waitForState(sandbox, id, 'applied');
    expect(new Set(applied.approvals.map((a) => a.by))).toEqual(new Set([PEOPLE.bob.id, PEOPLE.carol.id]));
    expect(applied.approvals).toHaveLength(2);
    await waitForThreadReply(sandbox.slack, approval, /applied/);
    const writes = puts().filter((c) => JSON.stringify(c.body).includes(WRITE));
    expect(writes).toHaveLength(1);
    const audit = await readAudit(sandbox, id);
    expect(audit.filter((e) => e.to === 'approved')).toHaveLength(1);
    expect(audit.filter((e) => /approval \d of 2/.test(e.detail))).toHaveLength(2);
    expect(spansOf(sandbox.atlas.timeline(PEOPLE.dana.email, PROJECT), WRITE)).toHaveLength(1);
  });

  it('ends a 2-approval request with one Deny after one approval', async () => {
    await start('deny-two');
    const { id, approval } = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because migration`);
    await click(PEOPLE.bob, approval, 'request_approve');
    await waitUntil(() => (blockText(approval).includes('1 of 2 approvals') ? true : undefined), 5_000);
    await click(PEOPLE.carol, approval, 'request_deny');
    const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
    const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
    await sandbox.driver.submitView(PEOPLE.carol, view, {
      reason: { value: { type: 'plain_text_input', value: 'use the replica' } },
    });
    const denied = await waitForState(sandbox, id, 'denied');
    expect(denied.decision?.by).toBe(PEOPLE.carol.id);
    await waitForThreadReply(sandbox.slack, approval, /denied/);
    expect(blockText(approval)).not.toContain('request_approve');
    expect(puts()).toEqual([]);
  });

  it('applies an auto-approved role with no click, posting the request without buttons', async () => {
    await start('auto');
    const { id, approval } = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because dashboards`);
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.decision?.by).toBe('policy');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(READ);
    const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
    expect(dm.text).toContain(`${id} approved by the policy and applied`);
    await waitUntil(() => (/applied\* in Atlas/.test(blockText(approval)) ? true : undefined), 5_000);
    expect(blockText(approval)).toContain('Approved by the policy');
    expect(blockText(approval)).not.toContain('request_approve');
    expect(blockText(approval)).not.toContain('request_deny');
    expectValidMessageBlocks(approval.blocks);
    const audit = await readAudit(sandbox, id);
    expect(audit.find((e) => e.to === 'approved')).toMatchObject({
      actor: 'policy',
      detail: 'approved by the policy: rule 1 of payments-prod (autoApprove)',
      policy: expect.stringMatching(/^[0-9a-f]{12}$/),
    });
  });

  it('applies break-glass at once for the listed, refuses anyone else, records an Acknowledge, and an approver of its role ends it with Revoke now', async () => {
    await start('break-glass');
    await sandbox.driver.command(
      PEOPLE.alice,
      `breakglass ${OWNER} on payments-prod for 30m because x`,
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /break-glass/)).toContain(
      `You can’t use break-glass for ${OWNER} on payments-prod: only the people its rules name may. Ask for the access instead.\nWho may: <!subteam^S0ONCALL>.`,
    );
    expect(await anyIdIssued()).toBe(false);

    await sandbox.driver.command(
      PEOPLE.dana,
      `breakglass ${OWNER} on payments-prod for 30m because primary is down`,
      CHANNELS.general,
    );
    const glass = await ephemeralAfter(sandbox, PEOPLE.dana, 0, /Break-glass \*AR-[0-9A-Z]{7}\*/);
    expect(glass).toContain(
      'Rolecall is applying it now, without a decision; the approvers in <#C0PAYMENTS> have been told.',
    );
    const id = requestIdIn(glass);
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.breakGlass).toBe(true);
    expect(sandbox.atlas.rolesOf(PEOPLE.dana.email, PROJECT)).toContain(OWNER);
    const message = await waitForApprovalMessage(sandbox.slack, id, CHANNELS.payments);
    await waitUntil(() => (blockText(message).includes('it ends <!date^') ? true : undefined), 5_000);
    const loud = blockText(message);
    expect(loud).toContain(`:rotating_light: Break-glass ${id}`);
    expect(loud).toContain('Break-glass by <@U0DANA>*: granted at once, without a decision; it ends <!date^');
    expect(loud).toContain('primary is down');
    expect(loud).toContain('breakglass_acknowledge');
    expect(loud).toContain('grant_revoke_now');
    expect(loud).not.toContain('request_approve');
    expectValidMessageBlocks(message.blocks);

    const since = sandbox.slack.events.length;
    await click(PEOPLE.dana, message, 'breakglass_acknowledge');
    await ephemeralAfter(sandbox, PEOPLE.dana, since, /can acknowledge/);
    await click(PEOPLE.dave, message, 'breakglass_acknowledge');
    await ephemeralAfter(sandbox, PEOPLE.dave, since, /You acknowledged/);
    await waitUntil(
      () => (blockText(message).includes('acknowledged by <@U0DAVE>') ? true : undefined),
      5_000,
    );
    expect(blockText(message)).not.toContain('breakglass_acknowledge');
    expect((await readAudit(sandbox, id)).find((e) => e.detail === 'break-glass acknowledged')).toMatchObject(
      {
        actor: PEOPLE.dave.id,
      },
    );

    // Bob approves the target but not GROUP_OWNER (its rule names dba): he cannot end it.
    await click(PEOPLE.bob, message, 'grant_revoke_now');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /can end it/)).toContain(
      `Only the person who holds ${id}, or an approver of its roles, can end it.`,
    );
    const pressed = Date.now();
    await click(PEOPLE.carol, message, 'grant_revoke_now');
    const revoked = await waitForState(sandbox, id, 'revoked');
    expect(revoked.endedEarly?.by).toBe(PEOPLE.carol.id);
    expect(sandbox.atlas.rolesOf(PEOPLE.dana.email, PROJECT)).not.toContain(OWNER);
    const [span] = spansOf(sandbox.atlas.timeline(PEOPLE.dana.email, PROJECT), OWNER);
    expect(span?.to).toBeGreaterThanOrEqual(pressed);
  });

  it('decides under the policy in force at the click: an approver added by a reload can, one removed cannot', async () => {
    await start('reload-decide');
    const { id, approval } = await ask(PEOPLE.alice, `${SEARCH} on payments-prod for 1h because x`);
    const before = (await readRequest(sandbox, id)).approversAtRequest;
    expect(before).toEqual([PEOPLE.carol.id, 'S0DBA', PEOPLE.bob.id]);
    const next = POLICY_V2.replace('approvers: [dba, U0BOB]', 'approvers: [U0MALLORY, U0DAVE]');
    await writeFile(sandbox.config.policyFile, next);
    await sandbox.rolecall.reloadPolicy();
    const since = sandbox.slack.events.length;
    await click(PEOPLE.bob, approval, 'request_approve');
    await ephemeralAfter(sandbox, PEOPLE.bob, since, /can’t approve/);
    await click(PEOPLE.mallory, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    const versions = (await readAudit(sandbox, id)).filter((e) => e.policy !== null).map((e) => e.policy);
    expect(versions).toEqual([parsePolicy(next).version]);
    expect(versions[0]).not.toBe(parsePolicy(POLICY_V2).version);
  });

  it('still revokes on time a grant whose target left the policy, and refuses to approve what is pending there', async () => {
    await start('target-gone');
    const held = await ask(PEOPLE.alice, `${SEARCH} on payments-prod for 3s because x`);
    await click(PEOPLE.bob, held.approval, 'request_approve');
    const applied = await waitForState(sandbox, held.id, 'applied');
    const waiting = await ask(PEOPLE.dana, `${SEARCH} on payments-prod for 1h because y`);
    const withoutProject =
      POLICY_V2.slice(0, POLICY_V2.indexOf('  - name: payments-prod')) +
      POLICY_V2.slice(POLICY_V2.indexOf(`  - name: ${ATLAS.org.name}`));
    await writeFile(sandbox.config.policyFile, withoutProject);
    await sandbox.rolecall.reloadPolicy();
    const since = sandbox.slack.events.length;
    await click(PEOPLE.bob, waiting.approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, since, /no longer in the policy/)).toContain(
      `payments-prod is no longer in the policy, so ${waiting.id} can no longer be granted.`,
    );
    await waitForState(sandbox, held.id, 'revoked', 10_000);
    const [span] = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), SEARCH);
    expect(span?.to).toBeGreaterThanOrEqual(applied.grant?.revokeAt ?? 0);
    // Denying stays possible for the approvers it had.
    await click(PEOPLE.bob, waiting.approval, 'request_deny');
    await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
  });

  it('reloads on a file change and on SIGHUP in a bot-only and a worker-only process, keeping the policy when the file breaks', async () => {
    await start('reload-processes', 'bot');
    const { ATLAS_PUBLIC_KEY: _k, ATLAS_PRIVATE_KEY: _s, PORT: _p, ...botEnv } = sandbox.env;
    const bot = spawnRolecall(['bot'], { ...botEnv, PORT: '0', LOG_LEVEL: 'info' });
    extra.push({ stop: () => bot.kill('SIGTERM') });
    const worker = spawnRolecall(['worker'], { ...sandbox.env, PORT: '0', LOG_LEVEL: 'info' });
    extra.push({ stop: () => worker.kill('SIGTERM') });
    await Promise.all([bot.ready(), worker.ready()]);
    const loaded = (output: string) => loggedLine(output, 'policy loaded')?.version;
    const first = loaded(bot.output());
    expect(first).toMatch(/^[0-9a-f]{12}$/);
    expect(loaded(worker.output())).toBe(first);

    // The project renamed, its messages sent elsewhere: the bot must know the new name, the worker
    // must post in the new channel.
    const renamed = POLICY_V2.replace('name: payments-prod', 'name: payments').replace(
      `approvalsChannel: ${CHANNELS.payments}`,
      `approvalsChannel: ${CHANNELS.general}`,
    );
    await writeFile(sandbox.config.policyFile, renamed);
    const reloaded = (output: string) =>
      loggedLine(output, 'policy reloaded', (l) => l.why === 'the file changed')?.version;
    await waitUntil(
      () => (reloaded(bot.output()) && reloaded(worker.output()) ? true : undefined),
      5_000,
      'both to reload',
    );
    const second = reloaded(bot.output());
    expect(second).toMatch(/^[0-9a-f]{12}$/);
    expect(second).not.toBe(first);
    expect(reloaded(worker.output())).toBe(second);
    const port = Number(/"port":(\d+)/.exec(bot.output())?.[1]);
    const body = new URLSearchParams(
      buildCommandPayload(
        sandbox.slack,
        PEOPLE.alice,
        `request ${SEARCH} on payments for 1h because renamed`,
        CHANNELS.general,
      ),
    ).toString();
    const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: sandbox.driver.sign(body),
      body,
    });
    expect(response.status).toBe(200);
    const posted = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.general)
          .find((m) => /^Access request AR-[0-9A-Z]{7}:/.test(m.text)),
      10_000,
      'the approval message in the staging channel',
    );
    // The one request of this run, as stored.
    expect(await storedRequests()).toEqual([requestIdIn(posted.text)]);
    expect(posted.text).toContain('on payments');

    bot.child.kill('SIGHUP');
    worker.child.kill('SIGHUP');
    const hup = /"why":"SIGHUP"/;
    await waitUntil(
      () => (hup.test(bot.output()) && hup.test(worker.output()) ? true : undefined),
      5_000,
      'SIGHUP',
    );

    await writeFile(sandbox.config.policyFile, `${renamed}  - name: broken\n    project: nope\n`);
    const kept = (output: string) =>
      loggedLine(output, 'policy not reloaded; keeping the one in force', (l) =>
        /policy\.yml:\d+:\d+ targets\[2\]\.project/.test(String(l.problems)),
      )?.version;
    await waitUntil(
      () => (kept(bot.output()) && kept(worker.output()) ? true : undefined),
      5_000,
      'the broken file to be refused',
    );
    expect(kept(bot.output())).toBe(second);
    expect(kept(worker.output())).toBe(second);
  });

  describe('what a review found', () => {
    /** Holds the worker in its Atlas read for `ms`, so the policy or a group can change meanwhile. */
    const slowAtlasRead = (ms: number) =>
      sandbox.atlas.inject({ method: 'GET', path: /byName/, delayMs: ms });

    it('checks break-glass again in the worker: someone taken off the list meanwhile is refused', async () => {
      await start('glass-recheck');
      slowAtlasRead(1_000);
      await sandbox.driver.command(
        PEOPLE.dana,
        `breakglass ${OWNER} on payments-prod for 30m because x`,
        CHANNELS.general,
      );
      const id = await theStoredRequest();
      sandbox.slack.setUserGroup('S0ONCALL', []);
      const refused = await waitForState(sandbox, id, 'refused', 10_000);
      expect(refused.failure?.message).toContain(`You can’t use break-glass for ${OWNER} on payments-prod`);
      expect(await ephemeralAfter(sandbox, PEOPLE.dana, 0, /can’t use break-glass/)).toContain(id);
      expect(sandbox.atlas.rolesOf(PEOPLE.dana.email, PROJECT)).not.toContain(OWNER);
      expect(puts()).toEqual([]);
    });

    it('checks an auto-approval again in the worker: a duration the new policy forbids is refused', async () => {
      await start('auto-recheck');
      slowAtlasRead(1_000);
      await sandbox.driver.command(
        PEOPLE.alice,
        `request ${READ} on payments-prod for 8h because x`,
        CHANNELS.general,
      );
      await writeFile(sandbox.config.policyFile, POLICY_V2.replace('maxDuration: 8h', 'maxDuration: 1h'));
      await sandbox.rolecall.reloadPolicy();
      const refused = await waitForState(sandbox, await theStoredRequest(), 'refused', 10_000);
      expect(refused.failure?.message).toContain('may last at most 1h');
      expect(puts()).toEqual([]);
    });

    it('stops counting an approval once its approver is no longer one', async () => {
      await start('stale-approval');
      const { id, approval } = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because x`);
      await click(PEOPLE.dave, approval, 'request_approve');
      await waitUntil(
        async () => ((await readRequest(sandbox, id)).approvals.length === 1 ? true : undefined),
        5_000,
      );
      sandbox.slack.setUserGroup('S0DBA', []);
      await click(PEOPLE.bob, approval, 'request_approve');
      await waitUntil(
        async () => ((await readRequest(sandbox, id)).approvals[0]?.by === PEOPLE.bob.id ? true : undefined),
        5_000,
        'bob’s approval to replace dave’s',
      );
      expect(await readRequest(sandbox, id)).toMatchObject({
        state: 'pending',
        approvals: [{ by: PEOPLE.bob.id }],
      });
      expect((await readAudit(sandbox, id)).map((e) => e.detail)).toContain(
        `approval 1 of 2; no longer counted (not an approver now): ${PEOPLE.dave.id}`,
      );
      await click(PEOPLE.carol, approval, 'request_approve');
      const applied = await waitForState(sandbox, id, 'applied');
      expect(applied.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id, PEOPLE.carol.id]);
    });

    it('lets the next click finish a request once the policy needs fewer approvals', async () => {
      await start('fewer-approvals');
      const { id, approval } = await ask(PEOPLE.alice, `${WRITE} on payments-prod for 1h because x`);
      await click(PEOPLE.bob, approval, 'request_approve');
      await waitUntil(
        async () => ((await readRequest(sandbox, id)).approvals.length === 1 ? true : undefined),
        5_000,
      );
      await writeFile(sandbox.config.policyFile, POLICY_V2.replace('        approvals: 2\n', ''));
      await sandbox.rolecall.reloadPolicy();
      await click(PEOPLE.bob, approval, 'request_approve');
      const applied = await waitForState(sandbox, id, 'applied');
      expect(applied.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id]);
    });

    it('lets an approver it had through a user group deny a request whose target and group left the policy', async () => {
      await start('ghost-group');
      const { id, approval } = await ask(PEOPLE.alice, `${SEARCH} on payments-prod for 1h because x`);
      expect((await readRequest(sandbox, id)).approversAtRequest).toEqual([
        PEOPLE.carol.id,
        'S0DBA',
        PEOPLE.bob.id,
      ]);
      const orgOnly = `approvalsChannel: ${CHANNELS.approvals}\n${POLICY_V2.slice(
        POLICY_V2.indexOf('targets:'),
      ).replace(
        POLICY_V2.slice(
          POLICY_V2.indexOf('  - name: payments-prod'),
          POLICY_V2.indexOf(`  - name: ${ATLAS.org.name}`),
        ),
        '',
      )}`;
      await writeFile(sandbox.config.policyFile, orgOnly);
      await sandbox.rolecall.reloadPolicy();
      await click(PEOPLE.dave, approval, 'request_deny');
      const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
      const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
      await sandbox.driver.submitView(PEOPLE.dave, view, {
        reason: { value: { type: 'plain_text_input', value: 'target retired' } },
      });
      expect((await waitForState(sandbox, id, 'denied')).decision?.by).toBe(PEOPLE.dave.id);
    });

    it('does not approve automatically what someone asked for another person: the grantee’s Not me still means something', async () => {
      await start('on-behalf-auto');
      await sandbox.driver.command(PEOPLE.bob, '', CHANNELS.general);
      const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'request modal');
      const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
      await sandbox.driver.submitView(PEOPLE.bob, view, {
        target: {
          value: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: 'payments-prod' }, value: 'payments-prod' },
          },
        },
        grantee: { value: { type: 'users_select', selected_user: PEOPLE.alice.id } },
        roles: {
          value: {
            type: 'multi_static_select',
            selected_options: [{ text: { type: 'plain_text', text: READ }, value: READ }],
          },
        },
        duration: { value: { type: 'plain_text_input', value: '1h' } },
        reason: { value: { type: 'plain_text_input', value: 'for alice' } },
      });
      const id = requestIdIn(await ephemeralAfter(sandbox, PEOPLE.bob, 0, /Request \*AR-[0-9A-Z]+\*/));
      const approval = await waitForApprovalMessage(sandbox.slack, id, CHANNELS.payments);
      expect(blockText(approval)).toContain('request_approve');
      expect((await readRequest(sandbox, id)).state).toBe('pending');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /Not me/);
      expect(puts()).toEqual([]);
    });

    it('extends an automatically approved grant automatically, for its grantee', async () => {
      await start('auto-extend');
      const { id } = await ask(PEOPLE.alice, `${READ} on payments-prod for 1h because dashboards`);
      const applied = await waitForState(sandbox, id, 'applied');
      const since = sandbox.slack.events.length;
      await sandbox.driver.command(
        PEOPLE.alice,
        `extend ${id} for 1h because still needed`,
        CHANNELS.general,
      );
      const extension = requestIdIn(
        await ephemeralAfter(
          sandbox,
          PEOPLE.alice,
          since,
          new RegExp(`Request \\*AR-[0-9A-Z]+\\*.*to extend ${id}`),
        ),
      );
      await waitForState(sandbox, extension, 'applied');
      const extended = await waitUntil(async () => {
        const grant = await readRequest(sandbox, id);
        return grant.grant?.revokeAt !== applied.grant?.revokeAt ? grant : undefined;
      }, 5_000);
      expect(extended.grant?.revokeAt).toBe((applied.grant?.revokeAt ?? 0) + 3_600_000);
      expect((await readAudit(sandbox, extension)).find((e) => e.to === 'approved')?.actor).toBe('policy');
    });

    it('reloads when a Kubernetes-style symlink swap replaces the policy file', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'rolecall-configmap-'));
      extra.push({ stop: () => rm(dir, { recursive: true, force: true }) });
      await mkdir(join(dir, '..v1'));
      await writeFile(join(dir, '..v1', 'policy.yml'), POLICY_V2);
      await symlink('..v1', join(dir, '..data'));
      await symlink(join('..data', 'policy.yml'), join(dir, 'policy.yml'));
      sandbox = await startSandbox({
        redisUrl: TEST_REDIS_URL,
        prefix: uniquePrefix('configmap'),
        policy: POLICY_V2,
        userGroups: USER_GROUPS,
        env: { POLICY_FILE: join(dir, 'policy.yml') },
      });
      await mkdir(join(dir, '..v2'));
      await writeFile(
        join(dir, '..v2', 'policy.yml'),
        POLICY_V2.replace('name: payments-prod', 'name: payments'),
      );
      await symlink('..v2', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await waitUntil(
        async () => {
          const help = await sandbox.driver.command(PEOPLE.alice, 'help', CHANNELS.general);
          return JSON.stringify(help.json).includes('*payments* (project)') ? true : undefined;
        },
        5_000,
        'the swapped policy to be in force',
      );
    });
  });
});
