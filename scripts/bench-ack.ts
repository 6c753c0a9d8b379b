// npm run bench:ack [-- --n 500 --people 200 --mode all]: how fast Rolecall acks Slack, next to a
// bare Bolt app that only acks, in one run. Rolecall runs as `npm start` runs it (`--mode all`: the
// Slack side and a worker in one process), or split as in production (`--mode split`: a `bot` process
// with no Atlas key and a separate `worker` process), against the Slack and Atlas simulators (a
// process of their own); the bare app is another. This process signs and sends N slash commands from
// `--people` different people, round robin (each a real request on a policy target; the per-person
// limits are raised so none is refused), and then N Approve clicks, at concurrency 1, 10 and 100, to
// both apps in alternating rounds, and prints ack latency (time to the HTTP answer) p50/p99 side by side.
// `--atlas-api` picks the Atlas flavor the worker calls (default: the product's default).

import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { App, HTTPReceiver } from '@slack/bolt';
import { Redis } from 'ioredis';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, deleteKeys, PEOPLE, SANDBOX_POLICY, storedRequestIds } from '../dev/sandbox.js';
import { buildButtonPayload, buildCommandPayload } from '../dev/slack-driver.js';
import { type SlackSimulator, startSlackSimulator } from '../dev/slack-simulator.js';
import { createHttpServer } from '../src/ops/http-server.js';
import { createLogger } from '../src/ops/logger.js';
import { buildDecisionActions } from '../src/slack/blocks/approval-message.js';
import { quantile } from './app-processes.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BOT_TOKEN = 'xoxb-bench';
const LEVELS = [1, 10, 100] as const;
const PEOPLE_COUNT = 4_000;

const personOf = (i: number) => ({
  id: `U0P${i.toString(36).toUpperCase().padStart(6, '0')}`,
  name: `person${i}`,
  email: `person${i}@example.com`,
  atlasId: `6f${i.toString(16).padStart(22, '0')}`,
});

/** The simulators, in a process of their own. */
async function runSimulators(): Promise<void> {
  const people = Array.from({ length: PEOPLE_COUNT }, (_, i) => personOf(i));
  const slack = await startSlackSimulator({
    botToken: BOT_TOKEN,
    users: [PEOPLE.bob, ...people],
    channels: [CHANNELS.approvals],
    responseUrls: { ttlMs: 3_600_000, uses: 5, strict: false },
  });
  const atlas = await startAtlasSimulator({
    apiKeys: [ATLAS.apiKey],
    orgs: [ATLAS.org],
    projects: [{ ...ATLAS.project, orgId: ATLAS.org.id }],
    users: people.map((p) => ({
      id: p.atlasId,
      username: p.email,
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
    })),
  });
  process.send?.({ slackUrl: slack.apiUrl, atlasUrl: atlas.url });
  process.on('disconnect', () => {
    void Promise.all([slack.close(), atlas.close()]).then(() => process.exit(0));
  });
}

/**
 * A Bolt app that only acks: the floor any Slack app stands on. Same receiver class and the same HTTP
 * server as Rolecall (src/ops/http-server.ts), so only what the handlers do differs.
 */
async function runBareBolt(signingSecret: string, slackUrl: string): Promise<void> {
  const receiver = new HTTPReceiver({
    signingSecret,
    endpoints: '/slack/events',
    signatureVerification: true,
  });
  // Bolt checks the token once (auth.test) and caches the answer, as Rolecall's app does.
  const app = new App({
    token: BOT_TOKEN,
    receiver,
    clientOptions: { slackApiUrl: slackUrl },
    deferInitialization: true,
  });
  await app.init();
  app.command('/atlas-access', async ({ ack }) => {
    await ack();
  });
  app.action(/.*/, async ({ ack }) => {
    await ack();
  });
  const server = createHttpServer({
    port: 0,
    logger: createLogger({ level: 'error' }),
    slack: receiver.requestListener,
    healthy: async () => true,
  });
  process.send?.({ port: await server.listen() });
}

