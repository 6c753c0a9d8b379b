// npm run bench:workflow [-- --n 1000]: pushes N requests through approve -> apply (signed Approve
// clicks into the real app, BullMQ worker, Atlas PUT with Digest, Slack notices) against the local
// simulators, which run in a child process. Prints throughput, p50/p99 approve-to-applied latency and
// Redis memory per request, next to the same figures for bare BullMQ no-op jobs in the same run.
// A third row follows the whole life of a temporary grant through the real commands (request, approve,
// applied, `end`, revoked; at most 1,000 of them), for what a typical finished request leaves behind.
// With each Rolecall row: the bytes by kind of key (and entries per key), what packing and
// compressing a settled request save, how long BullMQ's event streams got, and what a delayed job
// holds (sampled four times a second during the run). `--atlas-api` picks the Atlas flavor (default:
// the product's default). What a finished request leaves, measured alone: npm run bench:footprint.

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { WebClient } from '@slack/web-api';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, deleteKeys, PEOPLE, SANDBOX_POLICY } from '../dev/sandbox.js';
import { buildButtonPayload, buildCommandPayload, createSlackDriver } from '../dev/slack-driver.js';
import { type SlackSimulator, startSlackSimulator } from '../dev/slack-simulator.js';
import type { AtlasApiFlavor } from '../src/atlas/atlas-options.js';
import { startRolecall } from '../src/compose/start-rolecall.js';
import { parseConfig } from '../src/config.js';
import { redisKeys } from '../src/lib/redis-keys.js';
import { createLogger } from '../src/ops/logger.js';
import { readStoredHash } from '../src/requests/request-codec.js';
import { buildDecisionActions } from '../src/slack/blocks/approval-message.js';
import { NOT_RECEIVED } from '../src/slack/handlers/received.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BOT_TOKEN = 'xoxb-bench';
const CONCURRENCY = 64;
const userOf = (i: number) => ({
  slackId: `U0B${i.toString(36).toUpperCase().padStart(6, '0')}`,
  email: `bench${i}@example.com`,
  atlasId: `6e${i.toString(16).padStart(22, '0')}`,
});

interface Figures {
  readonly label: string;
  /** Rolecall only: clicks and commands sent again after Rolecall answered "not done" (see stallWatch). */
  readonly resent?: number;
  readonly n: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly bytesPerItem: number;
  /** CPU ms per item: this process (the app or the bare worker) and the Redis server. */
  readonly cpuMs: number;
  readonly redisCpuMs: number;
  /** Rolecall only: MEMORY USAGE by kind of key. */
  readonly keys?: readonly KeyGroup[];
  /** Rolecall only: settled request hashes, packed and as one hash field per field. */
  readonly packing?: Packing;
  /** Rolecall only: BullMQ event streams and delayed jobs, as sampled during the run. */
  readonly samples?: Samples;
}

/** Redis's own CPU seconds so far (INFO cpu: used_cpu_user + used_cpu_sys). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return read('used_cpu_user') + read('used_cpu_sys');
}

/** This process's CPU ms so far. */
function processCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function runSimulators(n: number): Promise<void> {
  const users = Array.from({ length: n }, (_, i) => userOf(i));
  const slack = await startSlackSimulator({
    botToken: BOT_TOKEN,
    users: [
      PEOPLE.bob,
      ...users.map((u) => ({ id: u.slackId, name: u.email.split('@')[0] ?? 'u', email: u.email })),
    ],
    channels: [CHANNELS.approvals],
    // The parent process makes the response URLs up (see startBenchApp): accept any id.
    responseUrls: { ttlMs: 1_800_000, uses: 5, strict: false },
  });
  const atlas = await startAtlasSimulator({
    apiKeys: [ATLAS.apiKey],
    orgs: [ATLAS.org],
    projects: [{ ...ATLAS.project, orgId: ATLAS.org.id }],
    users: users.map((u) => ({
      id: u.atlasId,
      username: u.email,
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
    })),
  });
  process.send?.({ slackUrl: slack.apiUrl, atlasUrl: atlas.url });
  // Asked at the end of a size: how often Rolecall answered "not written down, nothing done".
  process.on('message', (asked) => {
    if (asked !== 'not-received') return;
    const notReceived = slack.events.filter((e) => e.kind === 'ephemeral' && e.text === NOT_RECEIVED).length;
    process.send?.({ notReceived });
  });
  process.on('disconnect', () => {
    void Promise.all([slack.close(), atlas.close()]).then(() => process.exit(0));
  });
}

