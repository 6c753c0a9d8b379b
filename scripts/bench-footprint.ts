// npm run bench:footprint [-- --n 100 --warm-up 20]: what a finished request leaves in Redis,
// measured from outside. The real app (bot and worker in one process, the composition root of
// `npm start`) against the Slack and Atlas simulators, on a private redis-server nobody else writes
// to, under the product's default QUEUE_PREFIX. N people each ask for a permanent grant through the
// real commands (`/atlas-access request … because …`), Bob approves it, it is applied, and its
// requester ends it (`/atlas-access end ID`); then N others ask for a 20 s grant, which ends by
// itself. A warm-up batch goes first, so the queues' own keys are there already and what is
// measured is what one more request adds. After each batch the run waits until it has settled (every
// job of it done and removed per its retention, the sweeper run once more) and reads the whole
// store: every key (SCAN), its MEMORY USAGE, its type and its TTL; a key that expires within 10
// minutes (rate-limit entries, Atlas token buckets) counts as gone, as it soon is. Prints the keys
// and bytes each finished request added, by kind of key, and how long each kind is kept; the
// queues' own keys whose size does not follow the number of requests (event streams capped at about
// 100 entries, the periodic jobs' last 100 runs) are shown but not counted. Ends with one JSON line.
// `--atlas-api` picks the Atlas flavor, `--prefix` the QUEUE_PREFIX.

import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { waitUntil } from '../dev/http-util.js';
import { startPrivateRedis } from '../dev/local-redis.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../dev/sandbox.js';
import { requestIdIn, waitForApprovalMessage } from '../dev/slack-flow.js';
import type { SimulatedSlackUser } from '../dev/slack-simulator.js';
import { QUEUE_NAMES, type QueueName } from '../src/jobs/queues.js';
import type { RequestState } from '../src/requests/model.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

/** How many lifecycles run at once. */
const CONCURRENCY = 8;
/** The length of a temporary grant: it ends by itself. */
const TEMPORARY = '20s';
/** A key that expires within this is short-lived: a reading leaves it out, as gone. */
const SHORT_LIVED_MS = 10 * 60_000;
/** The queues that run every few seconds whatever happens; the others hold only the requests' jobs. */
const PERIODIC = new Set(['sweep', 'reconcile']);

/**
 * Keys whose size does not follow the number of requests: the periodic queues' (their last 100 runs
 * kept), each queue's event stream (capped at EVENTS_MAX_LEN, trimmed by the sweeper) and its
 * stalled-jobs check. They are shown, but not counted per request.
 */
function isBounded(kind: string): boolean {
  const [queue = '', part = ''] = kind.split(':');
  return (
    PERIODIC.has(queue) || (QUEUE_NAMES.includes(queue as QueueName) && /^(events|stalled-check)$/.test(part))
  );
}

/** Someone in the workspace and in Atlas, in the project with GROUP_READ_ONLY. */
interface Person extends SimulatedSlackUser {
  readonly email: string;
  readonly atlasId: string;
}

const personOf = (i: number): Person => ({
  id: `U0FP${i.toString(36).toUpperCase().padStart(5, '0')}`,
  name: `fp${i}`,
  email: `fp${i}@example.com`,
  atlasId: `6f${i.toString(16).padStart(22, '0')}`,
});

/** One key as read from outside. */
interface KeyReading {
  readonly bytes: number;
  readonly type: string;
  /** Remaining time to live in ms; -1 = kept until deleted. */
  readonly ttlMs: number;
}

/**
 * Every key of the store: MEMORY USAGE (every element counted), TYPE and PTTL (SCAN, never KEYS); a
 * key that expires within SHORT_LIVED_MS is left out.
 */
async function readStore(redis: Redis): Promise<Map<string, KeyReading>> {
  const store = new Map<string, KeyReading>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const reading = redis.pipeline();
    for (const key of keys) reading.memory('USAGE', key, 'SAMPLES', '0').type(key).pttl(key);
    const read = (await reading.exec()) ?? [];
    keys.forEach((key, i) => {
      const type = String(read[3 * i + 1]?.[1] ?? 'none');
      const ttlMs = Number(read[3 * i + 2]?.[1] ?? -1);
      if (type === 'none' || (ttlMs >= 0 && ttlMs < SHORT_LIVED_MS)) return;
      store.set(key, { bytes: Number(read[3 * i]?.[1] ?? 0), type, ttlMs });
    });
  } while (cursor !== '0');
  return store;
}

