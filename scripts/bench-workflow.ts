// npm run bench:workflow [-- --n 1000]: pushes N requests through approve -> apply (signed Approve
// clicks into the real app, BullMQ worker, Atlas PUT with Digest, Slack notices) against the local
// simulators, which run in a child process. Prints throughput, p50/p99 approve-to-applied latency and
// Redis memory per request, next to the same figures for bare BullMQ no-op jobs in the same run.
// A third row follows the whole life of a temporary grant through the real commands (request, approve,
// applied, `end`, revoked; at most 1,000 of them), for what a typical finished request leaves behind.

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebClient } from '@slack/web-api';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, deleteKeys, PEOPLE, SANDBOX_POLICY } from '../dev/sandbox.js';
import { buildButtonPayload, buildCommandPayload, createSlackDriver } from '../dev/slack-driver.js';
import { type SlackSimulator, startSlackSimulator } from '../dev/slack-simulator.js';
import { startRolecall } from '../src/compose/start-rolecall.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/ops/logger.js';
import { buildDecisionActions } from '../src/slack/blocks/approval-message.js';

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
}

/** MEMORY USAGE of every key under `prefix`, grouped by kind: where a request's bytes go. */
async function keyBreakdown(redis: Redis, prefix: string, n: number): Promise<KeyGroup[]> {
  const groups = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', '0');
    const sizes = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const pattern = key
        .slice(prefix.length + 1)
        .replace(/AR-[0-9A-Z]+/g, '<id>')
        .replace(/U0B[0-9A-Z]+/g, '<user>')
        .replace(/:[0-9a-f]{24}/g, ':<atlas id>')
        .replace(/bench\d+@example\.com/g, '<email>')
        .replace(/:\d+$/g, ':<n>');
      const group = groups.get(pattern) ?? { keys: 0, bytes: 0 };
      group.keys += 1;
      group.bytes += Number(sizes[i]?.[1] ?? 0);
      groups.set(pattern, group);
    });
  } while (cursor !== '0');
  return [...groups]
    .map(([pattern, g]) => ({ pattern, keys: g.keys, bytesPerRequest: g.bytes / n }))
    .sort((a, b) => b.bytesPerRequest - a.bytesPerRequest);
}

/** Rolecall on a prefix of its own against the simulators, with a driver that signs like Slack. */
async function startBenchApp(slackUrl: string, atlasUrl: string) {
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

async function benchRolecall(n: number, slackUrl: string, atlasUrl: string, redis: Redis): Promise<Figures> {
  const app = await startBenchApp(slackUrl, atlasUrl);
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

  const measured = await startMeasuring(redis);
  await pool(ids, async ({ id, ts }) => {
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
  });

  const approvedAt = new Map<string, number>();
  const appliedAt = new Map<string, number>();
  let cursor = '0';
  while (appliedAt.size < n) {
    const read =
      (await redis.xread('COUNT', 5000, 'BLOCK', 1000, 'STREAMS', `${prefix}:audit`, cursor)) ?? [];
    for (const [, entries] of read) {
      for (const [entryId, flat] of entries) {
        cursor = entryId;
        const fields = Object.fromEntries(
          flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])),
        );
        if (fields.to === 'approved') approvedAt.set(fields.request ?? '', Number(fields.at));
        if (fields.to === 'applied') appliedAt.set(fields.request ?? '', Number(fields.at));
        if (fields.to === 'failed') throw new Error(`${fields.request} failed: ${fields.detail}`);
      }
    }
  }
  const rates = await measured(n);
  const latencies = [...appliedAt].map(([id, at]) => at - (approvedAt.get(id) ?? at));
  // "Finished" means nothing is left to do for these requests: the Slack notices and Home tab
  // refreshes that follow `applied` have drained too (they are removed once done).
  await drainQueues(redis, prefix, ['apply', 'notify', 'home', 'enrich']);
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const after = await usedMemory(redis);
  const keys = await keyBreakdown(redis, prefix, n);
  await app.stop();
  return {
    label: 'Rolecall approve -> applied',
    n,
    ...rates,
    ...percentiles(latencies),
    bytesPerItem: (after - before) / n,
    keys,
  };
}

