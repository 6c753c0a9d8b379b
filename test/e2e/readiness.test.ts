import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { startOwnRedis } from '../support/own-redis.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

interface ReadyBody {
  status: string;
  checks: Record<string, { ok: boolean; detail?: string }>;
  failing?: string[];
}

describe('GET /readyz', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  const readyz = async (s: Sandbox) => {
    const response = await fetch(`http://127.0.0.1:${s.rolecall.port}/readyz`);
    return { status: response.status, body: (await response.json()) as ReadyBody };
  };
  const healthz = async (s: Sandbox) => (await fetch(`http://127.0.0.1:${s.rolecall.port}/healthz`)).status;

  it('is 200 with every check when Redis, the policy, Slack and Atlas answer, and 503 naming Slack or Atlas when they stop', async () => {
    const s = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('readyz'),
      env: { READY_CHECK_INTERVAL: '1s' },
    });
    sandbox = s;
    const ready = await readyz(s);
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    expect(Object.keys(ready.body.checks).sort()).toEqual([
      'atlas',
      'policy',
      'redis',
      'redis-settings',
      'slack',
      'store',
    ]);
    expect(Object.values(ready.body.checks).every((c) => c.ok)).toBe(true);
    expect(ready.body.checks.atlas?.detail).toBe(`credentials accepted on ${ATLAS.project.name}`);
    // The probe is an authenticated read: the simulator saw it signed.
    expect(
      s.atlas.authenticatedCalls().some((c) => c.method === 'GET' && c.path.includes('itemsPerPage=1')),
    ).toBe(true);

    // Atlas starts refusing the key: at the next check (1 s here, 60 s by default) readiness fails.
    s.atlas.inject({
      method: 'GET',
      path: /\/users$/,
      status: 401,
      body: {
        error: 401,
        errorCode: 'NOT_ORG_GROUP_CREATOR',
        detail: 'unauthorized',
        reason: 'Unauthorized',
      },
      untilMs: Date.now() + 60_000,
    });
    const atlasDown = await waitUntil(
      async () => {
        const r = await readyz(s);
        return r.status === 503 ? r : undefined;
      },
      5_000,
      'readiness to fail on Atlas',
    );
    expect(atlasDown.body).toMatchObject({ status: 'unavailable', failing: ['atlas'] });
    expect(atlasDown.body.checks.atlas?.detail).toMatch(/Atlas/);
    // Liveness is not readiness: the process is fine, Atlas is not.
    expect(await healthz(s)).toBe(200);

    s.slack.fail({ method: 'auth.test', error: 'invalid_auth', times: 1_000 });
    const slackDown = await waitUntil(
      async () => {
        const r = await readyz(s);
        return r.body.failing?.includes('slack') ? r : undefined;
      },
      5_000,
      'readiness to fail on Slack',
    );
    expect(slackDown.status).toBe(503);
    expect(slackDown.body.failing).toEqual(['slack', 'atlas']);
    expect(slackDown.body.checks.slack?.detail).toContain('invalid_auth');
  });

  it('is 503 naming Redis while Redis is down, and ready again when it is back', async () => {
    const own = await startOwnRedis();
    try {
      const s = await startSandbox({
        redisUrl: own.url,
        prefix: uniquePrefix('readyz-redis'),
        env: { SHUTDOWN_GRACE: '2s' },
      });
      sandbox = s;
      expect((await readyz(s)).status).toBe(200);
      await own.halt();
      const down = await readyz(s);
      expect(down.status).toBe(503);
      expect(down.body.failing).toEqual(['redis']);
      expect(down.body.checks.redis?.ok).toBe(false);
      expect(down.body.checks.policy?.ok).toBe(true);
      await own.restart();
      const back = await waitUntil(
        async () => {
          const r = await readyz(s);
          return r.status === 200 ? r : undefined;
        },
        10_000,
        'readiness to come back with Redis',
      );
      expect(back.body.status).toBe('ready');
      await s.stop();
      sandbox = undefined;
    } finally {
      await own.stop();
    }
  });
});
