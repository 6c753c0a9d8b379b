import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('logging', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });

  it('writes every audit entry as a JSON line and tags a request’s lines, its Atlas calls included, with its id', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      secrets: ['xoxb-sandbox-token'],
      write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('logging'),
      env: { JOB_BACKOFF_MS: '10', RECONCILE_INTERVAL: '1h' },
      overrides: { logger },
    });
    // One Atlas hiccup while the grant is applied: the client's retry is logged inside the job.
    sandbox.atlas.inject({
      method: 'PUT',
      status: 503,
      body: { error: 503, errorCode: 'SERVICE_UNAVAILABLE' },
    });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because logging',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');

    // The log line follows the stored write (the state can be read a moment before it is logged).
    await waitUntil(
      () =>
        lines.some((l) => l.msg === 'audit' && l.request === id && l.to === 'applied') ? true : undefined,
      5_000,
      'the applied audit line',
    );
    const audit = lines.filter((l) => l.msg === 'audit' && l.request === id);
    const redis = new Redis(TEST_REDIS_URL);
    const stream = (await redis.xrange(redisKeys(sandbox.config.redis.prefix).audit, '-', '+'))
      .map(([, f]) =>
        Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])),
      )
      .filter((e) => e.request === id);
    await redis.quit();
    // The same entries, in the same order, with the same fields, as the Redis stream.
    expect(audit.map((l) => [l.to, l.actor, l.detail, l.at])).toEqual(
      stream.map((e) => [e.to, e.actor, e.detail, e.at]),
    );
    expect(audit.map((l) => l.to)).toEqual(expect.arrayContaining(['pending', 'approved', 'applied']));
    expect(audit.every((l) => l.component === 'audit' && l.level === 'info')).toBe(true);

    const retry = lines.find((l) => l.msg === 'atlas asked to retry');
    expect(retry).toMatchObject({ component: 'atlas', requestId: id, status: 503 });
    const applied = lines.find((l) => l.msg === 'request applied');
    expect(applied?.requestId).toBe(id);
    expect(JSON.stringify(lines)).not.toContain('xoxb-sandbox-token');
  });
});
