import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForThreadReply } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { ephemeralAfter, readAudit, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const GROUP = ATLAS.project.id;

/** The sandbox policy, with database access on payments-prod. */
function policyWith(database: string): string {
  return SANDBOX_POLICY.replace(
    '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
    `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n${database}`,
  );
}

const PASSWORD_POLICY = policyWith(`    database:
      auth: password
      levels:
        orders-read:
          roles: [{role: read, db: orders}, {role: read, db: audit, collection: events}]
          clusters: [payments-0]
`);

const OIDC_POLICY = policyWith(`    database:
      auth: oidc
      oidcIdentityProvider: 0123456789abcdef0123
      levels:
        orders-read:
          roles: [{role: read, db: orders}]
          clusters: [payments-0]
`);

describe('temporary database access (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (
    label: string,
    policy: string,
    options: { limit?: number; api?: 'atlas-v1'; reconcile?: string } = {},
  ) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: options.reconcile ?? '1h' },
      policy,
      atlasApi: options.api ?? 'atlas-v2-2025',
      atlas: {
        clusters: [{ groupId: GROUP, name: 'payments-0' }],
        ...(options.limit === undefined ? {} : { databaseUserLimit: options.limit }),
      },
    });
  };

  const usersNow = () => sandbox.atlas.databaseUsers(GROUP).map((u) => u.username);

  it('creates a database user that Atlas itself deletes at the grant end, with its roles and clusters, and deletes it at the end', async () => {
    await start('db-grant', PASSWORD_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 3s because incident 9',
    );
    const pending = await waitForState(sandbox, asked.id, 'pending');
    const username = pending.database?.username ?? '';
    expect(username).toMatch(/^rc-alice-orders-read-/);
    const atApprove = sandbox.atlas.authenticatedCalls().length;
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const end = applied.grant?.revokeAt ?? 0;
    // One Atlas call grants it: the database user, created with its end.
    const applyCalls = sandbox.atlas.authenticatedCalls().slice(atApprove);
    expect(applyCalls.map((c) => `${c.method} ${c.path.replace(/[a-f0-9]{24}/g, '{id}')}`)).toEqual([
      'POST /api/atlas/v2/groups/{id}/databaseUsers',
    ]);
    const atApplied = sandbox.atlas.authenticatedCalls().length;
    const user = sandbox.atlas.databaseUsers(GROUP).find((u) => u.username === username);
    // What Atlas holds: the roles and clusters of the level, and Atlas's own end at the grant's.
    expect(user).toMatchObject({
      databaseName: 'admin',
      deleteAfterDate: new Date(end).toISOString(),
      roles: [
        { roleName: 'read', databaseName: 'orders' },
        { roleName: 'read', databaseName: 'audit', collectionName: 'events' },
      ],
      scopes: [{ name: 'payments-0', type: 'CLUSTER' }],
    });
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    // Two clocks end it together: Rolecall's revocation, and Atlas's own deleteAfterDate (the same
    // time); whichever comes first deletes it, the other finds it gone.
    // One Atlas call ends it: the database user deleted (or found gone, if Atlas's clock came first).
    const revokeCalls = sandbox.atlas.authenticatedCalls().slice(atApplied);
    expect(revokeCalls.map((c) => c.method)).toEqual(['DELETE']);
    const outcome = [...(revoked.revocation?.removed ?? []), ...(revoked.revocation?.gone ?? [])];
    expect(outcome).toEqual(['db:orders-read']);
    // What held when: created at apply, deleted at the end (by either clock), once.
    const timeline = sandbox.atlas.databaseUserTimeline(GROUP, username);
    expect(timeline.map((e) => e.kind)).toEqual([
      'created',
      revoked.revocation?.removed.length ? 'deleted' : 'expired',
    ]);
    const deletedAt = timeline[1]?.at ?? 0;
    expect(timeline[0]?.at ?? 0).toBeGreaterThanOrEqual(applied.grant?.appliedAt ?? 0);
    expect(deletedAt).toBeGreaterThanOrEqual(end - 300);
    expect(deletedAt).toBeLessThan(end + 3_000);
    expect(usersNow()).not.toContain(username);
    const audit = (await readAudit(sandbox, asked.id)).map((e) => e.detail).join('\n');
    expect(audit).toContain(`created database user ${username}`);
    expect(audit).toMatch(new RegExp(`(deleted database user|database user) ${username}`));
  }, 30_000);

  it('moves the end Atlas keeps when the grant is extended', async () => {
    await start('db-extend', PASSWORD_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because migration',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const username = applied.database?.username ?? '';
    const extension = await requestAs(
      sandbox,
      PEOPLE.alice,
      `extend ${asked.id} for 2h because the migration runs late`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, extension.approval, 'request_approve');
    await waitForState(sandbox, extension.id, 'applied');
    const extended = await waitForState(sandbox, asked.id, 'applied');
    const to = extended.grant?.revokeAt ?? 0;
    expect(to).toBe((applied.grant?.revokeAt ?? 0) + 2 * 3600_000);
    const user = sandbox.atlas.databaseUsers(GROUP).find((u) => u.username === username);
    expect(user?.deleteAfterDate).toBe(new Date(to).toISOString());
    const kinds = sandbox.atlas.databaseUserTimeline(GROUP, username).map((e) => e.kind);
    expect(kinds).toEqual(['created', 'deleteAfterChanged']);
  }, 30_000);

  it('is gone at its end even while Rolecall is stopped: Atlas deletes it, and Rolecall finds it gone', async () => {
    await start('db-down', PASSWORD_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 2s because hotfix',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const username = applied.database?.username ?? '';
    const end = applied.grant?.revokeAt ?? 0;
    // Down from now until well past the end: nothing of Rolecall runs.
    await sandbox.restart(Math.max(0, end - Date.now()) + 2_000);
    const timeline = sandbox.atlas.databaseUserTimeline(GROUP, username);
    expect(timeline.map((e) => e.kind)).toEqual(['created', 'expired']);
    // Atlas's own clock: deleted at its deleteAfterDate (the simulator sweeps every 250 ms).
    expect(timeline[1]?.at ?? 0).toBeGreaterThanOrEqual(end - 1_000);
    expect(timeline[1]?.at ?? 0).toBeLessThan(end + 1_500);
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    expect(revoked.revocation?.gone).toEqual(['db:orders-read']);
    const audit = (await readAudit(sandbox, asked.id)).map((e) => e.detail).join('\n');
    expect(audit).toContain(`database user ${username} was already gone`);
  }, 30_000);

  it('deletes a database user whose grant Redis lost, at the next reconciliation', async () => {
    await start('db-reconcile', PASSWORD_POLICY, { reconcile: '1s' });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because lost',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const username = applied.database?.username ?? '';
    expect(usersNow()).toContain(username);
    // The request's record is lost (an eviction, a failover to a replica that never got it).
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.del(redisKeys(sandbox.config.redis.prefix).request(asked.id));
    } finally {
      redis.disconnect();
    }
    await waitUntil(() => (usersNow().includes(username) ? undefined : true), 8_000, 'the orphan deleted');
    const timeline = sandbox.atlas.databaseUserTimeline(GROUP, username);
    expect(timeline.map((e) => e.kind)).toEqual(['created', 'deleted']);
    // Deleted long before the hour the grant was for (and Atlas's own end).
    expect(timeline[1]?.at ?? 0).toBeLessThan(applied.grant?.revokeAt ?? 0);
  }, 30_000);

  it('refuses a second database grant while one is active, and asks for an OIDC identity without a password', async () => {
    await start('db-oidc', OIDC_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because debugging',
    );
    const pending = await waitForState(sandbox, asked.id, 'pending');
    expect(pending.database).toMatchObject({
      auth: 'oidc',
      username: `0123456789abcdef0123/${PEOPLE.alice.email}`,
    });
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied');
    expect(sandbox.atlas.databaseUsers(GROUP)).toEqual([
      expect.objectContaining({
        username: `0123456789abcdef0123/${PEOPLE.alice.email}`,
        databaseName: '$external',
        oidcAuthType: 'USER',
      }),
    ]);
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because again',
      CHANNELS.general,
    );
    const again = await waitForThreadReplyOrDm(since);
    expect(again).toContain(`already has database access on payments-prod (db:orders-read, ${asked.id}`);
  }, 30_000);

  it('fails in words when Atlas refuses one more database user (its limit per project)', async () => {
    await start('db-limit', PASSWORD_POLICY, { limit: 1 });
    const first = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because one',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitForState(sandbox, first.id, 'applied');
    const second = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request db:orders-read on payments-prod for 1h because two',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, second.approval, 'request_approve');
    const failed = await waitForState(sandbox, second.id, 'failed', 15_000);
    expect(failed.failure?.message).toMatch(/database users/i);
    const reply = await waitForThreadReply(sandbox.slack, second.approval, /failed|could not/i, 5_000);
    expect(reply.text).not.toMatch(/at .*\.ts:\d+/);
    expect(usersNow()).toHaveLength(1);
  }, 30_000);

  it('refuses database access in words where the Atlas API has no database users', async () => {
    await start('db-v1', PASSWORD_POLICY, { api: 'atlas-v1' });
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because x',
      CHANNELS.general,
    );
    const refusal = await waitForThreadReplyOrDm(since);
    expect(refusal).toContain('Database access needs the Atlas Admin API v2');
  }, 30_000);

  /** The words the requester was told after `since` (a refusal after filing reaches them as an ephemeral). */
  function waitForThreadReplyOrDm(since: number): Promise<string> {
    return ephemeralAfter(sandbox, PEOPLE.alice, since, /already has|needs the Atlas Admin API/);
  }
});
