import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../dev/otlp-receiver.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { createSlackDriver } from '../../dev/slack-driver.js';
import { requestIdIn, waitForApprovalMessage, waitForDm, waitForEphemeral } from '../../dev/slack-flow.js';
import { waitForState } from '../support/grant-flow.js';
import { type RolecallProcess, spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
/** Node's options for every spawned process: report each OpenTelemetry module it loads. */
const WATCH_MODULES = ['--import', './test/support/module-watch.ts'];
/** OTLP span kinds. */
const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

/** The spans from `span` up to its root, `span` first, following parent ids among `spans`. */
function chainOf(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [span];
  for (let parent = byId.get(span.parentSpanId); parent; parent = byId.get(parent.parentSpanId)) {
    chain.push(parent);
  }
  return chain;
}

describe('tracing (end to end, a bot and a worker process)', () => {
  let sandbox: Sandbox | undefined;
  let receiver: OtlpReceiver | undefined;
  const processes: RolecallProcess[] = [];

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.kill('SIGTERM')));
    await sandbox?.stop();
    await receiver?.close();
  });

  /**
   * Starts the simulators (with an idle in-process bot that takes no traffic), then `main.js bot` and
   * `main.js worker` as processes with `env` added, and runs request -> approve -> applied through
   * them. @returns the request id, the processes, and how to stop them (SIGTERM: what they buffered
   * is flushed).
   */
  const runGrantThroughProcesses = async (label: string, env: Record<string, string>) => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label), mode: 'bot' });
    const { ATLAS_PUBLIC_KEY: _key, ATLAS_PRIVATE_KEY: _secret, ...botEnv } = sandbox.env;
    const common = { PORT: '0', LOG_LEVEL: 'info', ...env };
    const bot = spawnRolecall(['bot'], { ...botEnv, ...common }, WATCH_MODULES);
    const worker = spawnRolecall(['worker'], { ...sandbox.env, ...common }, WATCH_MODULES);
    processes.push(bot, worker);
    await Promise.all([bot.ready(), worker.ready()]);
    const port = Number(/"port":(\d+)/.exec(bot.output())?.[1]);
    const slack = sandbox.slack;
    const driver = createSlackDriver({
      eventsUrl: () => `http://127.0.0.1:${port}/slack/events`,
      signingSecret: sandbox.signingSecret,
      slack,
    });

    const ack = await driver.command(
      PEOPLE.alice,
      `request ${READ} on payments-prod because incident 7`,
      CHANNELS.general,
    );
    expect(ack.status).toBe(200);
    const id = requestIdIn(await waitForEphemeral(slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/));
    const approval = await waitForApprovalMessage(slack, id);
    expect((await driver.clickButton(PEOPLE.bob, approval, 'request_approve')).status).toBe(200);
    await waitForState(sandbox, id, 'applied');
    expect((await waitForDm(slack, PEOPLE.alice.id, /applied/)).text).toContain(`${id} approved by`);
    const stop = async () => {
      await Promise.all([bot.kill('SIGTERM'), worker.kill('SIGTERM')]);
    };
    return { id, bot, worker, stop };
  };

  it('exports one connected trace from the Slack request through the jobs to Atlas and Redis, named by the request and free of secrets', async () => {
    receiver = await startOtlpReceiver();
    const { id, bot, worker, stop } = await runGrantThroughProcesses('otel-on', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // The sweeper runs several times meanwhile: a scheduled job starts a trace of its own.
      SWEEP_INTERVAL: '2s',
    });
    await waitUntil(
      () => (receiver?.spans().filter((s) => s.name === 'process sweep').length ?? 0) >= 2 || undefined,
      20_000,
      'two sweeps exported',
    );
    await stop();
    const spans = receiver.spans();
    const ofRequest = spans.filter((s) => s.attributes['rolecall.request_id'] === id);

    // The slash command that filed it starts the trace; every span naming the request is in it.
    const filed = ofRequest.find((s) => s.name === 'slack slash_command');
    expect(filed).toMatchObject({ service: 'rolecall-slack', kind: SERVER, parentSpanId: '' });
    expect(filed?.attributes).toMatchObject({ 'rolecall.target': 'payments-prod', 'rolecall.roles': [READ] });
    const traceId = filed?.traceId;
    expect(new Set(ofRequest.map((s) => s.traceId))).toEqual(new Set([traceId]));
    const trace = spans.filter((s) => s.traceId === traceId);
    expect(new Set(trace.map((s) => s.service))).toEqual(new Set(['rolecall-slack', 'rolecall-worker']));

    // The approval click, another Slack request, continues the trace that filed the request.
    const approved = trace.find((s) => s.attributes['rolecall.slack.action'] === 'request_approve');
    expect(approved).toMatchObject({ service: 'rolecall-slack', name: 'slack block_actions', kind: SERVER });
    expect(approved?.attributes).toMatchObject({
      'rolecall.request_id': id,
      'rolecall.target': 'payments-prod',
      'rolecall.roles': [READ],
    });
    expect(chainOf(approved as ReceivedSpan, trace).at(-1)).toBe(filed);

    // The apply job runs in the worker process as a child of the click (the context rode in the job).
    const applyJob = trace.find((s) => s.service === 'rolecall-worker' && s.name === 'process apply');
    expect(applyJob).toMatchObject({ kind: CONSUMER });
    expect(applyJob?.attributes).toMatchObject({
      'rolecall.request_id': id,
      'rolecall.target': 'payments-prod',
      'rolecall.roles': [READ],
    });
    expect(chainOf(applyJob as ReceivedSpan, trace)).toContain(approved);
    const enrichJob = trace.find((s) => s.service === 'rolecall-worker' && s.name === 'process enrich');
    expect(chainOf(enrichJob as ReceivedSpan, trace)).toContain(filed);

    // Every Atlas call of the apply job is an HTTP span under it, named by the request.
    const atlasCalls = trace.filter(
      (s) => s.kind === CLIENT && String(s.attributes['url.full']).startsWith(sandbox?.atlas.url ?? '-'),
    );
    const applyCalls = atlasCalls.filter((s) => chainOf(s, trace).includes(applyJob as ReceivedSpan));
    expect(applyCalls.map((s) => s.attributes['http.request.method'])).toContain('PUT');
    for (const call of applyCalls) {
      expect(call.attributes).toMatchObject({
        'rolecall.request_id': id,
        'rolecall.target': 'payments-prod',
        'http.response.status_code': expect.any(Number),
      });
    }
    // Redis commands, in both processes, with the key they touch and never a value.
    const redis = trace.filter((s) => s.attributes['db.system.name'] === 'redis');
    expect(new Set(redis.map((s) => s.service))).toEqual(new Set(['rolecall-slack', 'rolecall-worker']));
    expect(redis.map((s) => s.attributes['db.query.text'])).toContain(
      `hgetall ${sandbox?.config.redis.prefix}:request:${id}`,
    );

    // No secret anywhere, nor a response_url (its path is its credential).
    const exported = receiver.bodies().join('\n');
    for (const secret of [ATLAS.apiKey.privateKey, 'xoxb-sandbox-token', sandbox?.signingSecret ?? '-']) {
      expect(exported).not.toContain(secret);
    }
    expect(spans.filter((s) => String(s.attributes['url.full']).includes('/response/'))).toEqual([]);
    // Each run of a schedule is a trace of its own, not a child of the start-up that scheduled it.
    const sweeps = spans.filter((s) => s.name === 'process sweep');
    expect(sweeps.length).toBeGreaterThanOrEqual(2);
    expect(sweeps.map((s) => s.parentSpanId)).toEqual(sweeps.map(() => ''));
    expect(new Set(sweeps.map((s) => s.traceId)).size).toBe(sweeps.length);
    // Both processes loaded the SDK (what the next test's processes must not do).
    expect(bot.output()).toContain('module-watch: ');
    expect(worker.output()).toMatch(/module-watch: .*@opentelemetry\/sdk-trace-node/);
  }, 60_000);

  it('loads no OpenTelemetry module at all when OTEL_EXPORTER_OTLP_ENDPOINT is unset', async () => {
    const { bot, worker, stop } = await runGrantThroughProcesses('otel-off', {});
    await stop();
    expect(bot.output()).toContain('"rolecall started"');
    expect(bot.output()).not.toContain('module-watch: ');
    expect(worker.output()).toContain('"rolecall started"');
    expect(worker.output()).not.toContain('module-watch: ');
  }, 60_000);
});