/** A key's kind: the prefix dropped, ids replaced by placeholders. */
function kindOf(prefix: string, key: string): string {
  return key
    .slice(prefix.length + 1)
    .replace(/AR-[0-9A-Z]+/g, '<id>')
    .replace(/U0FP[0-9A-Z]+/g, '<user>')
    .replace(/U0[A-Z]+/g, '<user>')
    .replace(/[0-9a-f]{24}/g, '<atlas id>')
    .replace(/fp\d+@example\.com/g, '<email>')
    .replace(/:\d+(?=:|$)/g, ':<n>');
}

/** What one kind of key added between two readings. */
interface KindGrowth {
  readonly kind: string;
  readonly type: string;
  /** Keys of this kind that are new. */
  readonly added: number;
  /** Keys of this kind that went away. */
  readonly removed: number;
  /** Bytes after minus bytes before, every key of the kind. */
  readonly bytes: number;
  /** The longest and shortest time to live of its keys after (days; -1 = kept until deleted). */
  readonly keptDays: readonly [number, number];
}

/** What the store gained from `before` to `after`, by kind of key, largest first. */
function growth(
  prefix: string,
  before: Map<string, KeyReading>,
  after: Map<string, KeyReading>,
): KindGrowth[] {
  const kinds = new Map<
    string,
    { type: string; added: number; removed: number; bytes: number; ttls: number[] }
  >();
  const of = (key: string, type: string) => {
    const kind = kindOf(prefix, key);
    const found = kinds.get(kind) ?? { type, added: 0, removed: 0, bytes: 0, ttls: [] };
    kinds.set(kind, found);
    return found;
  };
  for (const [key, now] of after) {
    const then = before.get(key);
    const kind = of(key, now.type);
    kind.bytes += now.bytes - (then?.bytes ?? 0);
    if (!then) kind.added += 1;
    if (!then || now.bytes !== then.bytes) kind.ttls.push(now.ttlMs);
  }
  for (const [key, then] of before) {
    if (after.has(key)) continue;
    const kind = of(key, then.type);
    kind.removed += 1;
    kind.bytes -= then.bytes;
  }
  const days = (ms: number) => (ms < 0 ? -1 : ms / 86_400_000);
  return [...kinds]
    .map(([kind, k]) => ({
      kind,
      type: k.type,
      added: k.added,
      removed: k.removed,
      bytes: k.bytes,
      keptDays: [
        days(k.ttls.some((t) => t < 0) ? -1 : Math.max(0, ...k.ttls)),
        days(k.ttls.length === 0 ? 0 : Math.min(...k.ttls)),
      ] as const,
    }))
    .filter((k) => k.bytes !== 0 || k.added !== 0 || k.removed !== 0)
    .sort((a, b) => b.bytes - a.bytes);
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** Runs `work` on every item, at most CONCURRENCY at once. */
async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        await work(item);
      }
    }),
  );
}

/** A request's state, read the way the app stores it; undefined until it is stored. */
async function stateOf(sandbox: Sandbox, redis: Redis, id: string): Promise<RequestState | undefined> {
  return (await createRequestStore(redis, { prefix: sandbox.config.redis.prefix }).get(id))?.state;
}

/** Waits until request `id` is in `state`; any end other than the one expected fails the run. */
async function waitForState(
  sandbox: Sandbox,
  redis: Redis,
  id: string,
  state: RequestState,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(
    async () => {
      const now = await stateOf(sandbox, redis, id);
      if (now === state) return true;
      if (now && ['denied', 'cancelled', 'expired', 'failed', 'revoke_failed'].includes(now)) {
        throw new Error(`${id} ended ${now}, not ${state}`);
      }
      return undefined;
    },
    timeoutMs,
    `${id} to be ${state}`,
  );
}

/**
 * One person's request through the real commands: asked (permanent, or for TEMPORARY), approved by
 * Bob, applied, then ended by its requester (permanent) or by its own end (temporary), revoked.
 */
