// npm run bench:startup (-- --n 5): how fast a built Rolecall answers after `node dist/main.js`.
// Builds once (tsc -b), then starts the real entry point N times against the Slack and Atlas
// simulators and prints, per run and as medians, the ms from spawn to the first 200 on /healthz and
// on /readyz, and what `npm run build` costs when dist/ is up to date (the `npm start` overhead) and
// when everything is compiled (`tsc -b --force`: what every start cost while the build was a plain
// `tsc -p`). `--atlas-api` sets ATLAS_API (default: the product's default): /readyz is 503 until its
// Atlas probe (one authenticated read in that flavor) has passed once.
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379).
import { execFileSync, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { freePort } from '../dev/local-redis.js';
import { startSandbox } from '../dev/sandbox.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '5' }, ...ATLAS_API_OPTION },
  strict: true,
});
const N = Number(values.n);
const FLAVOR = readAtlasFlavor(values['atlas-api']);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = new URL('..', import.meta.url);

const timed = (run: () => void): number => {
  const started = performance.now();
  run();
  return performance.now() - started;
};
execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
const full = [1, 2, 3].map(() =>
  timed(() => execFileSync('npm', ['run', '-s', 'build', '--', '--force'], { cwd: root })),
);
const noop = [1, 2, 3].map(() => timed(() => execFileSync('npm', ['run', '-s', 'build'], { cwd: root })));

// The simulators (and an idle in-process app, whose environment the spawned one copies).
const sandbox = await startSandbox({ redisUrl: REDIS_URL, env: { LOG_LEVEL: 'error', ATLAS_API: FLAVOR } });
const firstOk = async (url: string, deadline: number): Promise<number | null> => {
  while (performance.now() < deadline) {
    const ok = await fetch(url).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return null;
};
const rows: { healthz: number; readyz: number }[] = [];
try {
  for (let i = 0; i < N; i += 1) {
    const port = await freePort();
    const started = performance.now();
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...sandbox.env, PORT: String(port), LOG_LEVEL: 'error' },
      stdio: 'ignore',
    });
    const healthz = await firstOk(`http://127.0.0.1:${port}/healthz`, started + 20_000);
    const readyz = await firstOk(`http://127.0.0.1:${port}/readyz`, started + 20_000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    if (healthz === null || readyz === null) throw new Error(`run ${i + 1}: no answer within 20 s`);
    rows.push({ healthz: healthz - started, readyz: readyz - started });
  }
} finally {
  await sandbox.stop();
}
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
console.log(`node dist/main.js, ${N} starts (ms from spawn; ATLAS_API ${describeFlavor(FLAVOR)}):`);
console.log('| run | /healthz 200 | /readyz 200 |');
console.log('|---|---|---|');
for (const [i, r] of rows.entries()) {
  console.log(`| ${i + 1} | ${r.healthz.toFixed(0)} | ${r.readyz.toFixed(0)} |`);
}
console.log(
  `| median | ${median(rows.map((r) => r.healthz)).toFixed(0)} | ${median(rows.map((r) => r.readyz)).toFixed(0)} |`,
);
console.log(`npm run build with dist/ up to date (tsc -b, no compile): median ${median(noop).toFixed(0)} ms`);
console.log(
  `npm run build compiling everything (tsc -b --force, as a plain tsc -p did on every start): median ${median(full).toFixed(0)} ms`,
);