/** How many requests the whole-lifecycle run takes (at most), whatever N. */
const LIFECYCLE_MAX = 1_000;

/**
 * The whole life of a temporary grant through the real app: `/atlas-access request … for 1h` by each
 * person (ack, Atlas read, approval message), Approve by bob, applied, then `/atlas-access end ID`
 * by the requester, revoked. Memory is what that leaves behind once every queue has drained.
 */
async function benchLifecycle(n: number, slackUrl: string, atlasUrl: string, redis: Redis): Promise<Figures> {
  const app = await startBenchApp(slackUrl, atlasUrl);
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
  const asking = pool(users, (u) =>
    command(
      u.slackId,
      `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name} for 1h because lifecycle`,
    ),
  );
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
        const f = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1] ?? '']] : [])));
        const id = f.request ?? '';
        if (f.kind !== undefined && f.kind !== 'request') continue;
        if (f.to === 'submitted') {
          requesters.set(id, f.actor ?? '');
          createdAt.set(id, Number(f.at));
        } else if (f.to === 'pending' && f.from === 'submitted') {
          react(async () => {
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
          });
        } else if (f.to === 'applied' && f.from === 'applying') {
          react(() => command(requesters.get(id) ?? '', `end ${id}`));
        } else if (f.to === 'revoked') {
          latencies.push(Number(f.at) - (createdAt.get(id) ?? Number(f.at)));
        } else if (
          ['failed', 'denied', 'cancelled', 'expired', 'revoke_failed', 'refused'].includes(f.to ?? '')
        ) {
          throw new Error(`${id} ended ${f.to}: ${f.detail}`);
        }
      }
    }
  }
  await asking;
  await Promise.all(inFlight);
  const rates = await measured(n);
  await drainQueues(redis, app.prefix, ['enrich', 'apply', 'revoke', 'expire', 'remind', 'notify', 'home']);
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  const after = await usedMemory(redis);
  const keys = await keyBreakdown(redis, app.prefix, n);
  await app.stop();
  return {
    label: 'Rolecall request -> applied -> ended',
    n,
    ...rates,
    ...percentiles(latencies),
    bytesPerItem: (after - before) / n,
    keys,
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

async function main(): Promise<void> {
  const nIndex = process.argv.indexOf('--n');
  if (process.argv.includes('--simulators')) {
    await runSimulators(Number(process.argv[nIndex + 1]));
    return;
  }
  const sizes = nIndex >= 0 ? [Number(process.argv[nIndex + 1])] : [1_000, 10_000];
  const redis = new Redis(REDIS_URL);
  const rows: Figures[] = [];
  for (const n of sizes) {
    const child = fork(new URL(import.meta.url).pathname, ['--simulators', '--n', String(n)], {
      execArgv: process.execArgv,
    });
    const urls = await new Promise<{ slackUrl: string; atlasUrl: string }>((resolve) =>
      child.once('message', resolve),
    );
    // The lifecycle (once, with the largest N) first: it leaves every person's roles as they were.
    const lifecycle =
      n === sizes.at(-1)
        ? await benchLifecycle(Math.min(n, LIFECYCLE_MAX), urls.slackUrl, urls.atlasUrl, redis)
        : undefined;
    const rolecall = await benchRolecall(n, urls.slackUrl, urls.atlasUrl, redis);
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
    `Workflow benchmark (node ${process.version}, simulators in a child process, worker concurrency 16)`,
  );
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
  console.log(
    "Redis bytes: used_memory after minus before, over N (the whole server: noisy at small N). Key bytes: MEMORY USAGE of the run's keys, over N.",
  );
  for (const row of rows) {
    if (!row.keys) continue;
    console.log(
      `\nWhere a finished request's bytes are (${row.label}, N=${row.n}, MEMORY USAGE per key, divided by N):`,
    );
    for (const group of row.keys.slice(0, 12)) {
      console.log(
        `  ${group.bytesPerRequest.toFixed(0).padStart(6)} B  ${group.pattern} (${group.keys} keys)`,
      );
    }
    const total = row.keys.reduce((sum, g) => sum + g.bytesPerRequest, 0);
    console.log(
      `  ${total.toFixed(0).padStart(6)} B  in all (keys only; used_memory also counts Redis's own tables)`,
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
