import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { postedIn, waitForDm } from '../../dev/slack-flow.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import {
  ephemeralAfter,
  PROJECT,
  readRequest,
  requestAs,
  rolesAt,
  sleep,
  waitForState,
} from '../support/grant-flow.js';
import { type OwnRedis, startOwnRedis } from '../support/own-redis.js';
import { reviewFlow } from '../support/review-flow.js';

/** Every store-kind audit entry (clicks from an earlier store, losses noticed), as field maps. */
async function storeAudit(redis: Redis, prefix: string): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(redisKeys(prefix).audit, '-', '+');
  return entries
    .map(([, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
      return fields;
    })
    .filter((fields) => fields.kind === 'store');
}

/**
 * Takes a backup of every key under `prefix` (DUMP), as an operator's snapshot; the function it
 * returns empties Redis and restores that backup over whatever was written since.
 */
async function backUp(redis: Redis, prefix: string): Promise<() => Promise<void>> {
  const keys = await redis.keys(`${prefix}:*`);
  const backup = await Promise.all(keys.map(async (key) => [key, await redis.dumpBuffer(key)] as const));
  return async () => {
    await redis.flushall();
    for (const [key, value] of backup) if (value) await redis.restore(key, 0, value);
  };
}

describe('a Redis store that loses its data', () => {
  let own: OwnRedis | undefined;
  let sandbox: Sandbox | undefined;
  let client: Redis | undefined;

  afterEach(async () => {
    client?.disconnect();
    await sandbox?.stop();
    await own?.stop();
    client = undefined;
    sandbox = undefined;
    own = undefined;
  });

  /** A sandbox on a Redis of its own that keeps nothing on disk: a restart comes back empty. */
  const start = async (env: Record<string, string> = {}) => {
    own = await startOwnRedis({ persistence: false });
    sandbox = await startSandbox({
      redisUrl: own.url,
      env: { READY_CHECK_INTERVAL: '1s', JOB_BACKOFF_MS: '200', SWEEP_INTERVAL: '2s', ...env },
    });
    client = new Redis(own.url);
    client.on('error', () => undefined);
    return sandbox;
  };

  it('refuses an Approve from a message of the earlier store in words, approves nothing, and raises the alarm once', async () => {
    const box = await start();
    const alice = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because read',
    );
    await own?.restart();
    // The new store hands out new ids: Mallory's request can never take Alice's.
    const mallory = await requestAs(
      box,
      PEOPLE.mallory,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because write',
    );
    expect(mallory.id).not.toBe(alice.id);
    const writesBefore = box.atlas.received.filter((r) => r.method !== 'GET').length;

    const since = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, alice.approval, 'request_approve');
    const said = await ephemeralAfter(box, PEOPLE.bob, since, /earlier Rolecall store/);
    expect(said).toContain(`:rotating_light: This message belongs to an earlier Rolecall store: ${alice.id}`);
    expect(said).toContain('Nothing was changed');

    // Nothing moved: Mallory's request still waits, and Atlas got no write.
    expect((await readRequest(box, mallory.id)).state).toBe('pending');
    expect(box.atlas.received.filter((r) => r.method !== 'GET')).toHaveLength(writesBefore);

    // Audited with who clicked what, announced once in the approvals channel, reviews started.
    const audit = await waitUntil(async () => {
      const entries = await storeAudit(client as Redis, box.config.redis.prefix);
      return entries.some((e) => e.action === 'loss-noticed') ? entries : undefined;
    });
    expect(audit.find((e) => e.request === alice.id)).toMatchObject({
      actor: PEOPLE.bob.id,
      action: 'request_approve',
      code: 'STORE_LOST',
    });
    const alarm = await waitUntil(() =>
      box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
    );
    expect(alarm.text).toContain('/atlas-access review all');
    await waitUntil(
      () =>
        box.slack
          .messagesIn(CHANNELS.approvals)
          .find((m) => !m.threadTs && /review/i.test(m.text) && m !== alarm),
      15_000,
      'an access review started by the loss',
    );

    // A second stale click is refused the same way, and the alarm is not raised again.
    const again = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, alice.approval, 'request_approve');
    await ephemeralAfter(box, PEOPLE.bob, again, /earlier Rolecall store/);
    expect(
      box.slack.messagesIn(CHANNELS.approvals).filter((m) => m.text.includes('store has lost data')),
    ).toHaveLength(1);
  });

  it('says the store lost a record it should keep when one request vanished under a running app', async () => {
    const box = await start();
    const alice = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because read',
    );
    // One key gone (an eviction, a failover to a replica that never got it): the epoch survives.
    await client?.del(redisKeys(box.config.redis.prefix).request(alice.id));
    const since = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, alice.approval, 'request_approve');
    const said = await ephemeralAfter(box, PEOPLE.bob, since, /no longer has/);
    expect(said).toContain(`Rolecall’s store no longer has request ${alice.id}, which it should still keep`);
    await waitUntil(() =>
      box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
    );
    // The periodic checks that follow (every second here) find the loss answered: one notice.
    await sleep(2_500);
    expect(
      box.slack.messagesIn(CHANNELS.approvals).filter((m) => m.text.includes('store has lost data')),
    ).toHaveLength(1);
  });

  it('answers a typed id it never issued plainly, without raising the alarm', async () => {
    const box = await start();
    const since = box.slack.events.length;
    await box.driver.command(PEOPLE.alice, 'status AR-1000000', CHANNELS.general);
    expect(await ephemeralAfter(box, PEOPLE.alice, since, /There is no request/)).toContain(
      'There is no request AR-1000000.',
    );
    expect(await storeAudit(client as Redis, box.config.redis.prefix)).toEqual([]);
  });

  it('finds a grant made before the loss through the access review it starts, and removes it on Revoke', async () => {
    const box = await start({ ATLAS_API: 'atlas-v2-2025' });
    const grant = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 4s because short',
    );
    await box.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    const applied = await waitForState(box, grant.id, 'applied');
    const endsAt = applied.grant?.revokeAt ?? 0;

    // Redis restarts empty before the grant ends: its ledger and revocation job are gone.
    await own?.restart();

    // The periodic store check notices, says so, and reviews every target.
    await waitUntil(
      () => box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
      10_000,
      'the loss announcement',
    );
    const flow = reviewFlow(
      () => box,
      () => client as Redis,
    );
    const review = await waitUntil(
      async () => {
        const ids = await (client as Redis).zrange(
          redisKeys(box.config.redis.prefix).reviewsOf('project', ATLAS.project.id),
          0,
          -1,
        );
        return ids[0] ? flow.posted(ids[0], 15_000) : undefined;
      },
      20_000,
      'the review of payments-prod',
    );
    const line = review.lines.find(
      (l) => l.username === PEOPLE.alice.email && l.role === 'GROUP_DATA_ACCESS_READ_ONLY',
    );
    expect(line, 'the orphaned grant is a standing line with Revoke').toBeDefined();

    // Nothing revoked it at its end: what the issue reported, now found by the review.
    await waitUntil(() => (Date.now() > endsAt + 1_000 ? true : undefined), 10_000);
    expect(box.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');

    await flow.clickLine(PEOPLE.bob, review, line?.n ?? 0, 'review_revoke');
    await waitUntil(
      () =>
        box.atlas.rolesOf(PEOPLE.alice.email, PROJECT).includes('GROUP_DATA_ACCESS_READ_ONLY')
          ? undefined
          : true,
      15_000,
      'the review to remove the role',
    );
    // Timeline: held from the grant until the review's Revoke, never removed twice.
    const timeline = box.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, endsAt + 500)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(rolesAt(timeline, Date.now())).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(postedIn(box.slack, CHANNELS.approvals).some((m) => m.text.includes('review all'))).toBe(true);
  });

  it('notices a store that went back in time under a running app (a restore), and reviews what it lost', async () => {
    const box = await start();
    const redis = client as Redis;
    // A backup taken now, before Alice's grant.
    await requestAs(box, PEOPLE.dana, 'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because before');
    const restore = await backUp(redis, box.config.redis.prefix);
    const grant = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 5s because after',
    );
    await box.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    await waitForState(box, grant.id, 'applied');
    const dm = await waitForDm(box.slack, PEOPLE.alice.id, new RegExp(`${grant.id} approved`));
    // The backup is restored over it: the epoch is the same, the grant and its revocation are gone.
    await restore();
    const alarm = await waitUntil(
      () => box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
      10_000,
      'the loss announcement',
    );
    expect(alarm.text).toContain('went back in time');
    // The grant's approval message now belongs to an earlier store.
    const since = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, grant.approval, 'grant_revoke_now');
    expect(await ephemeralAfter(box, PEOPLE.bob, since, /earlier Rolecall store/)).toContain(grant.id);
    // So do the grant's own Extend and End now in Alice's DM.
    for (const action of ['grant_extend', 'grant_end']) {
      const before = box.slack.events.length;
      await box.driver.clickButton(PEOPLE.alice, dm, action);
      expect(await ephemeralAfter(box, PEOPLE.alice, before, /earlier Rolecall store/)).toContain(
        'Nothing was changed',
      );
    }
    expect(
      box.slack.messagesIn(CHANNELS.approvals).filter((m) => m.text.includes('store has lost data')),
    ).toHaveLength(1);
  });

  it('posts the loss notice once Slack answers again when it could not at first', async () => {
    const box = await start();
    box.slack.fail({
      method: 'chat.postMessage',
      error: 'internal_error',
      status: 503,
      times: Number.POSITIVE_INFINITY,
    });
    await own?.restart();
    // The periodic check notices (every second here) but cannot post; the store keeps the notice.
    await waitUntil(
      async () =>
        (await (client as Redis).hget(redisKeys(box.config.redis.prefix).store, 'lossNoticePending'))
          ? true
          : undefined,
      10_000,
      'the notice left to post',
    );
    box.slack.endFailures();
    const alarm = await waitUntil(
      () => box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
      10_000,
      'the loss announcement after the outage',
    );
    expect(alarm.text).toContain('lost its data while Rolecall was running');
    await sleep(2_500);
    expect(
      box.slack.messagesIn(CHANNELS.approvals).filter((m) => m.text.includes('store has lost data')),
    ).toHaveLength(1);
  });

  it('notices a restore at the next write, even when more writes follow than were lost, and says so once', async () => {
    // No periodic check in this test's time: the writes themselves must tell.
    const box = await start({ READY_CHECK_INTERVAL: '10m' });
    const redis = client as Redis;
    await requestAs(box, PEOPLE.dana, 'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because before');
    const restore = await backUp(redis, box.config.redis.prefix);
    const lost = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod because lost',
    );
    await restore();
    // Four requests after the restore write more than the restore took away.
    for (const person of [PEOPLE.alice, PEOPLE.dana, PEOPLE.mallory, PEOPLE.alice]) {
      await box.driver.command(
        person,
        'request GROUP_READ_ONLY on payments-prod because after',
        CHANNELS.general,
      );
    }
    const alarm = await waitUntil(
      () => box.slack.messagesIn(CHANNELS.approvals).find((m) => m.text.includes('store has lost data')),
      10_000,
      'the loss announcement',
    );
    expect(alarm.text).toContain('went back in time');
    // A click on the lost request is refused, and the alarm is not raised a second time.
    const since = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, lost.approval, 'request_approve');
    expect(await ephemeralAfter(box, PEOPLE.bob, since, /earlier Rolecall store/)).toContain(lost.id);
    await sleep(1_000);
    expect(
      box.slack.messagesIn(CHANNELS.approvals).filter((m) => m.text.includes('store has lost data')),
    ).toHaveLength(1);
  });
});