/** p50 and p99 of `values` (ms). */
function percentiles(values: readonly number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/**
 * Starts the clock and the CPU counters (this process and the Redis server); the function it returns
 * gives, for `n` items done since, the rate and the CPU ms per item.
 */
async function startMeasuring(
  redis: Redis,
): Promise<(n: number) => Promise<Pick<Figures, 'perSecond' | 'cpuMs' | 'redisCpuMs'>>> {
  const started = performance.now();
  const cpuBefore = processCpu();
  const redisCpuBefore = await redisCpu(redis);
  return async (n) => ({
    perSecond: n / ((performance.now() - started) / 1000),
    cpuMs: (processCpu() - cpuBefore) / n,
    redisCpuMs: (((await redisCpu(redis)) - redisCpuBefore) * 1000) / n,
  });
}

async function pool<T>(items: readonly T[], run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const item = items[next] as T;
        next += 1;
        await run(item);
      }
    }),
  );
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** Waits (at most 5 min) until these queues have no job waiting, running or delayed. */
async function drainQueues(redis: Redis, prefix: string, names: readonly string[]): Promise<void> {
  const queues = names.map((name) => new Queue(name, { connection: redis, prefix }));
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const counts = await Promise.all(
        queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
      );
      const left = counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
      if (left === 0) return;
      if (Date.now() > deadline) throw new Error(`${left} jobs still queued after 5 min`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await Promise.all(queues.map((q) => q.close()));
  }
}

/** One kind of key (ids replaced by placeholders) and what its keys hold, per request. */
interface KeyGroup {
  readonly pattern: string;
  readonly keys: number;
  readonly bytesPerRequest: number;
  /** Redis type of the keys (the first one seen) and their entries on average (fields, items, members). */
  readonly type: string;
  readonly entriesPerKey: number;
}

/** The command that counts a key's entries, by Redis type (a string has none). */
const LENGTH_OF: Readonly<Record<string, string>> = {
  hash: 'hlen',
  list: 'llen',
  set: 'scard',
  zset: 'zcard',
  stream: 'xlen',
};

/** The key's kind: ids replaced by placeholders. */
function patternOf(prefix: string, key: string): string {
  return key
    .slice(prefix.length + 1)
    .replace(/AR-[0-9A-Z]+/g, '<id>')
    .replace(/U0B[0-9A-Z]+/g, '<user>')
    .replace(/:[0-9a-f]{24}/g, ':<atlas id>')
    .replace(/bench\d+@example\.com/g, '<email>')
    .replace(/:\d+$/g, ':<n>');
}

/** MEMORY USAGE and entries of every key under `prefix`, grouped by kind: where a request's bytes go. */
async function keyBreakdown(redis: Redis, prefix: string, n: number): Promise<KeyGroup[]> {
  const groups = new Map<string, { keys: number; bytes: number; type: string; entries: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const sizing = redis.pipeline();
    for (const key of keys) sizing.memory('USAGE', key, 'SAMPLES', '0').type(key);
    const sized = (await sizing.exec()) ?? [];
    const types = keys.map((_, i) => String(sized[2 * i + 1]?.[1] ?? 'none'));
    const counting = redis.pipeline();
    keys.forEach((key, i) => {
      const command = LENGTH_OF[types[i] ?? ''];
      if (command) counting.call(command, key);
      else counting.exists(key);
    });
    const counted = (await counting.exec()) ?? [];
    keys.forEach((key, i) => {
      const pattern = patternOf(prefix, key);
      const type = types[i] ?? 'none';
      const group = groups.get(pattern) ?? { keys: 0, bytes: 0, type, entries: 0 };
      group.keys += 1;
      group.bytes += Number(sized[2 * i]?.[1] ?? 0);
      group.entries += LENGTH_OF[type] ? Number(counted[i]?.[1] ?? 0) : 0;
      groups.set(pattern, group);
    });
  } while (cursor !== '0');
  return [...groups]
    .map(([pattern, g]) => ({
      pattern,
      keys: g.keys,
      bytesPerRequest: g.bytes / n,
      type: g.type,
      entriesPerKey: g.entries / g.keys,
    }))
    .sort((a, b) => b.bytesPerRequest - a.bytesPerRequest);
}

/**
 * Settled request hashes (schema 4: compressed; schema 3: one packed JSON field) against the same
 * fields one per hash field.
 */
interface Packing {
  readonly requests: number;
  readonly packedBytes: number;
  readonly flatBytes: number;
  /** Hash fields of the flat copy, on average. */
  readonly fields: number;
}

/**
 * What packing and compressing save: each settled `request:<id>` hash, and a scratch copy of it
 * unpacked the way the store unpacks one (the packed fields one per hash field, with `state` and
 * `schema`; a compressed one expanded first). The copy holds
 * only what the packed field holds: fields equal to their default (which a request stored field by
 * field also keeps) are left out, so the flat figure is a lower bound.
 */
