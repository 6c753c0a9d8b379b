import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort, obtainRedis, redisAnswers } from '../../dev/local-redis.js';
import { deleteKeys } from '../../dev/sandbox.js';
import { TEST_REDIS_URL } from '../support/redis.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: new URL('../..', import.meta.url),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}

describe('npm run demo', () => {
  it('plays the whole story against the simulators and exits 0 in under a minute', async () => {
    const result = await run('npm', ['run', 'demo'], { ...process.env, REDIS_URL: TEST_REDIS_URL });
    expect(result.stderr).not.toContain('The demo failed');
    expect(result.code).toBe(0);
    expect(result.seconds).toBeLessThan(60);
    const out = result.stdout;
    // The one request of the story: its id as Rolecall issued it (time-ordered, 7 characters), the same everywhere.
    const id = /▌ Access request (AR-[0-9A-Z]{7})\n/.exec(out)?.[1] ?? 'no request id';
    expect(new Set(out.match(/AR-[0-9A-Z]+/g))).toEqual(new Set([id]));
    const order = [
      "Alice's roles on payments-prod in Atlas before: GROUP_READ_ONLY",
      '#general · alice\n    /atlas-access request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 20s because demo',
      `#approvals · Rolecall (bot)\n    ▌ Access request ${id}`,
      '    [Approve] [Deny]',
      `#general · Rolecall (bot), only visible to alice\n    📥 Request ${id} is waiting for approval in #approvals`,
      '#approvals · mallory\n    clicks [Approve]',
      '#approvals · Rolecall (bot), only visible to mallory\n    ⚠️ You can’t approve this',
      '#approvals · bob\n    clicks [Approve]',
      '⇢ Atlas PUT /api/atlas/v2/groups/5f1a2b3c4d5e6f7a8b9c0d1e/users/64b000000000000000000a11/roles {"groupRoles":["GROUP_READ_ONLY","GROUP_DATA_ACCESS_READ_ONLY"]} → 200',
      `DM with alice · Rolecall (bot)\n    ✅ ${id} approved by @bob and applied`,
      "Alice's roles on payments-prod in Atlas now: GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY",
      'Slack · alice\n    opens Rolecall’s Home tab',
      'Home tab of alice · Rolecall',
      '    ▌ Your access\n    GROUP_DATA_ACCESS_READ_ONLY on project payments-prod · ends ',
      `    [Extend] [End now]\n    ▌ Your requests\n    ${id} GROUP_DATA_ACCESS_READ_ONLY on payments-prod · active`,
      '⇢ Atlas PUT /api/atlas/v2/groups/5f1a2b3c4d5e6f7a8b9c0d1e/users/64b000000000000000000a11/roles {"groupRoles":["GROUP_READ_ONLY"]} → 200',
      `DM with alice · Rolecall (bot)\n    🔒 ${id} ended: removed GROUP_DATA_ACCESS_READ_ONLY from alice@example.com`,
      "Alice's roles on payments-prod in Atlas after: GROUP_READ_ONLY",
      'Next steps, to run Rolecall for real:',
    ];
    const prefix = /keys under (rolecall-demo-[a-f0-9]+):\*/.exec(out)?.[1];
    expect(prefix).toBeDefined();
    expect(await deleteKeys(TEST_REDIS_URL, prefix ?? 'missing')).toBe(0);
    let from = 0;
    for (const expected of order) {
      const at = out.indexOf(expected, from);
      expect(at, `transcript should contain, in order: ${expected}`).toBeGreaterThanOrEqual(0);
      from = at + expected.length;
    }
  }, 120_000);

  it('starts a private redis-server on a free port when nothing answers, and stops it afterwards', async () => {
    const port = await freePort();
    const redis = await obtainRedis(`redis://127.0.0.1:${port}`);
    expect(redis?.private).toBe(true);
    expect(redis?.url).not.toBe(`redis://127.0.0.1:${port}`);
    expect(await redisAnswers(redis?.url ?? '')).toBe(true);
    await redis?.stop();
    expect(await redisAnswers(redis?.url ?? '')).toBe(false);
  });

  it('says in one line how to get Redis, and exits non-zero, when there is neither a server nor redis-server', async () => {
    const port = await freePort();
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
    const result = await run(process.execPath, ['--import', 'tsx', 'dev/demo.ts'], {
      PATH: '/nonexistent',
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('apt-get install redis-server');
    expect(result.stderr).toContain('brew install redis');
    expect(result.stderr).toContain('docker run -p 6379:6379 redis');
  });
});
