import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import {
  CHANNELS,
  PEOPLE,
  SANDBOX_POLICY,
  type Sandbox,
  startSandbox,
  storedRequestIds,
} from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { blockText, requestIdIn, waitForApprovalMessage } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { expectValidHomeView, expectValidModal } from '../support/block-kit.js';
import {
  ephemeralAfter,
  nthApproval,
  type Person,
  PROJECT,
  requestAs,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';

/** The sandbox policy with a rule: WRITE for at most 1h. */
const POLICY = SANDBOX_POLICY.replace(
  `roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]`,
  `roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]\n    maxDuration: 8h\n    rules:\n      - roles: [${WRITE}]\n        maxDuration: 1h`,
);

describe('Slack surfaces (end to end)', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string, policy = POLICY) => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label), policy });
  };

  /** Opens the Home tab and waits for a publish that shows `pattern`. */
  const homeOf = async (person: Person, pattern: RegExp) => {
    await sandbox.driver.openHome(person);
    return waitUntil(
      () => {
        const view = sandbox.slack.homeOf(person.id);
        return view && pattern.test(JSON.stringify(view)) ? view : undefined;
      },
      5_000,
      `${person.name}'s home tab matching ${pattern}`,
    );
  };
  /** The Home tab as published now, once it shows `pattern` (refreshed by a worker after a change). */
  const homeShows = (person: Person, pattern: RegExp, absent = false) =>
    waitUntil(
      () => {
        const view = sandbox.slack.homeOf(person.id);
        return view && pattern.test(JSON.stringify(view)) !== absent ? view : undefined;
      },
      8_000,
      `${person.name}'s home tab ${absent ? 'without' : 'with'} ${pattern}`,
    );
  const puts = () => sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT');
  /** The DM asking whoever ran a workflow to confirm the on-behalf request its step would file. */
  const confirmationTo = (person: Person) =>
    waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(person.id))
          .find((m) => m.text.includes('in your name')),
      5_000,
      `the confirmation DM to ${person.name}`,
    );

  describe('Home tab', () => {
    it('shows a requester their active grant with Extend / End now and their pending request with Cancel', async () => {
      await start('home-requester');
      const granted = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because dashboards`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, granted.approval, 'request_approve');
      await waitForState(sandbox, granted.id, 'applied');
      const waiting = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${WRITE} on payments-prod for 30m because fix`,
      );
      const home = await homeOf(PEOPLE.alice, new RegExp(waiting.id));
      expectValidHomeView(home);
      const text = JSON.stringify(home);
      expect(text).toContain('home_request_access');
      expect(text).toMatch(
        new RegExp(`\`${READ}\` on project \\*payments-prod\\* · ends <!date\\^\\d+[^·]+· ${granted.id}`),
      );
      expect(text).toContain(
        `"action_id":"grant_extend","text":{"type":"plain_text","text":"Extend"},"value":"${granted.id}"`,
      );
      expect(text).toContain(`"action_id":"grant_end"`);
      expect(text).toContain(`*${waiting.id}* \`${WRITE}\` on *payments-prod* · _waiting for approval_`);
      expect(text).toContain(
        `"action_id":"request_cancel","text":{"type":"plain_text","text":"Cancel"},"value":"${waiting.id}"`,
      );
      expect(text).not.toContain('Waiting for you');
    });

    it('lets an approver approve from the Home tab: applied once, the channel message and both Home tabs updated', async () => {
      await start('home-approver');
      const { id, approval } = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because x`,
      );
      await homeOf(PEOPLE.alice, new RegExp(id));
      const home = await homeOf(PEOPLE.bob, /Waiting for you/);
      expectValidHomeView(home);
      expect(JSON.stringify(home)).toContain(
        `"action_id":"request_approve","text":{"type":"plain_text","text":"Approve"},"style":"primary","value":"${id}"`,
      );
      // Two clicks from the Home tab and one from the channel at once: one change in Atlas.
      await Promise.all([
        sandbox.driver.clickInView(PEOPLE.bob, home, 'request_approve', id),
        sandbox.driver.clickInView(PEOPLE.bob, home, 'request_approve', id),
        sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve'),
      ]);
      await waitForState(sandbox, id, 'applied');
      expect(puts()).toHaveLength(1);
      await waitUntil(() => (/applied\* in Atlas/.test(blockText(approval)) ? true : undefined), 5_000);
      const bobAfter = await homeShows(PEOPLE.bob, /Recent decisions by you/);
      expect(JSON.stringify(bobAfter)).not.toContain(`"value":"${id}"`);
      const aliceAfter = await homeShows(PEOPLE.alice, /grant_end/);
      expectValidHomeView(aliceAfter);
      expect(JSON.stringify(aliceAfter)).toContain(`_active_`);
    });

    it('ends a grant from the Home tab with End now, and refuses someone else’s End now', async () => {
      await start('home-end');
      const { id, approval } = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because x`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForState(sandbox, id, 'applied');
      const home = await homeOf(PEOPLE.alice, /grant_end/);
      // A forged click in mallory's name on alice's button: the handler checks who clicks.
      const since = sandbox.slack.events.length;
      await sandbox.driver.clickInView(PEOPLE.mallory, home, 'grant_end', id);
      await waitUntil(
        () =>
          sandbox.slack
            .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.mallory.id))
            .find((m) => m.text.includes('can end it')),
        5_000,
        'the refusal to mallory',
      );
      expect(sandbox.slack.events.length).toBeGreaterThan(since);
      const pressed = Date.now();
      await sandbox.driver.clickInView(PEOPLE.alice, home, 'grant_end', id);
      const revoked = await waitForState(sandbox, id, 'revoked');
      expect(revoked.endedEarly?.by).toBe(PEOPLE.alice.id);
      const [span] = spansOf(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), READ);
      expect(span?.to).toBeGreaterThanOrEqual(pressed);
      await homeShows(PEOPLE.alice, /You hold no access through Rolecall/);
    });
  });

  describe('Home tab, what a review found', () => {
    it('lists a request someone made for you, with Not me', async () => {
      await start('home-for-you');
      await homeOf(PEOPLE.alice, /Your requests/);
      await sandbox.driver.executeFunction('request_atlas_access', {
        target: 'payments-prod',
        roles: READ,
        duration: '1h',
        reason: 'for alice',
        interactivity: { interactivity_pointer: 'p', interactor: { id: PEOPLE.bob.id, secret: 'x' } },
        user: PEOPLE.alice.id,
      });
      // Bob ran the workflow; its author named alice: filed once bob confirms.
      await sandbox.driver.clickButton(PEOPLE.bob, await confirmationTo(PEOPLE.bob), 'workflow_confirm');
      const { id } = await nthApproval(sandbox);
      const home = await homeShows(PEOPLE.alice, new RegExp(id));
      expectValidHomeView(home);
      expect(JSON.stringify(home)).toContain('for you, asked by <@U0BOB>');
      expect(JSON.stringify(home)).toContain(
        `"action_id":"request_not_me","text":{"type":"plain_text","text":"Not me"},"value":"${id}"`,
      );
    });

    it('refreshes the people a request concerns however many others watch their Home', async () => {
      await start('home-many');
      await homeOf(PEOPLE.alice, /Your requests/);
      const redis = new Redis(TEST_REDIS_URL);
      const keys = redisKeys(sandbox.config.redis.prefix);
      const now = Date.now();
      await redis.zadd(
        keys.homeViewers,
        ...Array.from({ length: 600 }, (_, i) => [now + i + 1, `U0FAKE${i}`]).flat(),
      );
      await redis.quit();
      const { id } = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because x`,
      );
      await homeShows(PEOPLE.alice, new RegExp(id));
    });

    it('keeps refreshing a viewer Slack could not look up for a moment', async () => {
      await start('home-unknown');
      await homeOf(PEOPLE.alice, /Your requests/);
      await homeOf(PEOPLE.bob, /Your requests/);
      // The next users.info fails: the worker's first look-up for a refresh, not the bot's (cached).
      sandbox.slack.fail({ method: 'users.info', error: 'internal_error', times: 1 });
      const { id } = await requestAs(
        sandbox,
        PEOPLE.alice,
        `request ${READ} on payments-prod for 1h because x`,
      );
      await homeShows(PEOPLE.bob, new RegExp(`"value":"${id}"`));
      await homeShows(PEOPLE.alice, new RegExp(id));
      expect(sandbox.slack.callsTo('users.info').filter((c) => !c.ok)).toHaveLength(1);
      const redis = new Redis(TEST_REDIS_URL);
      const viewers = await redis.zrange(redisKeys(sandbox.config.redis.prefix).homeViewers, 0, -1);
      await redis.quit();
      expect(viewers.sort()).toEqual([PEOPLE.alice.id, PEOPLE.bob.id]);
    });
  });

  describe('request form', () => {
    /** The `n`th modal views.open opened, as the simulator holds it (with its id). */
    const opened = (n: number) =>
      waitUntil(
        () => sandbox.slack.events.filter((e) => e.kind === 'view' && e.user !== undefined)[n],
        5_000,
        'the modal',
      ).then((event) => (event.kind === 'view' ? event.view : {}));
    const target = (name: string): ViewValues[string] => ({
      value: {
        type: 'static_select',
        selected_option: { text: { type: 'plain_text', text: name }, value: name },
      },
    });
    const roles = (...values: string[]): ViewValues[string] => ({
      value: {
        type: 'checkboxes',
        selected_options: values.map((value) => ({ text: { type: 'plain_text', text: value }, value })),
      },
    });
    /** The modal after the `n`th views.update. */
    const updated = (viewId: string, n: number) =>
      waitUntil(
        () => {
          const updates = sandbox.slack.callsTo('views.update').filter((c) => c.args.view_id === viewId);
          return updates[n - 1] ? sandbox.slack.viewById(viewId) : undefined;
        },
        5_000,
        `update ${n} of the modal`,
      );

    it('opens from the global shortcut and from the Home tab', async () => {
      await start('shortcut');
      await sandbox.driver.shortcut(PEOPLE.alice, 'request_access');
      const fromShortcut = await opened(0);
      const { id: _id, hash: _hash, state: _state, ...asSent } = fromShortcut;
      expectValidModal(asSent);
      expect(fromShortcut.callback_id).toBe('request_access');
      const home = await homeOf(PEOPLE.alice, /home_request_access/);
      await sandbox.driver.clickInView(PEOPLE.alice, home, 'home_request_access');
      expect((await opened(1)).callback_id).toBe('request_access');
    });

    it('guides: the target brings its roles, current roles, durations and who decides; too long is a field error', async () => {
      await start('guided');
      await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
      const view = await opened(0);
      const { id: _id, hash: _hash, state: _state, ...asSent } = view;
      expectValidModal(asSent);
      expect(JSON.stringify(view)).not.toContain('"block_id":"roles"');
      const viewId = String(view.id);
      await sandbox.driver.chooseInView(PEOPLE.alice, view, 'target', { target: target('payments-prod') });
      const guided = await updated(viewId, 1);
      const { id: _gid, hash: _ghash, state: _gstate, ...guidedAsSent } = guided ?? {};
      expectValidModal(guidedAsSent);
      const text = JSON.stringify(guided);
      expect(text).toContain('Your roles on *payments-prod*: `GROUP_READ_ONLY`');
      expect(text).toContain('"type":"checkboxes"');
      expect(text).not.toContain('"block_id":"grantee"');
      expect(text).toContain('An approver decides: <@U0BOB>, <@U0CAROL>');
      expect(text).toContain('"value":"8h"');
      expect(text).not.toContain('"value":"12h"');
      expect(text).not.toContain('"value":"permanent"');

      await sandbox.driver.chooseInView(PEOPLE.alice, guided ?? view, 'roles', {
        target: target('payments-prod'),
        roles: roles(WRITE),
      });
      const narrowed = await updated(viewId, 2);
      expect(JSON.stringify(narrowed)).toContain('At most 1h for these roles.');
      expect(JSON.stringify(narrowed)).not.toContain('"value":"2h"');

      // A duration picked before the roles changed: the submission says what is wrong, on that field.
      const values: ViewValues = {
        target: target('payments-prod'),
        roles: roles(WRITE),
        duration: {
          value: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: '8h' }, value: '8h' },
          },
        },
        reason: { value: { type: 'plain_text_input', value: 'migration' } },
      };
      const rejected = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, values);
      expect(rejected.json).toEqual({
        response_action: 'errors',
        errors: {
          duration: `Access to ${WRITE} on payments-prod may last at most 1h; you asked for 8h.`,
        },
      });
      const accepted = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, {
        ...values,
        duration: {
          value: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: '1h' }, value: '1h' },
          },
        },
      });
      expect(accepted.status).toBe(200);
      const id = requestIdIn(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /Request \*AR-[0-9A-Z]+\*/));
      const request = await waitForState(sandbox, id, 'pending');
      expect(request).toMatchObject({
        requesterId: PEOPLE.alice.id,
        granteeId: PEOPLE.alice.id,
        durationSeconds: 3600,
      });
    });

    it('offers "who needs access" only to people who may ask for others', async () => {
      await start('guided-on-behalf');
      await sandbox.driver.command(PEOPLE.bob, '', CHANNELS.general);
      const view = await opened(0);
      const viewId = String(view.id);
      await sandbox.driver.chooseInView(PEOPLE.bob, view, 'target', {
        target: target('payments-prod'),
      });
      const guided = await updated(viewId, 1);
      expect(JSON.stringify(guided)).toContain('"block_id":"grantee"');
      expect(JSON.stringify(guided)).toContain(`"initial_user":"${PEOPLE.bob.id}"`);
    });

    it('loads targets as people type when there are more than 100', async () => {
      const many = Array.from(
        { length: 120 },
        (_, i) =>
          `  - name: team-${String(i).padStart(3, '0')}\n    project: ${(i + 1).toString(16).padStart(24, 'a')}\n    approvers: [U0BOB]\n    roles: [GROUP_READ_ONLY]\n`,
      ).join('');
      await start('external-select', `${SANDBOX_POLICY}${many}`);
      await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
      const view = await opened(0);
      const { id: _id, hash: _hash, state: _state, ...asSent } = view;
      expectValidModal(asSent);
      expect(JSON.stringify(view)).toContain('"type":"external_select"');
      const suggestion = await sandbox.driver.suggest(PEOPLE.alice, view, 'target', 'team-11');
      expect(((suggestion.json?.options ?? []) as { value: string }[]).map((o) => o.value)).toEqual(
        Array.from({ length: 10 }, (_, i) => `team-11${i}`),
      );
    });
  });

  describe('Workflow Builder step', () => {
    /** The step's inputs; `interactivity` is Slack's record of who started the workflow. */
    const inputs = (overrides: Record<string, unknown> = {}, runBy: Person = PEOPLE.alice) => ({
      target: 'payments-prod',
      roles: READ,
      duration: '1h',
      reason: 'onboarding workflow',
      interactivity: { interactivity_pointer: '1.2.abc', interactor: { id: runBy.id, secret: 'x' } },
      ...overrides,
    });

    it('files the request for the workflow user and completes with its id and state once approved, across a restart', async () => {
      await start('workflow');
      const run = await sandbox.driver.executeFunction('request_atlas_access', inputs());
      expect(run.status).toBe(200);
      const { id, approval } = await nthApproval(sandbox);
      const pending = await waitForState(sandbox, id, 'pending');
      expect(pending).toMatchObject({
        requesterId: PEOPLE.alice.id,
        granteeId: PEOPLE.alice.id,
        roles: [READ],
        durationSeconds: 3600,
        workflow: { executionId: run.executionId },
      });
      expect(sandbox.slack.functionOutcome(run.executionId)).toBeUndefined();
      // Slack fails the first completion; the app restarts before the retry.
      sandbox.slack.fail({ method: 'functions.completeSuccess', error: 'internal_error', times: 1 });
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForState(sandbox, id, 'applied');
      await waitUntil(
        () => (sandbox.slack.callsTo('functions.completeSuccess').length > 0 ? true : undefined),
        5_000,
      );
      await sandbox.restart();
      const outcome = await waitUntil(
        () => sandbox.slack.functionOutcome(run.executionId),
        20_000,
        'the step to complete',
      );
      expect(outcome).toMatchObject({
        outcome: 'success',
        outputs: { request_id: id, state: 'applied' },
      });
      expect(sandbox.slack.callsTo('functions.completeSuccess').filter((c) => c.ok)).toHaveLength(1);
    });

    it('files one request when Slack delivers the same step execution twice', async () => {
      await start('workflow-twice');
      const run = await sandbox.driver.executeFunction('request_atlas_access', inputs());
      const { id } = await nthApproval(sandbox);
      await waitForState(sandbox, id, 'pending');
      expect((await run.redeliver()).status).toBe(200);
      await waitForApprovalMessage(sandbox.slack, id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // No second request: the store holds this one only.
      expect(await storedRequestIds(sandbox.config.redis)).toEqual([id]);
      expect(sandbox.slack.functionOutcome(run.executionId)).toBeUndefined();
    });

    it('takes the requester from Slack, not from the workflow author: someone else is an on-behalf request, once they confirm', async () => {
      await start('workflow-who');
      const noInteractor = await sandbox.driver.executeFunction('request_atlas_access', {
        ...inputs(),
        interactivity: undefined,
      });
      expect(
        await waitUntil(() => sandbox.slack.functionOutcome(noInteractor.executionId), 5_000, 'a failure'),
      ).toMatchObject({ outcome: 'error', error: expect.stringContaining('Who runs the workflow') });
      // A workflow whose author named alice, run by mallory: mallory is asked first (nothing is done in
      // her name before), and her Confirm is a request for alice, which only onBehalf people may make.
      const forged = await sandbox.driver.executeFunction(
        'request_atlas_access',
        inputs({ user: PEOPLE.alice.id }, PEOPLE.mallory),
      );
      await sandbox.driver.clickButton(
        PEOPLE.mallory,
        await confirmationTo(PEOPLE.mallory),
        'workflow_confirm',
      );
      expect(
        await waitUntil(() => sandbox.slack.functionOutcome(forged.executionId), 5_000, 'a failure'),
      ).toMatchObject({
        outcome: 'error',
        error: expect.stringContaining('You can’t ask for access for someone else on payments-prod'),
      });
      // An approver may: alice gets Not me, and the message says where it came from.
      const onBehalf = await sandbox.driver.executeFunction(
        'request_atlas_access',
        inputs({ user: PEOPLE.alice.id }, PEOPLE.bob),
      );
      await sandbox.driver.clickButton(PEOPLE.bob, await confirmationTo(PEOPLE.bob), 'workflow_confirm');
      const { id, approval } = await nthApproval(sandbox);
      const request = await waitForState(sandbox, id, 'pending');
      expect(request).toMatchObject({ requesterId: PEOPLE.bob.id, granteeId: PEOPLE.alice.id });
      // The first request stored: the two refused runs stored none.
      expect(await storedRequestIds(sandbox.config.redis)).toEqual([id]);
      expect(blockText(approval)).toContain(
        '<@U0BOB> asks for Atlas access for <@U0ALICE> through a Workflow Builder step',
      );
      await waitUntil(
        () =>
          sandbox.slack
            .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
            .find((m) => m.text.includes('Not me')),
        5_000,
        'the Not me notice',
      );
      expect(sandbox.slack.functionOutcome(onBehalf.executionId)).toBeUndefined();
    });

    it('reports the decision that ended the step even when the request moved on before the completion got through', async () => {
      await start('workflow-late');
      const run = await sandbox.driver.executeFunction('request_atlas_access', inputs());
      const { id, approval } = await nthApproval(sandbox);
      sandbox.slack.fail({ method: 'functions.completeSuccess', error: 'internal_error', times: 2 });
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForState(sandbox, id, 'applied');
      await sandbox.driver.command(PEOPLE.alice, `end ${id}`, CHANNELS.general);
      await waitForState(sandbox, id, 'revoked');
      const outcome = await waitUntil(
        () => sandbox.slack.functionOutcome(run.executionId),
        30_000,
        'the step',
      );
      expect(outcome).toMatchObject({
        outcome: 'success',
        outputs: { request_id: id, state: 'applied' },
      });
    });

    it('ends the step with the reason in words when the policy refuses the request', async () => {
      await start('workflow-refused');
      const run = await sandbox.driver.executeFunction(
        'request_atlas_access',
        inputs({ roles: 'GROUP_OWNER' }),
      );
      const outcome = await waitUntil(
        () => sandbox.slack.functionOutcome(run.executionId),
        5_000,
        'the step to fail',
      );
      expect(outcome).toMatchObject({
        outcome: 'error',
        error: expect.stringContaining('GROUP_OWNER cannot be requested on payments-prod'),
      });
      expect(await storedRequestIds(sandbox.config.redis)).toEqual([]);
    });

    it('completes with the state a denial leaves', async () => {
      await start('workflow-denied');
      const run = await sandbox.driver.executeFunction('request_atlas_access', inputs());
      const { id, approval } = await nthApproval(sandbox);
      await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_deny');
      const view = JSON.parse(
        String(
          (await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal')).args.view,
        ),
      ) as Record<string, unknown>;
      await sandbox.driver.submitView(PEOPLE.carol, view, {
        reason: { value: { type: 'plain_text_input', value: 'not this week' } },
      });
      const outcome = await waitUntil(
        () => sandbox.slack.functionOutcome(run.executionId),
        10_000,
        'the step',
      );
      expect(outcome).toMatchObject({
        outcome: 'success',
        outputs: { request_id: id, state: 'denied' },
      });
      expect(puts()).toEqual([]);
    });
  });

  it('answers every surface for a guest only where the policy lets them', async () => {
    await start('home-guest');
    const home = await homeOf(PEOPLE.gus, /Your access/);
    expectValidHomeView(home);
    expect(JSON.stringify(home)).not.toContain('Waiting for you');
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.gus,
      `request ${READ} on payments-prod for 1h because x`,
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.gus, since, /guest/)).toContain('guest account');
  });
});