async function packingCost(redis: Redis, prefix: string): Promise<Packing> {
  const requestKey = redisKeys(prefix).request('');
  let requests = 0;
  let packedBytes = 0;
  let flatBytes = 0;
  let fields = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${requestKey}*`, 'COUNT', 1000);
    cursor = next;
    const keys = found.filter((key) => /^AR-[0-9A-Z]+$/.test(key.slice(requestKey.length)));
    const reading = redis.pipeline();
    for (const key of keys) reading.hgetallBuffer(key).memory('USAGE', key, 'SAMPLES', '0');
    const read = (await reading.exec()) ?? [];
    const copying = redis.pipeline();
    const scratch: string[] = [];
    keys.forEach((key, i) => {
      const hash = readStoredHash(key, (read[2 * i]?.[1] ?? {}) as Record<string, Buffer>);
      if (hash.packed === undefined) return;
      const flat: Record<string, string> = {
        ...(JSON.parse(hash.packed) as Record<string, string>),
        state: hash.state ?? '',
        schema: '2',
      };
      const copy = `${prefix}:bench-flat:${scratch.length}`;
      scratch.push(copy);
      copying.hset(copy, flat).memory('USAGE', copy, 'SAMPLES', '0').del(copy);
      requests += 1;
      packedBytes += Number(read[2 * i + 1]?.[1] ?? 0);
      fields += Object.keys(flat).length;
    });
    const copied = (await copying.exec()) ?? [];
    scratch.forEach((_, j) => {
      flatBytes += Number(copied[3 * j + 1]?.[1] ?? 0);
    });
  } while (cursor !== '0');
  return { requests, packedBytes, flatBytes, fields: fields / Math.max(1, requests) };
}

/** The queues whose event streams and delayed jobs are sampled (BullMQ keys `<prefix>:<queue>:…`). */
const QUEUES = [
  'enrich',
  'apply',
  'revoke',
  'expire',
  'notify',
  'remind',
  'sweep',
  'reconcile',
  'home',
  'review',
  'offboard',
] as const;

/** One queue's event stream: the longest it got during the run, and its length when the run was read. */
interface StreamSample {
  readonly queue: string;
  readonly longest: number;
  readonly longestBytes: number;
  readonly drained: number;
  readonly swept: number;
}

/** Delayed jobs of one queue seen during the run: MEMORY USAGE of each job hash, on average. */
interface DelayedSample {
  readonly queue: string;
  readonly jobs: number;
  readonly bytesPerJob: number;
  /** The delayed zset's bytes per member, when it was largest. */
  readonly zsetBytesPerJob: number;
}

/** What the sampler saw. */
interface Samples {
  readonly streams: readonly StreamSample[];
  readonly delayed: readonly DelayedSample[];
}

/** Lengths and MEMORY USAGE of every queue's event stream, now. */
async function readStreams(
  redis: Redis,
  prefix: string,
): Promise<Map<string, { length: number; bytes: number }>> {
  const pipeline = redis.pipeline();
  for (const queue of QUEUES) {
    pipeline.xlen(`${prefix}:${queue}:events`).memory('USAGE', `${prefix}:${queue}:events`, 'SAMPLES', '0');
  }
  const read = (await pipeline.exec()) ?? [];
  return new Map(
    QUEUES.map((queue, i) => [
      queue,
      { length: Number(read[2 * i]?.[1] ?? 0), bytes: Number(read[2 * i + 1]?.[1] ?? 0) },
    ]),
  );
}

/**
 * Samples four times a second, until `finish`: how long each queue's event stream is (BullMQ trims it on most
 * writes, not on all: bursts grow it past its cap until the sweeper trims it) and the bytes of up to
 * 20 delayed jobs per queue not seen before (a revocation waiting for a grant's end, a reminder, an
 * expiry). `finish` is called once the queues have drained and again after the sweeper ran.
 */
function startSampler(redis: Redis, prefix: string) {
  const longest = new Map<string, { length: number; bytes: number }>();
  const jobs = new Map<string, Map<string, number>>();
  const zsetPerJob = new Map<string, { members: number; bytes: number }>();
  const note = (streams: Map<string, { length: number; bytes: number }>) => {
    for (const [queue, now] of streams) {
      if (now.length > (longest.get(queue)?.length ?? -1)) longest.set(queue, now);
    }
    return streams;
  };
  const sample = async () => {
    note(await readStreams(redis, prefix));
    for (const queue of ['revoke', 'remind', 'expire']) {
      const delayed = `${prefix}:${queue}:delayed`;
      const [members, zsetBytes, size] = await Promise.all([
        redis.zrange(delayed, 0, 19),
        redis.memory('USAGE', delayed, 'SAMPLES', '0'),
        redis.zcard(delayed),
      ]);
      if (size > (zsetPerJob.get(queue)?.members ?? 0)) {
        zsetPerJob.set(queue, { members: size, bytes: Number(zsetBytes ?? 0) });
      }
      const seen = jobs.get(queue) ?? new Map<string, number>();
      jobs.set(queue, seen);
      for (const id of members.filter((m) => !seen.has(m))) {
        const bytes = await redis.memory('USAGE', `${prefix}:${queue}:${id}`, 'SAMPLES', '0');
        if (bytes !== null) seen.set(id, Number(bytes));
      }
    }
  };
  // A failed sample is kept for finish() to throw, not left as an unhandled rejection between ticks.
  let failure: unknown;
  const sampleSafely = () =>
    sample().catch((error: unknown) => {
      failure ??= error;
    });
  let running = sampleSafely();
  // Four times a second: a small run's grants can hold their delayed revocation for under a second.
  const timer = setInterval(() => {
    running = running.then(sampleSafely);
  }, 250);
  let drained: Map<string, { length: number; bytes: number }> | undefined;
  return {
    /** The streams once the queues have drained (before the sweeper's next trim). */
    async drained() {
      drained = note(await readStreams(redis, prefix));
    },
    /** Stops sampling; the streams now, after the sweeper ran. */
    async finish(): Promise<Samples> {
      clearInterval(timer);
      await running;
      if (failure !== undefined) throw failure;
      const swept = note(await readStreams(redis, prefix));
      return {
        streams: QUEUES.map((queue) => ({
          queue,
          longest: longest.get(queue)?.length ?? 0,
          longestBytes: longest.get(queue)?.bytes ?? 0,
          drained: drained?.get(queue)?.length ?? 0,
          swept: swept.get(queue)?.length ?? 0,
        })).filter((stream) => stream.longest > 0),
        delayed: [...jobs]
          .filter(([, seen]) => seen.size > 0)
          .map(([queue, seen]) => {
            const zset = zsetPerJob.get(queue);
            return {
              queue,
              jobs: seen.size,
              bytesPerJob: [...seen.values()].reduce((a, b) => a + b, 0) / seen.size,
              zsetBytesPerJob: zset ? zset.bytes / zset.members : 0,
            };
          }),
      };
    },
  };
}

/**
 * Notices a run that stopped moving: no audit entry for 15 s. Under load Rolecall may answer a click
 * or command "not done, try again" (its receipt took longer than it may), which the driver cannot see
 * (the answer goes to the response_url); the run then sends those again, at most 5 times, and counts them.
 */
function stallWatch() {
  let last = Date.now();
  let rounds = 0;
  let resent = 0;
  return {
    progress() {
      last = Date.now();
    },
    now(): boolean {
      return Date.now() - last > 15_000;
    },
    resend<T>(items: readonly T[]): readonly T[] {
      rounds += 1;
      if (items.length === 0 || rounds > 5) {
        throw new Error(`the run stopped moving (${items.length} left to send again, round ${rounds})`);
      }
      resent += items.length;
      last = Date.now();
      return items;
    },
    resent: () => resent,
  };
}

/** Rolecall on a prefix of its own against the simulators, with a driver that signs like Slack. */
async function startBenchApp(slackUrl: string, atlasUrl: string, flavor: AtlasApiFlavor) {
  const prefix = `rolecall-bench-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-bench-'));
  const policyFile = join(dir, 'policy.yml');
  await writeFile(policyFile, SANDBOX_POLICY);
  const signingSecret = randomBytes(16).toString('hex');
  const config = parseConfig({
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_API_URL: slackUrl,
    PORT: '0',
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    ATLAS_BASE_URL: atlasUrl,
    ATLAS_API: flavor,
    ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey,
    ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey,
    ATLAS_RATE_ORG: '1000000/1000000',
    ATLAS_RATE_PROJECT: '1000000/1000000',
    ATLAS_RATE_USER: '1000000/1000000',
    POLICY_FILE: policyFile,
    WORKER_CONCURRENCY: '16',
    // The sweeper also trims BullMQ's event streams, which bursts grow past their cap: 5 s instead
    // of 60 s, so the memory read after the queues drain is what a minute later would show.
    SWEEP_INTERVAL: '5s',
  });
  const rolecall = await startRolecall(config, { logger: createLogger({ level: 'error' }) });
  // The simulators run in the child process (which accepts any response_url id); the driver here
  // only needs ids for response URLs and trigger ids.
  let responses = 0;
  const slackStub = {
    newResponseUrl: (userId: string, channelId: string) => {
      responses += 1;
      return `${slackUrl.replace(/\/api\/$/, '')}/response/${userId}.${channelId}.${responses}`;
    },
    newTriggerId: () => `${Date.now()}.1.${randomBytes(8).toString('hex')}`,
  } as unknown as SlackSimulator;
  const driver = createSlackDriver({
    eventsUrl: () => `http://127.0.0.1:${rolecall.port}/slack/events`,
    signingSecret,
    slack: slackStub,
  });
  /** Sends a signed payload to /slack/events; anything but 200 is an error. */
  const send = async (payload: Record<string, string>, what: string) => {
    const body = new URLSearchParams(payload).toString();
    const response = await driver.sendRaw(body, driver.sign(body));
    if (response.status !== 200) throw new Error(`${what}: HTTP ${response.status}`);
  };
  return {
    prefix,
    slackStub,
    send,
    async stop() {
      await rolecall.stop();
      await deleteKeys(REDIS_URL, prefix);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Where the simulators are and which Atlas flavor the app calls. */
interface Run {
  readonly slackUrl: string;
  readonly atlasUrl: string;
  readonly flavor: AtlasApiFlavor;
}

async function benchRolecall(n: number, { slackUrl, atlasUrl, flavor }: Run, redis: Redis): Promise<Figures> {
  const app = await startBenchApp(slackUrl, atlasUrl, flavor);
  const { prefix } = app;
  const store = createRequestStore(redis, { prefix });
  const web = new WebClient(BOT_TOKEN, { slackApiUrl: slackUrl, retryConfig: { retries: 0 } });
  const before = await usedMemory(redis);

  const ids: { id: string; ts: string }[] = [];
  await pool(
    Array.from({ length: n }, (_, i) => i),
    async (i) => {
      const user = userOf(i);
      const request = await store.create(
        {
          requesterId: user.slackId,
          granteeId: user.slackId,
          granteeEmail: user.email,
          target: { name: ATLAS.project.name, kind: 'project', id: ATLAS.project.id },
          roles: ['GROUP_DATA_ACCESS_READ_ONLY'],
          durationSeconds: null,
          reason: 'benchmark',
          sourceChannelId: null,
          replyUrl: null,
          rolesAtRequest: ['GROUP_READ_ONLY'],
          holdersAtRequest: [],
          addsToProject: false,
          extends: null,
        },
        user.slackId,
        'pending',
      );
      const posted = await web.chat.postMessage({
        channel: CHANNELS.approvals,
        text: `Access request ${request.id}:`,
      });
      await store.patch(request.id, ['pending'], {
        approvalMessage: { channelId: CHANNELS.approvals, ts: posted.ts ?? '' },
      });
      ids.push({ id: request.id, ts: posted.ts ?? '' });
    },
  );

  const sampler = startSampler(redis, prefix);
  const measured = await startMeasuring(redis);
  const approve = async ({ id, ts }: { id: string; ts: string }) => {
    const message = {
      channel: CHANNELS.approvals,
      ts,
      threadTs: undefined,
      text: '',
      blocks: [buildDecisionActions(id)],
      updates: 0,
    };
    const payload = buildButtonPayload(app.slackStub, PEOPLE.bob, message, 'request_approve');
    await app.send({ payload: JSON.stringify(payload) }, `approve ${id}`);
  };
  await pool(ids, approve);

  const approvedAt = new Map<string, number>();
  const appliedAt = new Map<string, number>();
  const stalled = stallWatch();
  let cursor = '0';
  while (appliedAt.size < n) {
    const read =
      (await redis.xread('COUNT', 5000, 'BLOCK', 1000, 'STREAMS', `${prefix}:audit`, cursor)) ?? [];
    for (const [, entries] of read) {
      for (const [entryId, flat] of entries) {
        cursor = entryId;
        stalled.progress();
        const fields = Object.fromEntries(
          flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])),
        );
        if (fields.to === 'approved') approvedAt.set(fields.request ?? '', Number(fields.at));
        if (fields.to === 'applied') appliedAt.set(fields.request ?? '', Number(fields.at));
        if (fields.to === 'failed') throw new Error(`${fields.request} failed: ${fields.detail}`);
      }
    }
    // A click Rolecall could not write down in time is acked with "not done, try again" (under load,
    // Redis past KEEP_WITHIN_MS): click again, as Bob would, and count it.
    if (stalled.now()) await pool(stalled.resend(ids.filter(({ id }) => !approvedAt.has(id))), approve);
  }
  const rates = await measured(n);
  const latencies = [...appliedAt].map(([id, at]) => at - (approvedAt.get(id) ?? at));
  // "Finished" means nothing is left to do for these requests: the Slack notices and Home tab
  // refreshes that follow `applied` have drained too (they are removed once done).
  await drainQueues(redis, prefix, ['apply', 'notify', 'home', 'enrich']);
  await sampler.drained();
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const after = await usedMemory(redis);
  const samples = await sampler.finish();
  const keys = await keyBreakdown(redis, prefix, n);
  const packing = await packingCost(redis, prefix);
  await app.stop();
  return {
    label: 'Rolecall approve -> applied',
    resent: stalled.resent(),
    n,
    ...rates,
    ...percentiles(latencies),
    bytesPerItem: (after - before) / n,
    keys,
    packing,
    samples,
  };
}