function sign(secret: string, body: string): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${signature}`,
  };
}

/** Sends the bodies with `concurrency` in flight; returns each one's ack latency in ms. */
async function load(
  url: string,
  secret: string,
  bodies: readonly string[],
  concurrency: number,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next] as string;
        next += 1;
        const started = performance.now();
        const response = await fetch(url, { method: 'POST', headers: sign(secret, body), body });
        latencies.push(performance.now() - started);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
      }
    }),
  );
  return latencies.sort((a, b) => a - b);
}

function waitForMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve(m as T));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}

/** The port in the "rolecall started" JSON log line, once it has been written. */
function startedPort(output: string): number | undefined {
  for (const line of output.split('\n')) {
    try {
      const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
      if (entry.msg === 'rolecall started' && typeof entry.port === 'number') return entry.port;
    } catch {
      // a partial line, or not JSON
    }
  }
  return undefined;
}

function startRolecallProcess(mode: 'all' | 'bot' | 'worker', env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', ...(mode === 'all' ? [] : [mode])],
    {
      cwd: new URL('..', import.meta.url),
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const started = Date.now();
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const port = startedPort(output);
      if (port !== undefined) {
        clearInterval(timer);
        resolve(port);
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`${mode} exited: ${output}`));
      } else if (Date.now() - started > 30_000) {
        clearInterval(timer);
        child.kill('SIGTERM');
        reject(new Error(`${mode} did not log "rolecall started" within 30 s: ${output}`));
      }
    }, 50);
  });
  return { child, ready };
}

/**
 * Measures both apps at one concurrency in ten alternating rounds (ours then bare, bare then ours,
 * ...), so the background work Rolecall's worker does for earlier requests weighs on both alike.
 */
async function sideBySide(
  ours: string,
  theirs: string,
  secret: string,
  bodies: { readonly ours: readonly string[]; readonly theirs: readonly string[] },
  concurrency: number,
): Promise<{ ours: number[]; bare: number[] }> {
  const rounds = 10;
  const size = Math.ceil(bodies.ours.length / rounds);
  const mine: number[] = [];
  const floor: number[] = [];
  for (let start = 0, round = 0; start < bodies.ours.length; start += size, round += 1) {
    const measureOurs = async () =>
      mine.push(...(await load(ours, secret, bodies.ours.slice(start, start + size), concurrency)));
    const measureBare = async () =>
      floor.push(...(await load(theirs, secret, bodies.theirs.slice(start, start + size), concurrency)));
    if (round % 2 === 0) {
      await measureOurs();
      await measureBare();
    } else {
      await measureBare();
      await measureOurs();
    }
  }
  return { ours: mine.sort((a, b) => a - b), bare: floor.sort((a, b) => a - b) };
}

interface Row {
  readonly workload: string;
  readonly concurrency: number;
  readonly n: number;
  readonly ours: readonly number[];
  readonly bare: readonly number[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '500' },
      // How many different people send the slash commands, round robin.
      people: { type: 'string', default: '200' },
      // `all`: one process with the Slack side and a worker (`npm start`); `split`: bot + worker.
      mode: { type: 'string', default: 'all' },
      // `during`: the worker shares this machine's cores with the bot while acks are measured (the
      // default, the harder case); `after`: it starts once the slash commands are measured, as a worker
      // on another machine would leave the bot's cores alone.
      worker: { type: 'string', default: 'during' },
      simulators: { type: 'boolean', default: false },
      bare: { type: 'string' },
      'slack-url': { type: 'string' },
      ...ATLAS_API_OPTION,
    },
    strict: true,
  });
  if (values.simulators) return runSimulators();
  if (values.bare !== undefined) return runBareBolt(values.bare, values['slack-url'] ?? '');
  const n = Number(values.n);
  const flavor = readAtlasFlavor(values['atlas-api']);
  const peopleCount = Math.min(PEOPLE_COUNT, Number(values.people));
  const split = values.mode === 'split';
  if (values.mode !== 'all' && !split) throw new Error('--mode must be all or split');

  const self = new URL(import.meta.url).pathname;
  const simulators = fork(self, ['--simulators'], { execArgv: process.execArgv });
  const { slackUrl, atlasUrl } = await waitForMessage<{ slackUrl: string; atlasUrl: string }>(simulators);
  const secret = randomBytes(16).toString('hex');
  const bare = fork(self, ['--bare', secret, '--slack-url', slackUrl], { execArgv: process.execArgv });
  const { port: barePort } = await waitForMessage<{ port: number }>(bare);

  const prefix = `rolecall-bench-ack-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-bench-ack-'));
  const policyFile = join(dir, 'policy.yml');
  await writeFile(policyFile, SANDBOX_POLICY);
  const env = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: secret,
    SLACK_API_URL: slackUrl,
    PORT: '0',
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    POLICY_FILE: policyFile,
    LOG_LEVEL: 'warn',
    // The same person sends several commands in a run: no per-person limit refuses one.
    REQUESTS_PER_MINUTE: '10000',
    MAX_OPEN_REQUESTS: '10000',
  };
  const workerEnv = {
    ...env,
    LOG_LEVEL: 'info',
    ATLAS_BASE_URL: atlasUrl,
    ATLAS_API: flavor,
    ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey,
    ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey,
    ATLAS_RATE_ORG: '1000000/1000000',
    ATLAS_RATE_PROJECT: '1000000/1000000',
    ATLAS_RATE_USER: '1000000/1000000',
  };
  const bot = split
    ? startRolecallProcess('bot', { ...env, LOG_LEVEL: 'info' })
    : startRolecallProcess('all', workerEnv);

  const botPort = await bot.ready;
  const startWorker = () => startRolecallProcess('worker', { ...workerEnv, WORKER_CONCURRENCY: '16' });
  let worker = !split || values.worker === 'after' ? undefined : startWorker();
  await worker?.ready;
  const ours = `http://127.0.0.1:${botPort}/slack/events`;
  const theirs = `http://127.0.0.1:${barePort}/slack/events`;

  // Payloads as Slack sends them; response_urls point at the Slack simulator.
  const slackBase = slackUrl.replace(/\/api\/$/, '');
  let counter = 0;
  const stub = {
    newResponseUrl: (user: string, channel: string) => {
      counter += 1;
      return `${slackBase}/response/${user}.${channel}.b${counter}`;
    },
    newTriggerId: () => `${Date.now()}.1.${randomBytes(8).toString('hex')}`,
  } as unknown as SlackSimulator;
  let sent = 0;
  const commands = (count: number) =>
    Array.from({ length: count }, () => {
      const person = sent;
      sent += 1;
      const p = personOf(person % peopleCount);
      const line = `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name} for 1h because benchmark ${person}`;
      return new URLSearchParams(buildCommandPayload(stub, p, line, CHANNELS.general)).toString();
    });
  const clicks = (ids: readonly string[]) =>
    ids.map((id) => {
      const message = {
        channel: CHANNELS.approvals,
        ts: '1.1',
        threadTs: undefined,
        text: '',
        blocks: [buildDecisionActions(id)],
        updates: 0,
      };
      return new URLSearchParams({
        payload: JSON.stringify(buildButtonPayload(stub, PEOPLE.bob, message, 'request_approve')),
      }).toString();
    });

  const rows: Row[] = [];
  await load(ours, secret, commands(20), 4);
  await load(theirs, secret, commands(20), 4);
  for (const concurrency of LEVELS) {
    const count = Math.max(n, concurrency * 2);
    const measured = await sideBySide(
      ours,
      theirs,
      secret,
      { ours: commands(count), theirs: commands(count) },
      concurrency,
    );
    rows.push({ workload: 'slash command (request)', concurrency, n: count, ...measured });
  }

  if (split) {
    worker ??= startWorker();
    await worker.ready;
  }
  // Every request Rolecall took is pending once the worker has read Atlas: approve them, level by level.
  const redis = new Redis(REDIS_URL);
  const store = createRequestStore(redis, { prefix });
  // The bot works through what it acked a few at a time: wait until it has stored everything (the
  // stored requests themselves: ids are time-ordered, so the id counter says nothing about how many).
  let ids: string[] = [];
  for (let stable = 0, filed = -1; stable < 10; ) {
    ids = await storedRequestIds({ url: REDIS_URL, prefix });
    stable = ids.length === filed ? stable + 1 : 0;
    filed = ids.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (let waited = 0; ; waited += 1) {
    const states = await Promise.all(ids.map(async (id) => (await store.get(id))?.state));
    if (states.every((s) => s !== 'submitted')) break;
    if (waited > 600) throw new Error('requests were still being checked after 60 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pendingIds = [];
  const tally = new Map<string, number>();
  for (const id of ids) {
    const state = (await store.get(id))?.state ?? 'missing';
    tally.set(state, (tally.get(state) ?? 0) + 1);
    if (state === 'pending') pendingIds.push(id);
  }
  let offset = 0;
  for (const concurrency of LEVELS) {
    const count = Math.min(Math.max(n, concurrency * 2), Math.floor(pendingIds.length / LEVELS.length));
    const batch = pendingIds.slice(offset, offset + count);
    offset += count;
    const measured = await sideBySide(
      ours,
      theirs,
      secret,
      { ours: clicks(batch), theirs: clicks(batch) },
      concurrency,
    );
    rows.push({ workload: 'button click (Approve)', concurrency, n: batch.length, ...measured });
  }

  const refused = await redis.hgetall(`${prefix}:stats:refusals`);
  // The keys go once Rolecall's processes have exited: one still stopping may write a key (a rate bucket).
  const exited = [bot.child, ...(worker ? [worker.child] : [])].map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
        else child.once('exit', resolve);
      }),
  );
  bot.child.kill('SIGTERM');
  worker?.child.kill('SIGTERM');
  bare.kill();
  simulators.disconnect();
  await Promise.race([Promise.all(exited), new Promise((resolve) => setTimeout(resolve, 30_000))]);
  await redis.quit();
  await deleteKeys(REDIS_URL, prefix);
  await rm(dir, { recursive: true, force: true });

  const header = [
    'workload',
    'conc.',
    'N',
    'Rolecall p50',
    'Rolecall p99',
    'bare Bolt p50',
    'bare Bolt p99',
    'p99 ratio',
  ];
  const lines = rows.map((r) => {
    const p99 = quantile(r.ours, 0.99);
    const bareP99 = quantile(r.bare, 0.99);
    return [
      r.workload,
      String(r.concurrency),
      String(r.n),
      `${quantile(r.ours, 0.5).toFixed(1)} ms`,
      `${p99.toFixed(1)} ms`,
      `${quantile(r.bare, 0.5).toFixed(1)} ms`,
      `${bareP99.toFixed(1)} ms`,
      `${(p99 / Math.max(0.1, bareP99)).toFixed(2)}x`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(
    `Ack latency (node ${process.version}, ${availableParallelism()} cores; Rolecall = ${split ? `bot + worker processes, worker ${values.worker} the slash-command measurement` : 'one process with the Slack side and a worker (npm start)'}; ATLAS_API ${describeFlavor(flavor)}; commands from ${peopleCount} people; simulators and the bare Bolt app in their own processes)`,
  );
  console.log(
    `Requests Rolecall took: ${[...tally].map(([state, count]) => `${count} ${state}`).join(', ')}; refused before storing: ${Object.values(refused).reduce((sum, n) => sum + Number(n), 0)}`,
  );
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
