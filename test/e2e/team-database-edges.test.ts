import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { requestIdIn } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import { ephemeralAfter, readAudit, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const GROUP = ATLAS.project.id;
const CLUSTER = 'payments-0';
const ONCALL = { id: '6d0000000000000000000001', name: 'platform-oncall' };
const ADDRESS = '198.51.100.7/32';

/** The sandbox policy: payments-prod offers one database access level (with the access list), acme a team. */
const POLICY = `${SANDBOX_POLICY.replace(
  '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
  `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    database:
      auth: password
      accessList: ask
      levels:
        orders-read:
          roles: [{role: read, db: orders}]
          clusters: [${CLUSTER}]
`,
)}    teams: [${ONCALL.name}]
`;

describe('team and database grants at the edges (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, env: Readonly<Record<string, string>> = {}, policy = POLICY) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', ...env },
      policy,
      atlasApi: 'atlas-v2-2025',
      atlas: {
        clusters: [{ groupId: GROUP, name: CLUSTER }],
        teams: [{ ...ONCALL, orgId: ATLAS.org.id, members: [], projectRoles: {} }],
      },
    });
  };

  describe('request form', () => {
    const opened = () =>
      waitUntil(
        () => sandbox.slack.events.find((e) => e.kind === 'view' && e.user !== undefined),
        5_000,
        'the modal',
      ).then((event) => (event.kind === 'view' ? event.view : {}));
    const updated = (viewId: string, n: number) =>
      waitUntil(
        () => {
          const updates = sandbox.slack.callsTo('views.update').filter((c) => c.args.view_id === viewId);
          return updates[n - 1] ? sandbox.slack.viewById(viewId) : undefined;
        },
        5_000,
        `update ${n} of the modal`,
      );
    const select = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const checked = (...values: string[]): ViewValues[string] => ({
      value: {
        type: 'checkboxes',
        selected_options: values.map((value) => ({ text: { type: 'plain_text', text: value }, value })),
      },
    });

    /** Alice picks `target`, then `item`, then submits for `duration`; returns the request filed. */
    const askInForm = async (target: string, item: string, duration: string) => {
      await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
      const view = await opened();
      const viewId = String(view.id);
      await sandbox.driver.chooseInView(PEOPLE.alice, view, 'target', { target: select(target) });
      const guided = await updated(viewId, 1);
      const { id: _id, hash: _hash, state: _state, ...asSent } = guided ?? {};
      expectValidModal(asSent);
      expect(JSON.stringify(guided)).toContain(`"value":"${item}"`);
      await sandbox.driver.chooseInView(PEOPLE.alice, guided ?? view, 'roles', {
        target: select(target),
        roles: checked(item),
      });
      const narrowed = await updated(viewId, 2);
      expect(JSON.stringify(narrowed)).toContain(`"value":"${duration}"`);
      const since = sandbox.slack.events.length;
      const answer = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, {
        target: select(target),
        roles: checked(item),
        duration: select(duration),
        reason: { value: { type: 'plain_text_input', value: 'incident 12' } },
      });
      expect(answer.status).toBe(200);
      expect(answer.json?.response_action).toBeUndefined();
      return requestIdIn(await ephemeralAfter(sandbox, PEOPLE.alice, since, /Request \*AR-[0-9A-Z]+\*/));
    };

    it('offers db:LEVEL on a project that also offers roles, and files it from the form', async () => {
      await start('edge-form-db');
      const id = await askInForm(ATLAS.project.name, 'db:orders-read', '2h');
      const pending = await waitForState(sandbox, id, 'pending');
      expect(pending.roles).toEqual(['db:orders-read']);
      expect(pending.durationSeconds).toBe(7200);
      expect(pending.database?.username).toMatch(/^rc-alice-orders-read-/);
    }, 30_000);

    it('offers team:NAME on an organization and files it from the form', async () => {
      await start('edge-form-team');
      const id = await askInForm(ATLAS.org.name, `team:${ONCALL.name}`, '4h');
      const pending = await waitForState(sandbox, id, 'pending');
      expect(pending.roles).toEqual([`team:${ONCALL.name}`]);
      expect(pending.target.kind).toBe('org');
    }, 30_000);
  });

  it('sends Atlas no write for a database grant in a dry run, and its audit says what it would have sent, without the password', async () => {
    await start('edge-dry-db', { ATLAS_DRY_RUN: 'true' });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for 1h because dry run`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method !== 'GET')).toEqual([]);
    expect(sandbox.atlas.databaseUsers(GROUP)).toEqual([]);
    // What it would have sent: the database user, its password redacted.
    const dryRun = applied.grant?.dryRun ?? [];
    expect(dryRun).toHaveLength(1);
    expect(dryRun[0]).toMatch(new RegExp(`^POST /api/atlas/v2/groups/${GROUP}/databaseUsers \\{`));
    expect(dryRun[0]).toContain('"password":"[redacted]"');
    const entry = (await readAudit(sandbox, asked.id)).find((e) => e.to === 'applied');
    expect(entry?.detail).toContain(`[dryRun: not sent: ${dryRun[0]}]`);
    expect(JSON.stringify(await readAudit(sandbox, asked.id))).not.toMatch(
      /"password\\?":\\?"(?!\[redacted\])/,
    );
    // The grantee is told it was a dry run, and offered no password for a user that does not exist.
    const dm = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m: SimulatedMessage) => m.text.includes(asked.id) && m.text.includes('would have sent')),
      5_000,
      'the applied DM',
    );
    expect(JSON.stringify(dm.blocks ?? [])).not.toContain('db_password_show');
  }, 30_000);

  it('keeps the grantee’s address on the access list when an extension’s write fails once and is retried', async () => {
    await start('edge-extend-acl', { ATLAS_MAX_RETRIES: '0' });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for 1h because invoices are stuck`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const dm = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m: SimulatedMessage) => m.text.includes(applied.id) && m.text.includes('database user')),
      5_000,
      'the applied DM',
    );
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.alice, dm, 'db_address_add');
    const modal = await waitUntil(
      () =>
        sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'view' && e.user === PEOPLE.alice.id ? e.view : undefined))
          .find((v) => v !== undefined),
      5_000,
      'the address modal',
    );
    await sandbox.driver.submitView(PEOPLE.alice, modal, {
      address: { value: { type: 'plain_text_input', value: ADDRESS } },
    });
    await waitUntil(
      () => (sandbox.atlas.accessList(GROUP).some((e) => e.cidrBlock === ADDRESS) ? true : undefined),
      8_000,
      'the address on the access list',
    );

    // The extension's re-adding of the entry fails once (Atlas 503); its job is retried.
    sandbox.atlas.inject({
      method: 'POST',
      path: new RegExp(`/groups/${GROUP}/accessList$`),
      status: 503,
      times: 1,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE', detail: 'down' },
    });
    const extension = await requestAs(
      sandbox,
      PEOPLE.alice,
      `extend ${asked.id} for 2h because the migration runs late`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, extension.approval, 'request_approve');
    await waitForState(sandbox, extension.id, 'applied', 20_000);
    const to = (await readRequest(sandbox, asked.id)).grant?.revokeAt ?? 0;
    expect(to).toBe((applied.grant?.revokeAt ?? 0) + 2 * 3600_000);
    const failed = sandbox.atlas
      .authenticatedCalls()
      .filter((c) => c.method === 'POST' && c.path.endsWith('/accessList'));
    expect(failed.map((c) => c.status)).toContain(503);
    // Still on the list, now until the new end.
    const entry = sandbox.atlas.accessList(GROUP).find((e) => e.cidrBlock === ADDRESS);
    expect(entry?.deleteAfterDate).toBe(new Date(to).toISOString());
  }, 45_000);

  it('sends the grantee a DM within Slack’s limits for an access level with many roles', async () => {
    // 40 roles, each on its own database and collection: the "applied" words run past 3000 characters.
    const roles = Array.from(
      { length: 40 },
      (_, i) =>
        `{role: readWrite, db: database_with_a_long_name_${i}, collection: collection_with_a_rather_long_name_${i}}`,
    ).join(', ');
    const wide = POLICY.replace('roles: [{role: read, db: orders}]', `roles: [${roles}]`);
    await start('edge-wide-level', {}, wide);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for 1h because a wide level`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.database?.roles).toHaveLength(40);
    expectValidMessageBlocks(sandbox.slack.message(CHANNELS.approvals, asked.approval.ts)?.blocks);
    const dm = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m: SimulatedMessage) => m.text.includes(applied.id) && m.text.includes('database user')),
      5_000,
      'the applied DM',
    );
    expectValidMessageBlocks(dm.blocks);
    expect(JSON.stringify(dm.blocks)).toContain('db_password_show');
  }, 30_000);

  it('offboarding ends a team grant and a database grant: out of the team, the database user deleted', async () => {
    const offboardable = POLICY.replace(
      `approvalsChannel: ${CHANNELS.approvals}\n`,
      `approvalsChannel: ${CHANNELS.approvals}\noffboarders: [${PEOPLE.carol.id}]\noffboardApprovers: [${PEOPLE.bob.id}]\n`,
    );
    await start('edge-offboard', {}, offboardable);
    const team = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request team:${ONCALL.name} on ${ATLAS.org.name} for 4h because on call`,
    );
    await sandbox.driver.clickButton(PEOPLE.carol, team.approval, 'request_approve');
    await waitForState(sandbox, team.id, 'applied');
    const db = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for 4h because on call`,
    );
    await waitForState(sandbox, db.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, db.approval, 'request_approve');
    const applied = await waitForState(sandbox, db.id, 'applied');
    const username = applied.database?.username ?? '';
    expect(sandbox.atlas.teamMembers(ONCALL.id)).toContain(PEOPLE.alice.email);
    expect(sandbox.atlas.databaseUsers(GROUP).map((u) => u.username)).toContain(username);

    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.carol,
      `offboard ${PEOPLE.alice.email} because she left`,
      CHANNELS.general,
    );
    const asked = await ephemeralAfter(sandbox, PEOPLE.carol, since, /Offboarding \*OB-[0-9A-Z]+\*/);
    const message = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(CHANNELS.approvals)
          .find((m: SimulatedMessage) => JSON.stringify(m.blocks ?? []).includes('offboard_approve')),
      5_000,
      'the offboarding message',
    );
    expect(asked).toContain('Offboarding');
    await sandbox.driver.clickButton(PEOPLE.bob, message, 'offboard_approve');
    await waitForState(sandbox, team.id, 'revoked', 20_000);
    await waitForState(sandbox, db.id, 'revoked', 20_000);
    expect(sandbox.atlas.teamMembers(ONCALL.id)).not.toContain(PEOPLE.alice.email);
    expect(sandbox.atlas.databaseUsers(GROUP).map((u) => u.username)).not.toContain(username);
  }, 45_000);
});
