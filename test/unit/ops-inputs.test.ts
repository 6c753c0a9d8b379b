import { describe, expect, it } from 'vitest';
import { freePort } from '../../dev/local-redis.js';
import { parseConfig } from '../../src/config.js';
import { isAppError } from '../../src/errors.js';
import { withCorrelation } from '../../src/ops/correlation.js';
import { createDryRunLog } from '../../src/ops/dry-run-log.js';
import { createLogger } from '../../src/ops/logger.js';
import { connectRedis } from '../../src/ops/redis.js';
import { DRY_RUN_TEXT, labelDryRun } from '../../src/slack/dry-run-label.js';

const BASE = {
  SLACK_BOT_TOKEN: 'xoxb-1',
  SLACK_SIGNING_SECRET: 'secret',
  ATLAS_PUBLIC_KEY: 'pub',
  ATLAS_PRIVATE_KEY: 'priv',
};

const problemsOf = (env: Record<string, string>): string => {
  try {
    parseConfig({ ...BASE, ...env });
  } catch (error) {
    if (isAppError(error, 'CONFIG_INVALID')) return error.message;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
};

describe('operator input', () => {
  it('refuses a REDIS_URL ioredis cannot use: a bare % in the password, a port out of range, a database that is not a number', () => {
    for (const url of [
      'redis://:50%off@127.0.0.1:6379',
      'redis://127.0.0.1:99999',
      'redis://127.0.0.1:6379/abc',
    ]) {
      expect(problemsOf({ REDIS_URL: url }), url).toContain('REDIS_URL must look like redis://');
    }
    expect(parseConfig({ ...BASE, REDIS_URL: 'rediss://app:50%25off@redis.internal:6380/2' }).redis.url).toBe(
      'rediss://app:50%25off@redis.internal:6380/2',
    );
  });

  it('refuses METRICS_PORT equal to PORT, naming both', () => {
    expect(problemsOf({ PORT: '3000', METRICS_PORT: '3000' })).toContain(
      'METRICS_PORT and PORT are both 3000; give /metrics a port of its own',
    );
    expect(parseConfig({ ...BASE, PORT: '3000', METRICS_PORT: '9464' }).http.metricsPort).toBe(9464);
  });

  it('gives up in words when no sentinel answers, instead of waiting forever', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await connectRedis(
      {
        url: 'redis://127.0.0.1:6379',
        prefix: 'x',
        sentinels: [{ host: '127.0.0.1', port }],
        sentinelName: 'm',
      },
      'commands',
      createLogger({ write: () => undefined }),
    ).catch((e: unknown) => e);
    expect(isAppError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(
      `Cannot reach Redis at master m through the sentinels 127.0.0.1:${port}`,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 20_000);

  it('hash-tags QUEUE_PREFIX on a Redis Cluster and refuses Cluster with Sentinel or a malformed node list', () => {
    const cluster = parseConfig({
      ...BASE,
      REDIS_CLUSTER_NODES: 'redis-1:7000, redis-2:7001,redis-3:7002',
    }).redis;
    expect(cluster.prefix).toBe('{rolecall}');
    expect(cluster.clusterNodes).toEqual([
      { host: 'redis-1', port: 7000 },
      { host: 'redis-2', port: 7001 },
      { host: 'redis-3', port: 7002 },
    ]);
    expect(parseConfig({ ...BASE, QUEUE_PREFIX: 'acme', REDIS_CLUSTER_NODES: 'r:7000' }).redis.prefix).toBe(
      '{acme}',
    );
    expect(parseConfig({ ...BASE, QUEUE_PREFIX: 'acme' }).redis.prefix).toBe('acme');
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-1' })).toContain(
      'REDIS_CLUSTER_NODES must list host:port pairs separated by commas',
    );
    expect(
      problemsOf({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' }),
    ).toContain('REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set');
  });

  it('gives up in words when no cluster node answers, instead of waiting forever', async () => {
    const port = await freePort();
    const error = await connectRedis(
      { url: 'redis://127.0.0.1:6379', prefix: '{x}', clusterNodes: [{ host: '127.0.0.1', port }] },
      'commands',
      createLogger({ write: () => undefined }),
    ).catch((e: unknown) => e);
    expect(isAppError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain(`Cannot reach Redis at the cluster nodes 127.0.0.1:${port}`);
  }, 20_000);

  it('redacts a secret holding a quote or a backslash as JSON escapes it', () => {
    const lines: string[] = [];
    const password = 'pa"ss\\word';
    const logger = createLogger({ secrets: [password], write: (l) => lines.push(l) });
    logger.error('redis said', { error: new Error(`AUTH failed for ${password}`) });
    expect(lines.join('\n')).not.toContain('pa\\"ss\\\\word');
    expect(lines.join('\n')).toContain('[redacted]');
  });

  it('reports a write a retried job tried twice once', () => {
    const log = createDryRunLog();
    const write = {
      method: 'PUT',
      path: '/api/atlas/v2/groups/x/users/y/roles',
      body: { groupRoles: ['A'] },
    };
    withCorrelation('AR-0001', () => log.record(write));
    withCorrelation('AR-0001', () => log.record(write));
    expect(log.take('AR-0001')).toEqual(['PUT /api/atlas/v2/groups/x/users/y/roles {"groupRoles":["A"]}']);
    expect(log.take('AR-0001')).toEqual([]);
  });

  it('keeps a header valid when a full message has no room for the DRY RUN block', () => {
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'x'.repeat(140) } },
      ...Array.from({ length: 49 }, () => ({ type: 'divider' })),
    ];
    const out = labelDryRun({ blocks }).blocks as { type: string; text?: { text: string } }[];
    expect(out).toHaveLength(50);
    expect(out[0]?.text?.text.startsWith('DRY RUN · ')).toBe(true);
    expect(out[0]?.text?.text.length).toBeLessThanOrEqual(150);
    const roomy = labelDryRun({ blocks: blocks.slice(0, 10) }).blocks as { type: string }[];
    expect(roomy).toHaveLength(11);
    expect(roomy[0]?.type).toBe('context');
  });

  it('labels the first block with room for words when a full message starts with actions or a divider', () => {
    const blocks = [
      { type: 'actions', elements: [] },
      { type: 'divider' },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'AR-0001' }] },
      ...Array.from({ length: 47 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'line' } })),
    ];
    const out = labelDryRun({ blocks }).blocks as Record<string, unknown>[];
    expect(out).toHaveLength(50);
    expect(out.slice(0, 2)).toEqual(blocks.slice(0, 2));
    expect(out[2]).toEqual({
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: DRY_RUN_TEXT },
        { type: 'mrkdwn', text: 'AR-0001' },
      ],
    });
    expect(out[3]).toEqual(blocks[3]);
  });
});
