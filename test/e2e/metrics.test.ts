import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

/** The value of one sample in Prometheus text format, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('GET /metrics', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });

  it('counts transitions, times decisions and grants, and counts Atlas calls, 429s and Slack errors', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('metrics'),
      env: { JOB_BACKOFF_MS: '10', RECONCILE_INTERVAL: '1h' },
    });
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/plain');
      return response.text();
    };
    const before = await scrape();
    expect(sample(before, 'rolecall_request_transitions_total', { to: 'applied' })).toBeUndefined();
    expect(sample(before, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // One rate-limited Atlas answer and one failed Slack post on the way.
    sandbox.atlas.inject({
      method: 'GET',
      status: 429,
      body: { error: 429, errorCode: 'RATE_LIMITED' },
      times: 1,
    });
    sandbox.slack.fail({ method: 'chat.update', error: 'internal_error', times: 1 });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because metrics',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');

    // The counters follow the stored write (the state can be read a moment before they move).
    const after = await waitUntil(
      async () => {
        const text = await scrape();
        return sample(text, 'rolecall_request_transitions_total', { to: 'applied' }) === 1 ? text : undefined;
      },
      5_000,
      'the applied transition to be counted',
    );
    for (const to of ['pending', 'approved', 'applying', 'applied']) {
      expect(sample(after, 'rolecall_request_transitions_total', { to })).toBe(1);
    }
    expect(sample(after, 'rolecall_decision_duration_seconds_count')).toBe(1);
    expect(sample(after, 'rolecall_apply_duration_seconds_count')).toBe(1);
    expect(sample(after, 'rolecall_apply_duration_seconds_sum')).toBeGreaterThan(0);
    expect(sample(after, 'rolecall_atlas_rate_limited_total')).toBe(1);
    const atlasOk = after
      .split('\n')
      .filter((l) => l.startsWith('rolecall_atlas_requests_total{') && l.includes('status="200"'));
    expect(atlasOk.length).toBeGreaterThan(0);
    // Ids never reach a label: the endpoint is a template.
    expect(after).not.toMatch(/operation="[^"]*[0-9a-f]{24}/);
    expect(sample(after, 'rolecall_atlas_requests_total', { status: '401' })).toBeGreaterThan(0);
    expect(
      sample(after, 'rolecall_slack_api_errors_total', { method: 'chat.update', error: 'internal_error' }),
    ).toBe(1);
    expect(sample(after, 'rolecall_queue_jobs', { queue: 'apply', state: 'failed' })).toBe(0);
    expect(sample(after, 'rolecall_queue_jobs', { queue: 'revoke', state: 'delayed' })).toBe(1);
    const policyLines = after.split('\n').filter((l) => l.startsWith('rolecall_policy_info{'));
    expect(policyLines).toHaveLength(1);
    expect(policyLines[0]).toMatch(/^rolecall_policy_info\{version="[0-9a-f]{12}"\} 1$/);
    expect(sample(after, 'rolecall_revocation_lag_seconds_count')).toBe(0);

    // Ended now: its revocation's lag (removal minus the early end) is timed.
    await sandbox.driver.command(PEOPLE.alice, `end ${id}`, CHANNELS.general);
    const revoked = await waitForState(sandbox, id, 'revoked');
    const ended = await waitUntil(
      async () => {
        const text = await scrape();
        return sample(text, 'rolecall_revocation_lag_seconds_count') === 1 ? text : undefined;
      },
      5_000,
      'the revocation lag to be timed',
    );
    const lag = ((revoked.revocation?.revokedAt ?? 0) - (revoked.endedEarly?.at ?? 0)) / 1000;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(sample(ended, 'rolecall_revocation_lag_seconds_sum')).toBeCloseTo(lag, 3);
  });

  it('serves /metrics only on METRICS_PORT when it is set', async () => {
    const metricsPort = await freePort();
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('metrics-port'),
      env: { METRICS_PORT: String(metricsPort) },
    });
    expect((await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/metrics`)).status).toBe(404);
    const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('# TYPE rolecall_request_transitions_total counter');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/healthz`)).status).toBe(200);
  });
});