async function lifecycle(
  sandbox: Sandbox,
  redis: Redis,
  person: Person,
  temporary: boolean,
): Promise<string> {
  const before = sandbox.slack.events.length;
  const duration = temporary ? ` for ${TEMPORARY}` : '';
  await sandbox.driver.command(
    person,
    `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name}${duration} because footprint`,
    CHANNELS.general,
  );
  const confirmation = await waitUntil(
    () =>
      sandbox.slack.events
        .slice(before)
        .map((e) => (e.kind === 'ephemeral' && e.user === person.id ? e.text : undefined))
        .find((t) => t !== undefined && /Request \*AR-[0-9A-Z]+\*/.test(t)),
    30_000,
    `${person.name}'s confirmation`,
  );
  const id = requestIdIn(confirmation);
  await waitForState(sandbox, redis, id, 'pending', 30_000);
  const approval = await waitForApprovalMessage(sandbox.slack, id);
  const clicked = await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
  if (clicked.status !== 200) throw new Error(`approve ${id}: HTTP ${clicked.status}`);
  await waitForState(sandbox, redis, id, 'applied', 30_000);
  if (!temporary) {
    const ended = await sandbox.driver.command(person, `end ${id}`, CHANNELS.general);
    if (ended.status !== 200) throw new Error(`end ${id}: HTTP ${ended.status}`);
  }
  await waitForState(sandbox, redis, id, 'revoked', 90_000);
  return id;
}

/**
 * Waits until a batch has settled: no job waiting, running or delayed in the request queues, then
 * one more sweep (it trims the queues' event streams).
 */
