// npm run bench:memory [-- --n 200 --node /path/to/node]: what one bot and one worker use, for the
// Helm chart's resource requests and limits. Builds dist/, then runs `node dist/main.js bot` and
// `node dist/main.js worker` as the chart does (the bot holds no Atlas credential) against the Slack
// and Atlas simulators and a Redis of its own (append-only), and samples each process's resident
// memory (VmRSS, and the kernel's peak VmHWM) and CPU time from /proc four times a second: idle
// after start, while N people each file a request that Bob approves (a 20-40 s grant, applied, then
// revoked at its end), and idle again after; with the V8 heap (used/total/external) each process
// reports on /metrics at the end of each phase. `--node` runs another Node (the image's: see
// scripts/test-node-lts.sh, which caches it under ~/.cache/rolecall); `--heap` sets
// --max-old-space-size as the chart does; `--atlas-api` picks the flavor. Linux only (/proc).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import { waitUntil } from '../dev/http-util.js';
import { freePort } from '../dev/local-redis.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, storedRequestIds } from '../dev/sandbox.js';
import { createSlackDriver } from '../dev/slack-driver.js';
import { startSlackSimulator } from '../dev/slack-simulator.js';
import { startOwnRedis } from '../test/support/own-redis.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '200' },
    node: { type: 'string', default: process.execPath },
    idle: { type: 'string', default: '15' },
    // --max-old-space-size for both processes (MiB), as the chart sets it; '' = Node's own default.
    heap: { type: 'string', default: '' },
    ...ATLAS_API_OPTION,
  },
  strict: true,
});
const N = Number(values.n);
const FLAVOR = readAtlasFlavor(values['atlas-api']);
const IDLE_MS = Number(values.idle) * 1000;
const NODE = values.node;
const NODE_ARGS = values.heap === '' ? [] : [`--max-old-space-size=${Number(values.heap)}`];
const ROLE = 'GROUP_DATA_ACCESS_READ_ONLY';
const BOT_TOKEN = 'xoxb-bench-memory';
const root = new URL('..', import.meta.url);
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One reading of a process: resident and peak resident memory (KiB), CPU seconds so far. */
interface Sample {
  readonly at: number;
  readonly rssKiB: number;
  readonly hwmKiB: number;
  readonly cpuSeconds: number;
}

async function sampleOf(pid: number): Promise<Sample> {
  const [status, stat] = await Promise.all([
    readFile(`/proc/${pid}/status`, 'utf8'),
    readFile(`/proc/${pid}/stat`, 'utf8'),
  ]);
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th of the line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return { at: Date.now(), rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), cpuSeconds: ticks / TICKS_PER_SECOND };
}

const people = Array.from({ length: N }, (_, i) => ({
  id: `U0M${i.toString(36).toUpperCase().padStart(5, '0')}`,
  name: `mem${i}`,
  email: `mem${i}@example.com`,
  atlasId: `6f${i.toString(16).padStart(22, '0')}`,
}));

execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
const nodeVersion = execFileSync(NODE, ['--version']).toString().trim();
const slack = await startSlackSimulator({
  botToken: BOT_TOKEN,
  users: [PEOPLE.bob, PEOPLE.carol, ...people],
  channels: Object.values(CHANNELS),
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
const redis = await startOwnRedis();
const dir = await mkdtemp(join(tmpdir(), 'rolecall-memory-'));
const policyFile = join(dir, 'policy.yml');
await writeFile(
  policyFile,
  `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${ROLE}]
    maxDuration: 1h
`,
);
const secret = randomBytes(16).toString('hex');
const prefix = `rolecall-memory-${randomBytes(3).toString('hex')}`;
const [botPort, workerPort] = [await freePort(), await freePort()];
const metricsPorts = { bot: await freePort(), worker: await freePort() };
// As the chart runs them: the bot without any Atlas credential, /metrics on a port of its own.
const shared = {
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: secret,
  SLACK_API_URL: slack.apiUrl,
  REDIS_URL: redis.url,
  QUEUE_PREFIX: prefix,
  POLICY_FILE: policyFile,
  LOG_LEVEL: 'warn',
  REQUESTS_PER_MINUTE: '1000',
  MAX_OPEN_REQUESTS: '1000',
  REMIND_BEFORE: '0',
  ATLAS_API: FLAVOR,
  NODE_ENV: 'production',
};
const processes = {
  bot: spawnRolecall('bot', { ...shared, PORT: String(botPort), METRICS_PORT: String(metricsPorts.bot) }),
  worker: spawnRolecall('worker', {
    ...shared,
    PORT: String(workerPort),
    METRICS_PORT: String(metricsPorts.worker),
    ATLAS_BASE_URL: atlas.url,
    ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey,
    ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey,
  }),
};

function spawnRolecall(mode: 'bot' | 'worker', env: Record<string, string>) {
  const child = spawn(NODE, [...NODE_ARGS, 'dist/main.js', mode], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-5_000);
  });
  return { child, errors: () => errors };
}

const ready = (port: number) =>
  waitUntil(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined,
    30_000,
    `/readyz on ${port}`,
  );
