import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox, storedRequestIds } from '../../dev/sandbox.js';
import { createSlackDriver } from '../../dev/slack-driver.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createRedisClient } from '../../src/ops/redis.js';
import { createReceipts } from '../../src/requests/receipts.js';
import { sleep } from '../support/grant-flow.js';
import { type OwnRedis, startOwnRedis } from '../support/own-redis.js';
import { type RolecallProcess, spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

/** The port in a process's "rolecall started" log line. */
function portOf(process: RolecallProcess): number {
  for (const line of process.output().split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
      if (entry.msg === 'rolecall started' && typeof entry.port === 'number') return entry.port;
    } catch {
      // not a JSON line
    }
  }
  throw new Error(`no port in:\n${process.output()}`);
}

const ATLAS_KEY = /^ATLAS_(PUBLIC_KEY|PRIVATE_KEY|CLIENT_ID|CLIENT_SECRET)$/;

describe('nothing acknowledged is lost', () => {
  let sandbox: Sandbox | undefined;
  const processes: RolecallProcess[] = [];
  let own: OwnRedis | undefined;

  afterEach(async () => {
    for (const child of processes.splice(0)) await child.kill('SIGKILL');
    await sandbox?.stop();
    await own?.stop();
    sandbox = undefined;
    own = undefined;
  });

  it('answers a request whose bot process died after "got it", and files nothing', async () => {
    // The worker (with the sweeper) here; the Slack side in a process of its own, to be killed.
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('acknowledged'),
      mode: 'worker',
      env: { SWEEP_INTERVAL: '1s' },
    });
    const box = sandbox;
    const bot = spawnRolecall(
      ['bot'],
      Object.fromEntries(
        Object.entries({ ...box.env, PORT: '0', LOG_LEVEL: 'info' }).filter(([key]) => !ATLAS_KEY.test(key)),
      ),
    );
    processes.push(bot);
    await bot.ready().catch((error: unknown) => {
      throw new Error(`${String(error)}\n${bot.output()}`);
    });
    const driver = createSlackDriver({
      eventsUrl: () => `http://127.0.0.1:${portOf(bot)}/slack/events`,
      signingSecret: box.signingSecret,
      slack: box.slack,
    });
    // Slack is slow to say who Alice is: the bot has acked and is still working when it dies.
    box.slack.slowDown({ method: 'users.info', delayMs: 20_000 });
    const since = box.slack.events.length;
    const acked = await driver.command(
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because then it died',
      CHANNELS.general,
    );
    expect(acked.text).toContain('Got it');
    // It is now waiting on users.info, past its ack; it dies there.
    await sleep(500);
    await bot.kill('SIGKILL');

    // Its heartbeat lasts 15 s: then the sweeper (every second here) answers in its stead.
    const answer = await waitUntil(
      () =>
        box.slack.events
          .slice(since)
          .map((e) => (e.kind === 'ephemeral' && e.user === PEOPLE.alice.id ? e.text : undefined))
          .find((t) => t?.includes('stopped before it could file')),
      30_000,
      'the sweeper to answer the orphaned request',
    );
    expect(answer).toContain(
      'Rolecall stopped before it could file what you sent (“/atlas-access request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because then it died”); nothing was filed. Please send it again.',
    );
    expect(await storedRequestIds(box.config.redis)).toEqual([]);
  }, 40_000);

  it('stores nothing when the sweeper answered a delivery before its request was filed', async () => {
    const prefix = uniquePrefix('receipt-race');
    const redis = createRedisClient({ url: TEST_REDIS_URL, prefix }, 'commands');
    try {
      const keys = redisKeys(prefix);
      // A process that is gone (no heartbeat) took the delivery; the sweeper claims it first.
      const receipts = createReceipts(redis, keys, { owner: 'gone', now: () => Date.now() - 60_000 });
      const id = await receipts.keep({ kind: 'submission', userId: 'U0ALICE', responseUrl: null, what: 'x' });
      const claimed = await createReceipts(redis, keys).claimOrphaned(Date.now(), 10);
      expect(claimed.orphaned.map((r) => r.id)).toEqual([id]);
      const store = createRequestStore(redis, { prefix });
      await expect(
        store.create(
          {
            requesterId: 'U0ALICE',
            granteeId: 'U0ALICE',
            granteeEmail: 'alice@example.com',
            target: { name: 'payments-prod', kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e' },
            roles: ['GROUP_READ_ONLY'],
            durationSeconds: null,
            reason: 'race',
            sourceChannelId: null,
            replyUrl: null,
            extends: null,
          },
          'U0ALICE',
          'submitted',
          id,
        ),
      ).rejects.toMatchObject({ code: 'RECEIPT_TAKEN' });
      expect(await redis.keys(`${prefix}:request:*`)).toEqual([`${prefix}:request:seq`]);
      // A live process's receipt is left alone while it may still be worked on, and dropped
      // unanswered once it is older than 15 minutes (only crossing it out can have failed).
      const live = createReceipts(redis, keys, { owner: 'alive', now: () => Date.now() - 60_000 });
      const stop = live.beat();
      await live.keep({ kind: 'action', userId: 'U0BOB', responseUrl: null, what: 'Approve on AR-1' });
      expect(await createReceipts(redis, keys).claimOrphaned(Date.now(), 10)).toEqual({
        orphaned: [],
        dropped: 0,
      });
      expect(await createReceipts(redis, keys).claimOrphaned(Date.now(), 10, Date.now() - 30_000)).toEqual({
        orphaned: [],
        dropped: 1,
      });
      expect(await redis.hlen(keys.receipts)).toBe(0);
      await stop();
      await redis.del(keys.receipts, keys.receiptTimes, keys.requestSeq);
    } finally {
      redis.disconnect();
    }
  });

  it('says in the ack that it did nothing when Redis cannot take what was sent', async () => {
    own = await startOwnRedis();
    // The Slack side only: what it says when its Redis is away.
    sandbox = await startSandbox({ redisUrl: own.url, prefix: uniquePrefix('no-receipt'), mode: 'bot' });
    const box = sandbox;
    await own.halt();
    const answer = await box.driver.command(
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because redis is down',
      CHANNELS.general,
    );
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('cannot write down what you sent right now');
    expect(answer.text).not.toContain('Got it');
    await own.restart();
  }, 20_000);
});
