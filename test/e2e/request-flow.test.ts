import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  blockText,
  ephemeralTexts,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
  waitForThreadReply,
} from '../../dev/slack-flow.js';
import { expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import { FLOW_FLAVORS, onRoleWrites, writesIn } from '../support/flow-flavors.js';
import { uniquePrefix } from '../support/redis.js';
import { REDIS_BACKENDS, useRedisBackend } from '../support/redis-cluster.js';

const PROJECT = { kind: 'project', id: ATLAS.project.id } as const;
/** Alice's project membership, where her project roles are written. */
const ALICE_IN_PROJECT = `/api/atlas/v2/groups/${ATLAS.project.id}/users/${ATLAS.userIds.alice}`;
/** What someone without an Atlas account is told, per flavor: what to wait for, then what it says. */
const NO_ATLAS_USER = {
  'atlas-v2': [/No Atlas user/, 'USERNAME_NOT_FOUND'],
  'atlas-v2-2025': [
    /not a member of the Atlas organization/,
    `dave@example.com is not a member of the Atlas organization ${ATLAS.org.id}; invite them first.`,
  ],
} as const;
const RUNS = REDIS_BACKENDS.flatMap((redis) => FLOW_FLAVORS.map((flavor) => ({ ...redis, flavor })));

describe.each(RUNS)(
  'request flow (end to end, HTTP mode) on $backend, ATLAS_API=$flavor.api',
  ({ cluster, flavor }) => {
    let sandbox: Sandbox;
    const redis = useRedisBackend(cluster);

    beforeEach(async () => {
      sandbox = await startSandbox({
        ...redis.sandboxRedis(),
        prefix: uniquePrefix('e2e'),
        atlasApi: flavor.api,
      });
    });

    /** The writes, as the simulator saw them, that take alice's project roles from `before` to `after`. */
    const aliceWrites = (before: readonly string[], after: readonly string[]) =>
      flavor.projectWrites(before, after).map((w) => ({
        method: flavor.roleWrite.method,
        path: `${ALICE_IN_PROJECT}${w.suffix}`,
        status: 200,
        auth: 'digest',
        mediaType: flavor.mediaType,
        body: w.body,
      }));

    afterEach(async () => {
      await sandbox.stop();
    });

    const requestAs = async (user: (typeof PEOPLE)[keyof typeof PEOPLE], line: string) => {
      const ack = await sandbox.driver.command(user, `request ${line}`, CHANNELS.general);
      expect(ack.status).toBe(200);
      const confirmation = await waitForEphemeral(sandbox.slack, user.id, /Request \*AR-[0-9A-Z]+\*/);
      return requestIdIn(confirmation);
    };

    it('posts an approval message with who and what, and shows current roles only to approvers and the grantee', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 4h because incident 42',
      );
      expect(ephemeralTexts(sandbox.slack, PEOPLE.alice.id)[0]).toContain(
        'Rolecall is checking your request',
      );
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /waiting for approval/)).toContain(
        `Request *${id}* is waiting for approval in <#${CHANNELS.approvals}>`,
      );

      const approval = await waitForApprovalMessage(sandbox.slack, id);
      expectValidMessageBlocks(approval.blocks);
      const shown = blockText(approval);
      expect(shown).toContain(`<@${PEOPLE.alice.id}> asks for Atlas access`);
      expect(shown).toContain('*payments-prod*');
      expect(shown).toContain('alice@example.com');
      expect(shown).not.toContain('GROUP_READ_ONLY');
      expect(shown).toContain('4h, then revoked automatically');
      expect(shown).toContain('incident 42');
      expect(shown).toContain('"action_id":"request_approve"');
      expect(shown).toContain('"action_id":"request_deny"');

      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_details');
      const details = await waitForEphemeral(sandbox.slack, PEOPLE.bob.id, /Current roles/);
      expect(details).toContain('*Current roles*: `GROUP_READ_ONLY`');
      expect(details).toContain('*Roles after approval*: `GROUP_READ_ONLY`, `GROUP_DATA_ACCESS_READ_ONLY`');
      await sandbox.driver.clickButton(PEOPLE.mallory, approval, 'request_details');
      expect(
        await waitForEphemeral(sandbox.slack, PEOPLE.mallory.id, /can see their current roles/),
      ).toContain(
        'Only the person it is for and the approvers of payments-prod can see their current roles.',
      );
    });

    it('applies the change in Atlas after an approver approves, then reports in place, in the thread and by DM', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because incident 42',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);

      const click = await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      expect(click.status).toBe(200);

      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      expect(dm.text).toContain(`${id} approved by <@${PEOPLE.bob.id}> and applied`);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT).sort()).toEqual([
        'GROUP_DATA_ACCESS_READ_ONLY',
        'GROUP_READ_ONLY',
      ]);

      const writes = writesIn(sandbox.atlas.authenticatedCalls());
      expect(
        writes.map(({ method, path, status, auth, mediaType, body }) => ({
          method,
          path,
          status,
          auth,
          mediaType,
          body,
        })),
      ).toEqual(aliceWrites(['GROUP_READ_ONLY'], ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY']));

      expect(dm.text).toContain('Roles now: `GROUP_READ_ONLY`, `GROUP_DATA_ACCESS_READ_ONLY`');
      const reply = await waitForThreadReply(sandbox.slack, approval, /applied/);
      expect(reply.text).not.toContain('Roles now');
      const updated = await waitUntil(
        () => (/applied\* in Atlas/.test(blockText(approval)) ? approval : undefined),
        5_000,
      );
      expect(blockText(updated)).not.toContain('request_approve');
      expect(blockText(updated)).toContain(`Approved by <@${PEOPLE.bob.id}>`);
      expectValidMessageBlocks(updated.blocks);
    });

    it('refuses a non-approver and changes nothing', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because incident 42',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);

      await sandbox.driver.clickButton(PEOPLE.mallory, approval, 'request_approve');
      const refusal = await waitForEphemeral(sandbox.slack, PEOPLE.mallory.id, /can’t approve/);
      expect(refusal).toContain(
        'only the approvers of GROUP_DATA_ACCESS_READ_ONLY on payments-prod can decide on it.\nWho may: <@U0BOB>, <@U0CAROL>.',
      );
      expect(approval.updates).toBe(0);
      expect(writesIn(sandbox.atlas.calls)).toEqual([]);
    });

    it('refuses self-approval by an approver who asked for themselves', async () => {
      const id = await requestAs(PEOPLE.bob, 'GROUP_DATA_ACCESS_READ_WRITE on payments-prod because deploy');
      const approval = await waitForApprovalMessage(sandbox.slack, id);

      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForEphemeral(
        sandbox.slack,
        PEOPLE.bob.id,
        /can’t decide on a request that you made or that gives you access/,
      );
      expect(approval.updates).toBe(0);
      expect(writesIn(sandbox.atlas.calls)).toEqual([]);
    });

    it('denies with a reason from the modal and tells the requester', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_WRITE on payments-prod because migration',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);

      await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_deny');
      const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'deny modal');
      const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
      expectValidModal(view);
      expect(view.callback_id).toBe('deny_request');

      const submit = await sandbox.driver.submitView(PEOPLE.carol, view, {
        reason: { value: { type: 'plain_text_input', value: 'use the read-only replica <!here>' } },
      });
      expect(submit.status).toBe(200);

      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /denied/);
      expect(dm.text).toContain(
        `${id} was denied by <@${PEOPLE.carol.id}>: “use the read-only replica &lt;!here&gt;”`,
      );
      await waitForThreadReply(sandbox.slack, approval, /denied/);
      expect(blockText(approval)).toContain('*Denied* by <@U0CAROL>');
      expect(blockText(approval)).not.toContain('request_approve');
      expect(writesIn(sandbox.atlas.calls)).toEqual([]);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
    });

    it('takes a request from the modal, with field errors for a bad duration', async () => {
      await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
      const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'request modal');
      const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
      expectValidModal(view);

      const values = (duration: string) => ({
        target: {
          value: {
            type: 'static_select',
            selected_option: { text: { type: 'plain_text', text: 'acme' }, value: 'acme' },
          },
        },
        grantee: { value: { type: 'users_select', selected_user: PEOPLE.alice.id } },
        roles: {
          value: {
            type: 'multi_static_select',
            selected_options: [
              { text: { type: 'plain_text', text: 'ORG_READ_ONLY' }, value: 'ORG_READ_ONLY' },
            ],
          },
        },
        duration: { value: { type: 'plain_text_input', value: duration } },
        reason: { value: { type: 'plain_text_input', value: 'audit' } },
      });
      const rejected = await sandbox.driver.submitView(PEOPLE.alice, view, values('tomorrow'));
      expect(rejected.json).toEqual({
        response_action: 'errors',
        errors: { duration: 'Use a number and a unit: 30m, 4h, 2d.' },
      });

      const accepted = await sandbox.driver.submitView(PEOPLE.alice, view, values('2h'));
      expect(accepted.status).toBe(200);
      const confirmation = await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/);
      const approval = await waitForApprovalMessage(sandbox.slack, requestIdIn(confirmation));
      expect(blockText(approval)).toContain('organization *acme*');
      expect(blockText(approval)).toContain('organization *acme*');

      await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, { kind: 'org', id: ATLAS.org.id }).sort()).toEqual([
        'ORG_MEMBER',
        'ORG_READ_ONLY',
      ]);
    });

    it('revokes a short temporary grant when it ends, removing exactly what was added', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 2s because quick look',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');

      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /ended/, 15_000);
      expect(dm.text).toContain('removed `GROUP_DATA_ACCESS_READ_ONLY` from alice@example.com');
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
      await waitForThreadReply(sandbox.slack, approval, /ended/);
      const writes = writesIn(sandbox.atlas.authenticatedCalls());
      expect(writes.map((c) => ({ path: c.path, body: c.body }))).toEqual(
        [
          ...aliceWrites(['GROUP_READ_ONLY'], ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY']),
          ...aliceWrites(['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'], ['GROUP_READ_ONLY']),
        ].map((w) => ({ path: w.path, body: w.body })),
      );
    });

    it('shows the requester the Atlas errorCode in words, and the approvers also its detail', async () => {
      sandbox.atlas.inject(
        onRoleWrites(flavor, {
          status: 400,
          body: {
            error: 400,
            errorCode: 'INVALID_ROLE_FOR_GROUP',
            detail: 'Role GROUP_DATA_ACCESS_READ_ONLY is invalid for group x (request from 203.0.113.9).',
          },
        }),
      );
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because incident 42',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');

      const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /could not be applied/);
      expect(dm.text).toContain(
        'Atlas does not accept this role for a project. (Atlas INVALID_ROLE_FOR_GROUP)',
      );
      expect(dm.text).not.toContain('203.0.113.9');
      const thread = await waitForThreadReply(sandbox.slack, approval, /could not be applied/);
      expect(thread.text).toContain('(Atlas INVALID_ROLE_FOR_GROUP)');
      expect(thread.text).not.toContain('203.0.113.9');
      const failed = await waitUntil(
        () => (/\*failed\*/.test(blockText(approval)) ? approval : undefined),
        5_000,
      );
      expect(blockText(failed)).not.toContain('203.0.113.9');
      await sandbox.driver.clickButton(PEOPLE.bob, failed, 'request_details');
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.bob.id, /What Atlas said/)).toContain(
        'Role GROUP_DATA_ACCESS_READ_ONLY is invalid for group x (request from 203.0.113.9).',
      );
      await sandbox.driver.clickButton(PEOPLE.alice, failed, 'request_details');
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Current roles/)).not.toContain(
        '203.0.113.9',
      );
    });

    it('answers a malformed line with what is wrong and an example, storing nothing', async () => {
      const ack = await sandbox.driver.command(
        PEOPLE.alice,
        'request GROUP_READ_ONLY payments-prod because x',
        CHANNELS.general,
      );
      expect(ack.json?.response_type).toBe('ephemeral');
      expect(String(ack.json?.text)).toContain('Say which org or project the roles are for: "on TARGET".');
      expect(String(ack.json?.text)).toContain(
        'For example: `/atlas-access request GROUP_READ_ONLY on payments-prod for 4h',
      );
      expect(sandbox.slack.callsTo('chat.postMessage')).toEqual([]);
    });

    it('explains every form of the command on help', async () => {
      const ack = await sandbox.driver.command(PEOPLE.alice, 'help', CHANNELS.general);
      expect(ack.json?.response_type).toBe('ephemeral');
      expectValidMessageBlocks(ack.json?.blocks);
      const text = JSON.stringify(ack.json?.blocks);
      expect(text).toContain(
        '/atlas-access request ROLE[,ROLE...] on TARGET [from START] [for DURATION] [ticket KEY] because REASON',
      );
      expect(text).toContain('*payments-prod* (project)');
    });

    it('escapes user text so a reason cannot ping a channel or hide a link', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because <!channel> & <https://evil.example|docs>',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      const shown = blockText(approval);
      expect(shown).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|docs&gt;');
      expect(shown).not.toContain('<!channel>');
    });

    it('keeps requests across a restart: a request made before it is approved and applied after', async () => {
      const id = await requestAs(
        PEOPLE.alice,
        'GROUP_DATA_ACCESS_READ_ONLY on payments-prod because restart',
      );
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      await sandbox.restart();
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
      expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    });

    it('withdraws the request and says why when the approvals channel cannot be posted to', async () => {
      sandbox.slack.fail({ method: 'chat.postMessage', error: 'not_in_channel' });
      await sandbox.driver.command(
        PEOPLE.alice,
        'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because x',
        CHANNELS.general,
      );
      const reply = await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /could not post/);
      expect(reply).toContain(
        'was cancelled by Rolecall: Rolecall could not post it in the approvals channel (not_in_channel)',
      );
      expect(sandbox.slack.callsTo('chat.postMessage').map((c) => c.ok)).toEqual([false]);
    });

    it('tells the requester at once when they have no Atlas user or are not a member of the target', async () => {
      await sandbox.driver.command(
        PEOPLE.dave,
        'request GROUP_READ_ONLY on payments-prod because x',
        CHANNELS.general,
      );
      // atlas-v2 reads the user by name and hears USERNAME_NOT_FOUND; atlas-v2-2025 looks them up in
      // the organization's member list, where no account and no membership look the same.
      const [noUser, words] = NO_ATLAS_USER[flavor.api];
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.dave.id, noUser)).toContain(words);
      await sandbox.driver.command(
        PEOPLE.mallory,
        'request GROUP_READ_ONLY on payments-prod because x',
        CHANNELS.general,
      );
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.mallory.id, /not in the project/)).toContain(
        'mallory@example.com is not in the project payments-prod. Rolecall can add them for temporary access',
      );
      await sandbox.driver.command(
        PEOPLE.alice,
        'request GROUP_READ_ONLY on payments-staging because x',
        CHANNELS.general,
      );
      expect(await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /no target/)).toContain(
        'Known targets: payments-prod, acme',
      );
      expect(sandbox.slack.callsTo('chat.postMessage')).toEqual([]);
    });

    it('rejects a request whose signature is forged, before any handler runs', async () => {
      const body = new URLSearchParams({
        command: '/atlas-access',
        text: 'help',
        user_id: PEOPLE.alice.id,
      }).toString();
      const forged = {
        ...sandbox.driver.sign(body),
        'x-slack-signature': 'v0=0000000000000000000000000000000000000000000000000000000000000000',
      };
      expect((await sandbox.driver.sendRaw(body, forged)).status).toBe(401);
      const stale = sandbox.driver.sign(body, Math.floor(Date.now() / 1000) - 10 * 60);
      expect((await sandbox.driver.sendRaw(body, stale)).status).toBe(401);
      expect(sandbox.slack.calls.filter((c) => c.method !== 'auth.test')).toEqual([]);
    });

    it('reports healthy on GET /healthz while Redis answers', async () => {
      const response = await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });
  },
);