async function settle(sandbox: Sandbox, redis: Redis): Promise<void> {
  const prefix = sandbox.config.redis.prefix;
  const queues = QUEUE_NAMES.filter((name) => !PERIODIC.has(name)).map(
    (name) => new Queue(name, { connection: redis, prefix }),
  );
  let left = '';
  try {
    await waitUntil(
      async () => {
        const counts = await Promise.all(
          queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
        );
        left = counts
          .map((c, i) => [queues[i]?.name, Object.values(c).reduce((a, b) => a + b, 0)] as const)
          .filter(([, jobs]) => jobs > 0)
          .map(([name, jobs]) => `${name} ${jobs}`)
          .join(', ');
        return left === '' ? true : undefined;
      },
      300_000,
      'the request queues to drain',
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message} (jobs left: ${left})`);
    });
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
  await new Promise((resolve) => setTimeout(resolve, 6_000));
}

/** What one batch left: the keys and bytes it added (the bounded kinds left out), and by kind. */
interface BatchFigures {
  readonly label: string;
  readonly n: number;
  readonly keysAdded: number;
  readonly keysRemoved: number;
  readonly bytes: number;
  /** The same over the bounded kinds (isBounded). */
  readonly boundedBytes: number;
  readonly usedMemory: number;
  readonly kinds: readonly KindGrowth[];
}

/** The warm-up batch: half permanent, half temporary, left to settle; nothing is measured. */
async function warmUp(sandbox: Sandbox, redis: Redis, people: readonly Person[]): Promise<void> {
  await pool(
    people.map((person, i) => ({ person, temporary: i % 2 === 1 })),
    async ({ person, temporary }) => {
      await lifecycle(sandbox, redis, person, temporary);
    },
  );
  await settle(sandbox, redis);
}

/** Runs one batch and reads the store before and after it has settled. */
async function measureBatch(
  sandbox: Sandbox,
  redis: Redis,
  label: string,
  people: readonly Person[],
  temporary: boolean,
): Promise<BatchFigures> {
  const before = await readStore(redis);
  const memoryBefore = await usedMemory(redis);
  await pool(people, async (person) => {
    await lifecycle(sandbox, redis, person, temporary);
  });
  await settle(sandbox, redis);
  const after = await readStore(redis);
  const kinds = growth(sandbox.config.redis.prefix, before, after);
  const counted = kinds.filter((k) => !isBounded(k.kind));
  return {
    label,
    n: people.length,
    keysAdded: counted.reduce((sum, k) => sum + k.added, 0),
    keysRemoved: counted.reduce((sum, k) => sum + k.removed, 0),
    bytes: counted.reduce((sum, k) => sum + k.bytes, 0),
    boundedBytes: kinds.filter((k) => isBounded(k.kind)).reduce((sum, k) => sum + k.bytes, 0),
    usedMemory: (await usedMemory(redis)) - memoryBefore,
    kinds,
  };
}

/** How long a kind of key is kept, in words. */
function keptFor([longest, shortest]: readonly [number, number]): string {
  if (longest < 0) return 'until deleted';
  const days = (d: number) => (d >= 1 ? `${d.toFixed(0)} d` : `${(d * 24 * 60).toFixed(0)} min`);
  return longest - shortest < 1 ? days(longest) : `${days(shortest)} to ${days(longest)}`;
}

function printBatch(batch: BatchFigures): void {
  const per = (value: number) => (value / batch.n).toFixed(value / batch.n < 10 ? 2 : 0);
  console.log(
    `\n${batch.label}, N=${batch.n}: ${per(batch.keysAdded - batch.keysRemoved)} keys and ${per(batch.bytes)} B per request (${batch.keysAdded} keys new, ${batch.keysRemoved} gone; MEMORY USAGE of every key, after minus before). Not counted: ${per(batch.boundedBytes)} B per request in the queues' own bounded keys; used_memory ${per(batch.usedMemory)} B per request`,
  );
  console.log('| key | type | keys added | B per request | kept |');
  console.log('|---|---|---|---|---|');
  for (const kind of batch.kinds) {
    const name = isBounded(kind.kind) ? `\`${kind.kind}\` (bounded, not counted)` : `\`${kind.kind}\``;
    console.log(
      `| ${name} | ${kind.type} | ${kind.added - kind.removed} | ${per(kind.bytes)} | ${keptFor(kind.keptDays)} |`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '100' },
      // Requests of the warm-up batch (half permanent, half temporary), left out of the figures.
      'warm-up': { type: 'string', default: '20' },
      // The product's default QUEUE_PREFIX: every key's name holds it, so its length is in every figure.
      prefix: { type: 'string', default: 'rolecall' },
      ...ATLAS_API_OPTION,
    },
    strict: true,
  });
  const n = Number(values.n);
  const warmUps = Number(values['warm-up']);
  if (!Number.isInteger(n) || n < 1) throw new Error('--n must be a whole number, at least 1');
  if (!Number.isInteger(warmUps) || warmUps < 0) throw new Error('--warm-up must be a whole number');
  const flavor = readAtlasFlavor(values['atlas-api']);
  const server = await startPrivateRedis();
  if (!server) throw new Error('bench:footprint needs redis-server on the PATH (a private store to measure)');
  const people = Array.from({ length: warmUps + 2 * n }, (_, i) => personOf(i));
  let sandbox: Sandbox | undefined;
  const redis = new Redis(server.url);
  try {
    sandbox = await startSandbox({
      redisUrl: server.url,
      prefix: values.prefix,
      atlasApi: flavor,
      slackUsers: people,
      atlas: {
        users: people.map((p) => ({
          id: p.atlasId,
          username: p.email,
          orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
          groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
        })),
      },
      // The sweeper trims the queues' event streams: every 5 s here instead of 60 s.
      env: { SWEEP_INTERVAL: '5s', LOG_LEVEL: 'error' },
    });
    await warmUp(sandbox, redis, people.slice(0, warmUps));
    const permanent = await measureBatch(
      sandbox,
      redis,
      'Permanent grants, ended by their requester',
      people.slice(warmUps, warmUps + n),
      false,
    );
    const temporary = await measureBatch(
      sandbox,
      redis,
      `Temporary grants (${TEMPORARY}), ended by themselves`,
      people.slice(warmUps + n),
      true,
    );
    console.log(
      `Redis footprint per finished request (node ${process.version}, ATLAS_API ${describeFlavor(flavor)}, private redis-server, QUEUE_PREFIX ${values.prefix}, after a warm-up of ${warmUps})`,
    );
    for (const batch of [permanent, temporary]) printBatch(batch);
    const line = Object.fromEntries(
      [permanent, temporary].map((b) => [
        b === permanent ? 'permanent' : 'temporary',
        { n: b.n, keysPerRequest: (b.keysAdded - b.keysRemoved) / b.n, bytesPerRequest: b.bytes / b.n },
      ]),
    );
    console.log(`\n${JSON.stringify(line)}`);
  } finally {
    await sandbox?.stop();
    redis.disconnect();
    await server.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