/** How many requests the whole-lifecycle run takes (at most), whatever N. */
const LIFECYCLE_MAX = 1_000;

/**
 * The whole life of a temporary grant through the real app: `/atlas-access request … for 1h` by each
 * person (ack, Atlas read, approval message), Approve by bob, applied, then `/atlas-access end ID`
 * by the requester, revoked. Memory is what that leaves behind once every queue has drained.
 */
async function benchLifecycle(
  n: number,
  { slackUrl, atlasUrl, flavor }: Run,
  redis: Redis,
): Promise<Figures> {
  const app = await startBenchApp(slackUrl, atlasUrl, flavor);
  const store = createRequestStore(redis, { prefix: app.prefix });
  const users = Array.from({ length: n }, (_, i) => userOf(i));
  const people = new Map(
    users.map((u) => [u.slackId, { id: u.slackId, name: u.email.split('@')[0] ?? 'u', email: u.email }]),
  );
  const command = (slackId: string, text: string) => {
    const person = people.get(slackId);
    if (!person) throw new Error(`unknown requester ${slackId}`);
    return app.send(buildCommandPayload(app.slackStub, person, text, CHANNELS.approvals), text);
  };
  const approvalTs = async (id: string): Promise<string> => {
    for (let i = 0; i < 1_500; i += 1) {
      const ts = (await store.get(id))?.approvalMessage?.ts;
      if (ts) return ts;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${id}: no approval message after 30 s`);
  };
  const before = await usedMemory(redis);
  const sampler = startSampler(redis, app.prefix);
  const measured = await startMeasuring(redis);

  const requesters = new Map<string, string>();
  const createdAt = new Map<string, number>();
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const react = (work: () => Promise<void>) => {
    const running: Promise<void> = work()
      .catch((error: unknown) => {
        failure = error as Error;
      })
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  };
  const ask = (u: (typeof users)[number]) =>
    command(
      u.slackId,
      `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name} for 1h because lifecycle`,
    );
  const approve = async (id: string) => {
    const message = {
      channel: CHANNELS.approvals,
      ts: await approvalTs(id),
      threadTs: undefined,
      text: '',
      blocks: [buildDecisionActions(id)],
      updates: 0,
    };
    const payload = buildButtonPayload(app.slackStub, PEOPLE.bob, message, 'request_approve');
    await app.send({ payload: JSON.stringify(payload) }, `approve ${id}`);
  };
  const end = (id: string) => command(requesters.get(id) ?? '', `end ${id}`);
  let asked = false;
  const asking = pool(users, ask).then(() => {
    asked = true;
  });
  /** Each request's latest state, to send again what Rolecall answered "not done" (see stallWatch). */
  const stateOf = new Map<string, string>();
  const stalled = stallWatch();
  let cursor = '0';
  const deadline = Date.now() + 600_000;
  while (latencies.length < n) {
    if (failure) throw failure;
    if (Date.now() > deadline) throw new Error(`${latencies.length} of ${n} lifecycles ended within 10 min`);
    const read =
      (await redis.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', `${app.prefix}:audit`, cursor)) ?? [];
    for (const [, entries] of read) {
      for (const [entryId, flat] of entries) {
        cursor = entryId;
        stalled.progress();
        const f = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])));
        const id = f.request ?? '';
        if (f.kind !== undefined && f.kind !== 'request') continue;
        stateOf.set(id, f.to ?? '');
        if (f.to === 'submitted') {
          requesters.set(id, f.actor ?? '');
          createdAt.set(id, Number(f.at));
        } else if (f.to === 'pending' && f.from === 'submitted') {
          react(() => approve(id));
        } else if (f.to === 'applied' && f.from === 'applying') {
          react(() => end(id));
        } else if (f.to === 'revoked') {
          latencies.push(Number(f.at) - (createdAt.get(id) ?? Number(f.at)));
        } else if (
          ['failed', 'denied', 'cancelled', 'expired', 'revoke_failed', 'refused'].includes(f.to ?? '')
        ) {
          throw new Error(`${id} ended ${f.to}: ${f.detail}`);
        }
      }
    }
    if (asked && inFlight.size === 0 && stalled.now()) {
      const askedBy = new Set(requesters.values());
      const again = stalled.resend([
        ...users.filter((u) => !askedBy.has(u.slackId)).map((u) => () => ask(u)),
        ...[...stateOf]
          .filter(([, state]) => state === 'pending')
          .map(
            ([id]) =>
              () =>
                approve(id),
          ),
        ...[...stateOf]
          .filter(([, state]) => state === 'applied')
          .map(
            ([id]) =>
              () =>
                end(id),
          ),
      ]);
      await pool(again, (send) => send());
    }
  }
  await asking;
  await Promise.all(inFlight);
  const rates = await measured(n);
  await drainQueues(redis, app.prefix, ['enrich', 'apply', 'revoke', 'expire', 'remind', 'notify', 'home']);
  await sampler.drained();
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const after = await usedMemory(redis);
  const samples = await sampler.finish();
  const keys = await keyBreakdown(redis, app.prefix, n);
  const packing = await packingCost(redis, app.prefix);
  await app.stop();
  return {
    label: 'Rolecall request -> applied -> ended',
    resent: stalled.resent(),
    n,
    ...rates,
    ...percentiles(latencies),
    bytesPerItem: (after - before) / n,
    keys,
    packing,
    samples,
  };
}

async function benchBareBullmq(n: number, redis: Redis): Promise<Figures> {
  const prefix = `rolecall-bench-noop-${randomBytes(3).toString('hex')}`;
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection: redis, prefix });
  const before = await usedMemory(redis);
  const latencies: number[] = [];
  let done = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker('noop', async () => undefined, { connection, prefix, concurrency: 16 });
  worker.on('completed', (job) => {
    latencies.push((job.finishedOn ?? Date.now()) - job.timestamp);
    done += 1;
    if (done === n) finish();
  });
  const measured = await startMeasuring(redis);
  await pool(
    Array.from({ length: n }, (_, i) => i),
    async (i) => {
      await queue.add('noop', { i }, { jobId: `noop-${i}`, removeOnComplete: { age: 86_400 } });
    },
  );
  await finished;
  const rates = await measured(n);
  const after = await usedMemory(redis);
  await worker.close();
  await queue.close();
  connection.disconnect();
  await deleteKeys(REDIS_URL, prefix);
  return {
    label: 'bare BullMQ no-op job',
    n,
    ...rates,
    ...percentiles(latencies),
    bytesPerItem: (after - before) / n,
  };
}

/** What one key's entries are called, by Redis type. */
const ENTRY_WORD: Readonly<Record<string, string>> = {
  hash: 'fields',
  list: 'items',
  set: 'members',
  zset: 'members',
  stream: 'entries',
};

/** The key table of one Rolecall row: every kind of key, its entries, and the total. */
function printKeys(row: Figures): void {
  if (!row.keys) return;
  console.log(
    `\nWhere a finished request's bytes are (${row.label}, N=${row.n}, MEMORY USAGE per key, divided by N):`,
  );
  // Every kind of key a request leaves (at N=10,000 the queues' own few keys are far under 1 B each).
  const shown = row.keys.filter((g) => g.bytesPerRequest >= 1).slice(0, 25);
  for (const group of shown) {
    const word = ENTRY_WORD[group.type];
    const entries = word
      ? `, ${group.type} of ${group.entriesPerKey.toFixed(1)} ${word} each`
      : `, ${group.type}`;
    console.log(
      `  ${group.bytesPerRequest.toFixed(0).padStart(6)} B  ${group.pattern} (${group.keys} keys)${entries}`,
    );
  }
  const rest = row.keys.slice(shown.length);
  if (rest.length > 0) {
    const bytes = rest.reduce((sum, g) => sum + g.bytesPerRequest, 0);
    console.log(
      `  ${bytes.toFixed(0).padStart(6)} B  ${rest.length} other kinds of key (the queues' own, mostly)`,
    );
  }
  const total = row.keys.reduce((sum, g) => sum + g.bytesPerRequest, 0);
  console.log(
    `  ${total.toFixed(0).padStart(6)} B  in all (keys only; used_memory also counts Redis's own tables)`,
  );
}

