import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { freePort } from '../../dev/local-redis.js';
import { type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const run = promisify(execFile);

// What the container runs: `npm run build` (tsc -b) then `node dist/main.js`, with no TypeScript at
// start. Under scripts/test-node-lts.sh this runs on the image's Node too.
describe('the built entry point (node dist/main.js)', () => {
  let sandbox: Sandbox;

  beforeAll(async () => {
    await run('npm', ['run', '-s', 'build'], { cwd: process.cwd() });
    // The simulators, and an in-process app whose environment the spawned one copies.
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix('built') });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.stop();
  });

  it('answers /healthz and /readyz with every check passed, then exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const output: string[] = [];
    const child = spawn(process.execPath, ['dist/main.js'], {
      env: { PATH: process.env.PATH ?? '', ...sandbox.env, PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const ready = await waitUntil(
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          return response?.status === 200 ? ((await response.json()) as Record<string, unknown>) : undefined;
        },
        20_000,
        `/readyz 200 from node dist/main.js (output so far: ${output.join('')})`,
      );
      expect(ready).toMatchObject({
        status: 'ready',
        checks: {
          redis: { ok: true },
          policy: { ok: true },
          slack: { ok: true },
          atlas: { ok: true },
        },
      });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(output.join('')).not.toMatch(/"level":(50|60)/);
  }, 60_000);
});
