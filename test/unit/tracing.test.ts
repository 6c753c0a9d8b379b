import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/local-redis.js';
import { type OtlpReceiver, startOtlpReceiver } from '../../dev/otlp-receiver.js';
import { parseConfig } from '../../src/config.js';
import { correlationFields } from '../../src/ops/correlation.js';
import { createLogger } from '../../src/ops/logger.js';
import { startTracing } from '../../src/ops/tracing.js';
import type { TraceLinks, Tracing } from '../../src/ops/tracing-types.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const SECRET = 'xoxb-unit-secret-token';
const logger = createLogger({ level: 'error' });
const ENV = {
  SLACK_BOT_TOKEN: 'xoxb-test',
  SLACK_SIGNING_SECRET: 'signing',
  ATLAS_PUBLIC_KEY: 'pub',
  ATLAS_PRIVATE_KEY: 'priv',
};

/** Trace links kept in memory, as Redis keeps them (ops/trace-links.ts). */
function memoryLinks(): TraceLinks & { readonly kept: Map<string, string> } {
  const kept = new Map<string, string>();
  return {
    kept,
    read: async (id) => kept.get(id),
    keep: async (id, carrier) => {
      kept.set(id, carrier);
    },
  };
}

describe('tracing configuration', () => {
  it('is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, and names each run mode', () => {
    expect(parseConfig(ENV).tracing).toEqual({ endpoint: undefined, serviceName: 'rolecall' });
    const on = { ...ENV, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' };
    expect(parseConfig(on, { mode: 'worker' }).tracing).toEqual({
      endpoint: 'http://collector:4318',
      serviceName: 'rolecall-worker',
    });
    const { ATLAS_PUBLIC_KEY: _p, ATLAS_PRIVATE_KEY: _k, ...bot } = on;
    expect(parseConfig(bot, { mode: 'bot' }).tracing.serviceName).toBe('rolecall-slack');
    expect(parseConfig({ ...on, OTEL_SERVICE_NAME: 'rc-eu' }).tracing.serviceName).toBe('rc-eu');
  });

  it('refuses an endpoint that is not an http(s) URL, in words', () => {
    expect(() => parseConfig({ ...ENV, OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://otel-collector:4318',
    );
  });
});

describe('startTracing', () => {
  let tracing: Tracing | undefined;
  let receiver: OtlpReceiver | undefined;
  let server: Server | undefined;
  let redis: Redis | undefined;

  afterEach(async () => {
    await tracing?.stop();
    await receiver?.close();
    server?.close();
    redis?.disconnect();
  });

  it('gives a handle that records nothing when no endpoint is set, and still correlates Slack requests', async () => {
    tracing = await startTracing({
      endpoint: undefined,
      serviceName: 'rolecall',
      secrets: [],
      fullUrlsUnder: [],
      redisPrefix: 'p',
      logger,
    });
    expect(tracing.enabled).toBe(false);
    expect(tracing.bullmq).toBeUndefined();
    const links = memoryLinks();
    let seen: { requestId?: string } = {};
    await tracing.slackRequests(links)(
      { kind: 'block_actions', action: 'x', requestId: 'AR-1' },
      async () => {
        tracing?.noteRequest({ requestId: 'AR-1', target: 't', roles: ['R'] }, 'moved');
        seen = correlationFields();
      },
    );
    expect(seen).toEqual({ requestId: 'AR-1' });
    expect(links.kept.size).toBe(0);
  });

  it('joins a decision to the trace that filed its request, names the request on every span, and exports no secret', async () => {
    receiver = await startOtlpReceiver();
    const prefix = uniquePrefix('tracing');
    const originalSend = Redis.prototype.sendCommand;
    server = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    tracing = await startTracing({
      endpoint: receiver.url,
      serviceName: 'unit',
      secrets: [SECRET, ''],
      fullUrlsUnder: [`${base}/api/`],
      redisPrefix: prefix,
      logger,
    });
    expect(Redis.prototype.sendCommand).not.toBe(originalSend);
    redis = new Redis(TEST_REDIS_URL);
    const links = memoryLinks();
    const run = tracing.slackRequests(links);

    await run({ kind: 'slash_command', action: '/rolecall', requestId: undefined }, async () => {
      // Another request read first (a duplicate check) is not what this Slack request is about.
      tracing?.noteRequest({ requestId: 'AR-6', target: 'other', roles: ['R'] }, 'read');
      tracing?.noteRequest(
        { requestId: 'AR-7', target: 'payments-prod', roles: ['GROUP_READ_ONLY'] },
        'filed',
      );
      await fetch(`${base}/api/chat.postMessage`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRET}` },
      });
      await fetch(`${base}/response/T0/123/${SECRET}`, { method: 'POST' });
      await redis?.set(`${prefix}:secret`, SECRET);
    });
    expect([...links.kept.keys()]).toEqual(['AR-7']);
    const kept = links.kept.get('AR-7');
    // A modal naming no request that moves one: named on its span, but it keeps no trace of its own.
    await run({ kind: 'view_submission', action: 'deny_modal', requestId: undefined }, async () => {
      tracing?.noteRequest(
        { requestId: 'AR-7', target: 'payments-prod', roles: ['GROUP_READ_ONLY'] },
        'moved',
      );
    });
    expect(links.kept.get('AR-7')).toBe(kept);
    await expect(
      run({ kind: 'block_actions', action: 'request_approve', requestId: 'AR-7' }, async () => {
        throw new Error(`refused with ${SECRET}`);
      }),
    ).rejects.toThrow(SECRET);
    await redis.del(`${prefix}:secret`);
    await tracing.stop();
    tracing = undefined;
    expect(Redis.prototype.sendCommand).toBe(originalSend);

    const spans = receiver.spans();
    const filed = spans.find((s) => s.name === 'slack slash_command');
    const decided = spans.find((s) => s.name === 'slack block_actions');
    const denied = spans.find((s) => s.name === 'slack view_submission');
    expect(denied?.attributes).toMatchObject({ 'rolecall.request_id': 'AR-7' });
    expect(denied?.traceId).not.toBe(filed?.traceId);
    expect(spans.filter((s) => s.attributes['rolecall.request_id'] === 'AR-6')).toEqual([]);
    expect(filed).toMatchObject({ service: 'unit', kind: 2, parentSpanId: '' });
    expect(decided).toMatchObject({ traceId: filed?.traceId, parentSpanId: filed?.spanId });
    const named = { 'rolecall.request_id': 'AR-7', 'rolecall.target': 'payments-prod' };
    expect(filed?.attributes).toMatchObject({ ...named, 'rolecall.roles': ['GROUP_READ_ONLY'] });
    expect(decided?.attributes).toMatchObject({
      'rolecall.request_id': 'AR-7',
      'rolecall.slack.action': 'request_approve',
    });
    // Its calls: HTTP (a response_url's path cut), Redis with the key and not the value.
    const children = spans.filter((s) => s.parentSpanId === filed?.spanId && s.kind === 3);
    expect(children.map((s) => s.attributes['url.full'] ?? s.attributes['db.query.text']).sort()).toEqual([
      `${base}/[redacted]`,
      `${base}/api/chat.postMessage`,
      `set ${prefix}:secret`,
    ]);
    for (const child of children) expect(child.attributes).toMatchObject(named);
    const exported = receiver.bodies().join('\n');
    expect(exported).toContain('refused with [redacted]');
    expect(exported).not.toContain(SECRET);
  });

  it('costs a warning, never a failure, when the collector cannot be reached, and stops within its deadline', async () => {
    const lines: string[] = [];
    tracing = await startTracing({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      serviceName: 'unit',
      secrets: [],
      fullUrlsUnder: [],
      redisPrefix: 'p',
      logger: createLogger({ level: 'warn', write: (line) => lines.push(line) }),
    });
    await tracing.slackRequests(memoryLinks())(
      { kind: 'slash_command', action: undefined, requestId: undefined },
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    );
    const started = Date.now();
    await expect(tracing.stop()).resolves.toBeUndefined();
    tracing = undefined;
    expect(Date.now() - started).toBeLessThan(4_500);
    const warned = lines.map((line) => JSON.parse(line) as { msg: string; error?: { code?: string } });
    expect(warned).toContainEqual(
      expect.objectContaining({
        msg: 'tracing: the last spans could not be exported',
        error: expect.objectContaining({ code: 'ECONNREFUSED' }),
      }),
    );
  }, 15_000);
});