/** What packing saved, how long the event streams got and what a delayed job holds, for one Rolecall row. */
function printSamples(row: Figures): void {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  if (row.resent) {
    console.log(
      `${row.label}, N=${row.n}: ${row.resent} clicks or commands sent again after the run stopped moving for 15 s`,
    );
  }
  if (row.packing && row.packing.requests > 0) {
    const p = row.packing;
    console.log(
      `Settled requests (${row.label}, N=${row.n}): ${p.requests} request hashes hold ${mb(p.packedBytes)} packed and compressed (${(p.packedBytes / p.requests).toFixed(0)} B each); the same fields one per hash field (${p.fields.toFixed(1)} fields, defaults left out) ${mb(p.flatBytes)} (${(p.flatBytes / p.requests).toFixed(0)} B each, ${((p.flatBytes - p.packedBytes) / p.requests / p.fields).toFixed(0)} B more a field)`,
    );
  }
  if (!row.samples) return;
  for (const stream of row.samples.streams) {
    console.log(
      `Event stream ${stream.queue}:events (${row.label}, N=${row.n}): longest seen ${stream.longest} entries (${(stream.longestBytes / 1000).toFixed(0)} KB), ${stream.drained} once the queues drained, ${stream.swept} after the sweeper`,
    );
  }
  for (const delayed of row.samples.delayed) {
    console.log(
      `Delayed ${delayed.queue} jobs (${row.label}, N=${row.n}): ${delayed.bytesPerJob.toFixed(0)} B per job hash (${delayed.jobs} sampled) + ${delayed.zsetBytesPerJob.toFixed(0)} B in the delayed set`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      simulators: { type: 'boolean', default: false },
      ...ATLAS_API_OPTION,
    },
    strict: true,
  });
  if (values.simulators) {
    await runSimulators(Number(values.n));
    return;
  }
  const flavor = readAtlasFlavor(values['atlas-api']);
  const sizes = values.n === undefined ? [1_000, 10_000] : [Number(values.n)];
  const redis = new Redis(REDIS_URL);
  const rows: Figures[] = [];
  const notReceivedBySize = new Map<number, number>();
  for (const n of sizes) {
    const child = fork(new URL(import.meta.url).pathname, ['--simulators', '--n', String(n)], {
      execArgv: process.execArgv,
    });
    const urls = await new Promise<{ slackUrl: string; atlasUrl: string }>((resolve) =>
      child.once('message', resolve),
    );
    const run = { ...urls, flavor };
    // The lifecycle (once, with the largest N) first: it leaves every person's roles as they were.
    const lifecycle =
      n === sizes.at(-1) ? await benchLifecycle(Math.min(n, LIFECYCLE_MAX), run, redis) : undefined;
    const rolecall = await benchRolecall(n, run, redis);
    child.send('not-received');
    const { notReceived } = await new Promise<{ notReceived: number }>((resolve) =>
      child.once('message', resolve),
    );
    notReceivedBySize.set(n, notReceived);
    child.disconnect();
    const bare = await benchBareBullmq(n, redis);
    rows.push(rolecall, bare, ...(lifecycle ? [lifecycle] : []));
  }
  await redis.quit();
  const header = [
    'workload',
    'N',
    'per s',
    'p50 ms',
    'p99 ms',
    'Redis bytes/item',
    'key bytes/item',
    'CPU ms/item',
    'Redis CPU ms/item',
  ];
  const lines = rows.map((r) => [
    r.label,
    String(r.n),
    r.perSecond.toFixed(0),
    r.p50.toFixed(0),
    r.p99.toFixed(0),
    r.bytesPerItem.toFixed(0),
    r.keys ? r.keys.reduce((sum, g) => sum + g.bytesPerRequest, 0).toFixed(0) : '-',
    r.cpuMs.toFixed(2),
    r.redisCpuMs.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(
    `Workflow benchmark (node ${process.version}, ATLAS_API ${describeFlavor(flavor)}, simulators in a child process, worker concurrency 16)`,
  );
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
  console.log(
    "Redis bytes: used_memory after minus before, over N (the whole server: noisy at small N). Key bytes: MEMORY USAGE of the run's keys, over N.",
  );
  for (const row of rows) {
    printKeys(row);
    printSamples(row);
  }
  console.log('');
  for (const [n, count] of notReceivedBySize) {
    console.log(
      `N=${n}: Rolecall answered ${count} clicks or commands "cannot write down what you sent" (its receipt took longer than it may, under load)`,
    );
  }
  for (const ours of rows.filter((r) => r.label === 'Rolecall approve -> applied')) {
    const bare = rows.find((r) => r.label === 'bare BullMQ no-op job' && r.n === ours.n);
    if (!bare) continue;
    console.log(
      `N=${ours.n}: throughput ${(bare.perSecond / ours.perSecond).toFixed(1)}x lower, p50 ${(ours.p50 / Math.max(1, bare.p50)).toFixed(1)}x, memory ${(ours.bytesPerItem / Math.max(1, bare.bytesPerItem)).toFixed(1)}x, CPU ${(ours.cpuMs / Math.max(0.001, bare.cpuMs)).toFixed(1)}x (Redis ${(ours.redisCpuMs / Math.max(0.001, bare.redisCpuMs)).toFixed(1)}x) a bare job`,
    );
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
