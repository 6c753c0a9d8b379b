// npm run bench:tracing (-- --n 3 --flows 10): what OpenTelemetry tracing costs. Builds once; first
// times startTracing alone in fresh `node` processes (2N, alternating: endpoint unset and set), as
// wall and CPU ms and the heap and resident memory it adds (after a full GC); then starts the built
// entry point (`node dist/main.js`: bot and worker in one process) N times with
// OTEL_EXPORTER_OTLP_ENDPOINT unset and N times with it set (to an in-process OTLP/HTTP receiver),
// each against fresh Slack and Atlas simulators, and prints per run and as medians: ms from spawn to
// the first 200 on /healthz and on /readyz, resident memory once ready, then FLOWS requests (one at a
// time, each by another person) through request -> approve -> applied: the median ms from the
// approve click to the "applied" DM, resident memory after them, and the spans the receiver got.
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { waitUntil } from '../dev/http-util.js';
import { freePort } from '../dev/local-redis.js';
import { type OtlpReceiver, startOtlpReceiver } from '../dev/otlp-receiver.js';
import { ATLAS, CHANNELS, PEOPLE, startSandbox } from '../dev/sandbox.js';
import { createSlackDriver } from '../dev/slack-driver.js';
import { requestIdIn, waitForApprovalMessage, waitForDm, waitForEphemeral } from '../dev/slack-flow.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '3' }, flows: { type: 'string', default: '10' } },
  strict: true,
});
const N = Number(values.n);
const FLOWS = Number(values.flows);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = new URL('..', import.meta.url);

/** The people who ask, one per flow: in the Slack workspace and in the sandbox project. */
const askers = Array.from({ length: FLOWS }, (_, i) => ({
  id: `U0TRACE${i}`,
  name: `trace${i}`,
  email: `trace${i}@example.com`,
  atlasId: `64b00000000000000000${(0xe000 + i).toString(16)}`,
}));

/** Resident memory of a process, in MiB (Linux). */
const rssOf = (pid: number | undefined): number => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
};

const firstOk = async (url: string, deadline: number): Promise<number> => {
  while (performance.now() < deadline) {
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${url}: no 200 within 20 s`);
};

interface Row {
  readonly healthz: number;
  readonly readyz: number;
  readonly rssReady: number;
  readonly approveToApplied: number;
  readonly rssAfter: number;
  readonly spans: number;
}

/** One start of the built app, traced or not, and FLOWS grants through it. */
async function runOnce(receiver: OtlpReceiver | undefined): Promise<Row> {
  const sandbox = await startSandbox({
    redisUrl: REDIS_URL,
    mode: 'bot',
    env: { LOG_LEVEL: 'error' },
    slackUsers: askers,
    atlas: {
      users: askers.map((a) => ({
        id: a.atlasId,
        username: a.email,
        orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
        groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      })),
    },
  });
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      ...sandbox.env,
      PORT: String(port),
      LOG_LEVEL: 'error',
      ...(receiver ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } : {}),
    },
    stdio: 'ignore',
  });
  try {
    const healthz = (await firstOk(`http://127.0.0.1:${port}/healthz`, started + 20_000)) - started;
    const readyz = (await firstOk(`http://127.0.0.1:${port}/readyz`, started + 20_000)) - started;
    const rssReady = rssOf(child.pid);
    const driver = createSlackDriver({
      eventsUrl: () => `http://127.0.0.1:${port}/slack/events`,
      signingSecret: sandbox.signingSecret,
      slack: sandbox.slack,
    });
    const latencies: number[] = [];
    for (const asker of askers) {
      await driver.command(
        asker,
        'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because bench',
        CHANNELS.general,
      );
      const id = requestIdIn(await waitForEphemeral(sandbox.slack, asker.id, /Request \*AR-[0-9A-Z]+\*/));
      const approval = await waitForApprovalMessage(sandbox.slack, id);
      const clicked = performance.now();
      await driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      await waitForDm(sandbox.slack, asker.id, new RegExp(`${id} approved by .* applied`));
      latencies.push(performance.now() - clicked);
    }
    const rssAfter = rssOf(child.pid);
    const before = receiver?.spans().length ?? 0;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    // What the SIGTERM flushed has arrived once the process is gone.
    if (receiver) await waitUntil(() => (receiver.spans().length >= before ? true : undefined), 5_000);
    return {
      healthz,
      readyz,
      rssReady,
      approveToApplied: median(latencies),
      rssAfter,
      spans: receiver?.spans().length ?? 0,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sandbox.stop();
  }
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });

/** startTracing alone in a fresh process: what loading and starting the SDK costs, or not loading it. */
const ALONE = `
import { createLogger } from './dist/ops/logger.js';
import { startTracing } from './dist/ops/tracing.js';
const endpoint = process.argv[1] === 'on' ? 'http://127.0.0.1:9' : undefined;
const logger = createLogger({ level: 'error' });
globalThis.gc(); const heap = process.memoryUsage().heapUsed; const rss = process.memoryUsage().rss;
const cpu = process.cpuUsage(); const started = performance.now();
const tracing = await startTracing({ endpoint, serviceName: 'bench', secrets: [], fullUrlsUnder: [], redisPrefix: 'p', logger });
const ms = performance.now() - started; const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
globalThis.gc(); const mib = (n) => n / 1024 / 1024;
console.log(JSON.stringify({ ms, cpuMs, heap: mib(process.memoryUsage().heapUsed - heap), rss: mib(process.memoryUsage().rss - rss) }));
await tracing.stop();
`;
const alone: { mode: string; ms: number; cpuMs: number; heap: number; rss: number }[] = [];
for (let i = 0; i < 2 * N; i += 1) {
  const mode = i % 2 === 0 ? 'off' : 'on';
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', ALONE, mode], {
    cwd: root,
  });
  alone.push({
    mode,
    ...(JSON.parse(out.toString()) as { ms: number; cpuMs: number; heap: number; rss: number }),
  });
}
console.log(`startTracing alone, ${N} fresh processes each way (medians):`);
console.log('| OTEL_EXPORTER_OTLP_ENDPOINT | wall ms | CPU ms | heap added MiB | RSS added MiB |');
console.log('|---|---|---|---|---|');
for (const mode of ['off', 'on']) {
  const of = alone.filter((a) => a.mode === mode);
  const pick = (key: 'ms' | 'cpuMs' | 'heap' | 'rss') =>
    median(of.map((a) => a[key])).toFixed(key === 'ms' || key === 'cpuMs' ? 1 : 2);
  console.log(
    `| ${mode === 'on' ? 'set' : 'unset'} | ${pick('ms')} | ${pick('cpuMs')} | ${pick('heap')} | ${pick('rss')} |`,
  );
}
console.log('');
const rows: { mode: string; row: Row }[] = [];
for (let i = 0; i < N; i += 1) {
  // Alternate, so a slower stretch of the machine falls on both.
  rows.push({ mode: 'off', row: await runOnce(undefined) });
  const receiver = await startOtlpReceiver();
  try {
    rows.push({ mode: 'on', row: await runOnce(receiver) });
  } finally {
    await receiver.close();
  }
}
const line = (label: string, r: Row) =>
  `| ${label} | ${r.healthz.toFixed(0)} | ${r.readyz.toFixed(0)} | ${r.rssReady.toFixed(1)} | ${r.approveToApplied.toFixed(0)} | ${r.rssAfter.toFixed(1)} | ${r.spans} |`;
console.log(`node dist/main.js, ${N} starts each way, ${FLOWS} grants per start, one at a time:`);
console.log(
  '| run | /healthz ms | /readyz ms | RSS ready MiB | approve -> applied ms (median) | RSS after MiB | spans |',
);
console.log('|---|---|---|---|---|---|---|');
for (const [i, { mode, row }] of rows.entries()) console.log(line(`${Math.floor(i / 2) + 1} ${mode}`, row));
for (const mode of ['off', 'on']) {
  const of = rows.filter((r) => r.mode === mode).map((r) => r.row);
  const pick = (key: keyof Row) => median(of.map((r) => r[key]));
  console.log(
    line(`median ${mode}`, {
      healthz: pick('healthz'),
      readyz: pick('readyz'),
      rssReady: pick('rssReady'),
      approveToApplied: pick('approveToApplied'),
      rssAfter: pick('rssAfter'),
      spans: pick('spans'),
    }),
  );
}