/** The V8 heap in use / its size / memory outside it (MiB), from the process's own /metrics. */
async function heapUsedMiB(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mib = (name: string) =>
    (Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0) / 1024 / 1024).toFixed(0);
  return `${mib('nodejs_heap_size_used_bytes')}/${mib('nodejs_heap_size_total_bytes')}/${mib('nodejs_external_memory_bytes')}`;
}
const heaps: Record<'bot' | 'worker', string[]> = { bot: [], worker: [] };
const readHeaps = async () => {
  for (const name of ['bot', 'worker'] as const) heaps[name].push(await heapUsedMiB(metricsPorts[name]));
};
type Phase = 'idle' | 'load' | 'after';
const samples: Record<'bot' | 'worker', { phase: Phase; sample: Sample }[]> = { bot: [], worker: [] };
let phase: Phase = 'idle';
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    for (const name of ['bot', 'worker'] as const) {
      const pid = processes[name].child.pid;
      if (pid !== undefined) {
        const sample = await sampleOf(pid).catch(() => undefined);
        if (sample) samples[name].push({ phase, sample });
      }
    }
    await sleep(250);
  }
})();

try {
  await Promise.all([ready(botPort), ready(workerPort)]);
  await sleep(IDLE_MS);
  await readHeaps();
  phase = 'load';
  const loadStarted = Date.now();
  const driver = createSlackDriver({
    eventsUrl: () => `http://127.0.0.1:${botPort}/slack/events`,
    signingSecret: secret,
    slack,
  });
  const asking = (async () => {
    for (const [i, person] of people.entries()) {
      await driver.command(
        person,
        `request ${ROLE} on ${ATLAS.project.name} for ${20 + (i % 21)}s because memory ${i}`,
        CHANNELS.general,
      );
      await sleep(20);
    }
  })();
  const approved = new Set<string>();
  const storeRedis = new Redis(redis.url);
  const store = createRequestStore(storeRedis, { prefix });
  await waitUntil(
    async () => {
      for (const id of await storedRequestIds({ url: redis.url, prefix })) {
        if (approved.has(id)) continue;
        const message = slack
          .messagesIn(CHANNELS.approvals)
          .find((m) => !m.threadTs && m.text.startsWith(`Access request ${id}:`));
        if (!message) continue;
        approved.add(id);
        await driver.clickButton(PEOPLE.bob, message, 'request_approve');
      }
      return approved.size >= N ? true : undefined;
    },
    5 * 60_000,
    'every request to be approved',
  );
  await asking;
  await waitUntil(
    async () => {
      const ids = await storedRequestIds({ url: redis.url, prefix });
      const states = await Promise.all(ids.map(async (id) => (await store.get(id))?.state));
      return states.length >= N && states.every((s) => s === 'revoked') ? true : undefined;
    },
    5 * 60_000,
    'every grant to be revoked',
  );
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  await readHeaps();
  phase = 'after';
  await sleep(IDLE_MS);
  await readHeaps();
  sampling = false;
  await sampler;

  const mib = (kib: number) => (kib / 1024).toFixed(0);
  console.log(
    `Rolecall memory and CPU, ${N} requests (approve, apply, revoke at the end of a 20-40 s grant) in ${loadSeconds.toFixed(0)} s; ATLAS_API ${describeFlavor(FLAVOR)}; ${nodeVersion}, node ${[...NODE_ARGS, 'dist/main.js'].join(' ')}`,
  );
  console.log(
    '| process | RSS idle (MiB) | RSS peak under load (MiB) | VmHWM (MiB) | RSS after (MiB) | V8 heap used/total/external: idle, end of load, after (MiB) | CPU under load (s) | mean CPU (millicores) | peak 1 s CPU (millicores) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const name of ['bot', 'worker'] as const) {
    const all = samples[name];
    const of = (p: Phase) => all.filter((s) => s.phase === p).map((s) => s.sample);
    const idle = of('idle');
    const load = of('load');
    const after = of('after');
    const first = load[0];
    const last = load.at(-1);
    const cpu = first && last ? last.cpuSeconds - first.cpuSeconds : 0;
    let peak = 0;
    for (let i = 0; i < load.length; i += 1) {
      const from = load[i];
      const to = load.slice(i).find((s) => from !== undefined && s.at - from.at >= 1000);
      if (from && to) peak = Math.max(peak, (to.cpuSeconds - from.cpuSeconds) / ((to.at - from.at) / 1000));
    }
    console.log(
      `| ${name} | ${mib(idle.at(-1)?.rssKiB ?? 0)} | ${mib(Math.max(...load.map((s) => s.rssKiB)))} | ${mib(
        all.at(-1)?.sample.hwmKiB ?? 0,
      )} | ${mib(after.at(-1)?.rssKiB ?? 0)} | ${heaps[name].join(', ')} | ${cpu.toFixed(1)} | ${((cpu / loadSeconds) * 1000).toFixed(0)} | ${(peak * 1000).toFixed(0)} |`,
    );
  }
  storeRedis.disconnect();
} catch (error) {
  for (const [name, p] of Object.entries(processes)) console.error(`${name}: ${p.errors()}`);
  throw error;
} finally {
  sampling = false;
  for (const p of Object.values(processes)) p.child.kill('SIGTERM');
  await sleep(1_000);
  await Promise.all([slack.close(), atlas.close(), redis.stop()]);
  await rm(dir, { recursive: true, force: true });
}
