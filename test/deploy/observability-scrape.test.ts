import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { type Rolecall, startRolecall } from '../../src/compose/start-rolecall.js';
import { parseConfig } from '../../src/config.js';
import { QUEUES } from '../../src/jobs/queues.js';
import { createLogger } from '../../src/ops/logger.js';
import { TRANSITIONS } from '../../src/requests/state-machine.js';
import { roleWriteOutage } from '../support/faults.js';
import { ATLAS_V2 } from '../support/flow-flavors.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import {
  analyzePromql,
  dashboardExpressions,
  parseScrape,
  ROOT,
  readAlertRules,
  readDashboard,
  type Series,
  SYNTHETIC_SERIES,
  sampleOf,
  shellLinesOf,
  TARGET_LABELS,
} from './observability-support.js';

const run = promisify(execFile);
const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
/** The request id the runbook's examples use. */
const RUNBOOK_ID = 'AR-2QKJ5TX';

/**
 * Label values a rule may name that a short run cannot all produce, from where the app defines them:
 * every request state, every queue, and the scrape job the rules assume.
 */
const DEFINED_VALUES: Readonly<Record<string, readonly string[]>> = {
  to: Object.keys(TRANSITIONS),
  queue: Object.keys(QUEUES),
  job: ['rolecall'],
};

/** What the run saw: every scrape of both processes at its named moments, and the runbook's commands. */
interface Observed {
  readonly seen: Series[];
  readonly moments: Map<string, { bot: Series[]; worker: Series[] }>;
  readonly commands: { line: string; code: number; output: string }[];
  readonly pastEndId: string;
}

describe('the metrics behind deploy/ (a bot and a worker, scraped through a real flow)', () => {
  let sandbox: Sandbox | undefined;
  let worker: Rolecall | undefined;
  let redis: Redis | undefined;
  let revokeQueue: Queue | undefined;
  let observed: Observed;

  beforeAll(async () => {
    const prefix = uniquePrefix('observability');
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix,
      mode: 'bot',
      env: {
        JOB_BACKOFF_MS: '10',
        RECONCILE_INTERVAL: '1h',
        READY_CHECK_INTERVAL: '1s',
        REVOKE_RETRY_INTERVAL: '1h',
      },
    });
    const box = sandbox;
    worker = await startRolecall(parseConfig({ ...box.env, PORT: '0' }, { mode: 'worker' }), {
      logger: createLogger({ level: 'warn' }),
    });
    const workerPort = worker.port;
    redis = new Redis(TEST_REDIS_URL);
    revokeQueue = new Queue('revoke', { connection: redis, prefix: box.config.redis.prefix });

    const seen: Series[] = [];
    const moments: Observed['moments'] = new Map();
    const scrape = async (port: number) => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
      const series = parseScrape(await response.text());
      seen.push(...series);
      return series;
    };
    /** Scrapes both until `ready` holds for both (`forWorker` for the worker), and keeps them as `moment`. */
    const both = (
      moment: string,
      ready: (series: Series[]) => boolean,
      forWorker: (series: Series[]) => boolean = ready,
    ) =>
      waitUntil(
        async () => {
          const [bot, work] = [await scrape(box.rolecall.port), await scrape(workerPort)];
          if (!ready(bot) || !forWorker(work)) return undefined;
          moments.set(moment, { bot, worker: work });
          return true;
        },
        15_000,
        `the metrics of "${moment}"`,
      );

    await both('start', (s) => sampleOf(s, 'rolecall_ready') === 1);

    // 1. A grant past its end that nothing revokes (the revoke queue paused), on the way one Atlas
    //    429 and one failed Slack call.
    await revokeQueue.pause();
    box.atlas.inject({
      method: 'GET',
      status: 429,
      body: { error: 429, errorCode: 'RATE_LIMITED' },
      times: 1,
    });
    box.slack.fail({ method: 'chat.update', error: 'internal_error', times: 1 });
    const first = await requestAs(
      box,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because past end`,
    );
    await box.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitForState(box, first.id, 'applied');
    await both(
      'past end',
      (s) =>
        sampleOf(s, 'rolecall_grants_past_end', { state: 'applied' }) === 1 &&
        // Over a second: the runbook's command takes the time in whole seconds.
        (sampleOf(s, 'rolecall_oldest_grant_past_end_seconds', { state: 'applied' }) ?? 0) > 1,
    );

    // The runbook's commands, on this store, this worker and this request; its last one resumes the queue.
    const yesterday = new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 10);
    const runbook = await readFile(new URL('docs/runbook.md', ROOT), 'utf8');
    const commands: Observed['commands'] = [];
    for (const line of shellLinesOf(runbook)) {
      const command = line
        .replaceAll('rolecall:', `${box.config.redis.prefix}:`)
        .replaceAll("prefix: 'rolecall'", `prefix: '${box.config.redis.prefix}'`)
        .replaceAll('127.0.0.1:3000', `127.0.0.1:${workerPort}`)
        .replaceAll(RUNBOOK_ID, first.id)
        .replaceAll('2026-01-01', yesterday)
        .replace(/^rolecall /, 'npx tsx src/cli/rolecall.ts ');
      const result = await run('bash', ['-c', command], {
        cwd: fileURLToPath(ROOT),
        env: { ...process.env, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: box.config.redis.prefix },
        timeout: 60_000,
      }).then(
        ({ stdout, stderr }) => ({ code: 0, output: `${stdout}${stderr}` }),
        (error: { code?: number; stdout?: string; stderr?: string }) => ({
          code: error.code ?? 1,
          output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
        }),
      );
      commands.push({ line, ...result });
    }
    await waitForState(box, first.id, 'revoked');
    const revokedNow = (s: Series[]) => sampleOf(s, 'rolecall_grants_past_end', { state: 'applied' }) === 0;
    // The counters follow the stored write: the state can be read a moment before they move.
    await both(
      'revoked',
      revokedNow,
      (s) => revokedNow(s) && sampleOf(s, 'rolecall_revocation_lag_seconds_count') === 1,
    );

    // 2. A revocation failing (Atlas refuses the role write), then retried by an approver.
    const second = await requestAs(
      box,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because failing`,
    );
    await box.driver.clickButton(PEOPLE.bob, second.approval, 'request_approve');
    await waitForState(box, second.id, 'applied');
    const outage = roleWriteOutage(ATLAS_V2);
    box.atlas.inject({
      method: ATLAS_V2.roleWrite.method,
      path: outage,
      status: 403,
      body: { error: 403, errorCode: 'ACCESS_FORBIDDEN', detail: 'Access forbidden.' },
      times: Number.POSITIVE_INFINITY,
    });
    await box.driver.command(PEOPLE.alice, `end ${second.id}`, CHANNELS.general);
    await waitForState(box, second.id, 'revoke_failed');
    await both('failing', (s) => sampleOf(s, 'rolecall_revocations_failing') === 1);
    outage.end();
    await box.driver.clickButton(PEOPLE.carol, second.approval, 'request_retry');
    await waitForState(box, second.id, 'revoked');
    await both('retried', (s) => sampleOf(s, 'rolecall_revocations_failing') === 0);

    // 3. Slack refusing the bot token: the slack check fails in both processes, then recovers.
    box.slack.fail({ method: 'auth.test', error: 'invalid_auth', times: Number.POSITIVE_INFINITY });
    await both('slack refusing', (s) => sampleOf(s, 'rolecall_ready') === 0);
    box.slack.endFailures('auth.test');
    await both('slack back', (s) => sampleOf(s, 'rolecall_ready') === 1);

    observed = { seen, moments, commands, pastEndId: first.id };
  }, 120_000);

  afterAll(async () => {
    await revokeQueue?.close();
    await worker?.stop();
    await sandbox?.stop();
    redis?.disconnect();
  });

  const at = (moment: string) => {
    const found = observed.moments.get(moment);
    if (!found) throw new Error(`no scrape at ${moment}`);
    return found;
  };

  it('reports a grant past its end that nothing revokes, by state, in both processes, until it is revoked', () => {
    for (const series of [at('past end').bot, at('past end').worker]) {
      expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'applied' })).toBe(1);
      expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'revoke_failed' })).toBe(0);
      const age = sampleOf(series, 'rolecall_oldest_grant_past_end_seconds', { state: 'applied' }) ?? 0;
      expect(age).toBeGreaterThan(1);
      expect(age).toBeLessThan(60);
      expect(sampleOf(series, 'rolecall_oldest_grant_past_end_seconds', { state: 'revoking' })).toBe(0);
    }
    for (const series of [at('start').worker, at('revoked').worker, at('revoked').bot]) {
      for (const state of ['applied', 'revoking', 'revoke_failed']) {
        expect(sampleOf(series, 'rolecall_grants_past_end', { state })).toBe(0);
        expect(sampleOf(series, 'rolecall_oldest_grant_past_end_seconds', { state })).toBe(0);
      }
    }
    // The revocation is timed where it ran.
    expect(sampleOf(at('revoked').worker, 'rolecall_revocation_lag_seconds_count')).toBe(1);
  });

  it('reports a failing revocation, since when, and REVOKE_ESCALATE_EVERY, until an approver retries it', () => {
    for (const series of [at('failing').bot, at('failing').worker]) {
      expect(sampleOf(series, 'rolecall_revocations_failing')).toBe(1);
      const failingFor = sampleOf(series, 'rolecall_oldest_revocation_failing_seconds') ?? -1;
      expect(failingFor).toBeGreaterThanOrEqual(0);
      expect(failingFor).toBeLessThan(60);
      expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'revoke_failed' })).toBe(1);
      expect(sampleOf(series, 'rolecall_revoke_escalate_every_seconds')).toBe(3600);
    }
    expect(
      sampleOf(at('failing').worker, 'rolecall_atlas_requests_total', { status: '403' }),
    ).toBeGreaterThan(0);
    for (const series of [at('retried').bot, at('retried').worker]) {
      expect(sampleOf(series, 'rolecall_revocations_failing')).toBe(0);
      expect(sampleOf(series, 'rolecall_oldest_revocation_failing_seconds')).toBe(0);
      expect(sampleOf(series, 'rolecall_grants_past_end', { state: 'revoke_failed' })).toBe(0);
    }
  });

  it('reports readiness and each check, 0 while Slack refuses the bot token', () => {
    const { bot, worker: work } = at('start');
    expect(sampleOf(bot, 'rolecall_ready')).toBe(1);
    expect(sampleOf(work, 'rolecall_ready')).toBe(1);
    for (const check of ['redis', 'policy', 'redis-settings', 'store', 'slack']) {
      expect(sampleOf(bot, 'rolecall_readiness_check_ok', { check })).toBe(1);
    }
    // Only a process that runs workers checks Atlas.
    expect(sampleOf(work, 'rolecall_readiness_check_ok', { check: 'atlas' })).toBe(1);
    expect(sampleOf(bot, 'rolecall_readiness_check_ok', { check: 'atlas' })).toBeUndefined();
    for (const series of [at('slack refusing').bot, at('slack refusing').worker]) {
      expect(sampleOf(series, 'rolecall_ready')).toBe(0);
      expect(sampleOf(series, 'rolecall_readiness_check_ok', { check: 'slack' })).toBe(0);
      expect(sampleOf(series, 'rolecall_readiness_check_ok', { check: 'redis' })).toBe(1);
      expect(
        sampleOf(series, 'rolecall_slack_api_errors_total', { method: 'auth.test', error: 'invalid_auth' }),
      ).toBeGreaterThan(0);
    }
    expect(sampleOf(at('slack back').bot, 'rolecall_readiness_check_ok', { check: 'slack' })).toBe(1);
  });

  it("runs every command of docs/runbook.md's sh blocks against the running app and its store", () => {
    const { commands, pastEndId } = observed;
    expect(commands.length).toBeGreaterThan(8);
    for (const { line, code, output } of commands) {
      expect(code, `${line}\n${output}`).toBe(0);
      expect(output, line).not.toMatch(/^(\(error\) )?ERR/m);
    }
    const outputOf = (pattern: RegExp) => commands.find((c) => pattern.test(c.line))?.output ?? '';
    expect(JSON.parse(outputOf(/readyz/))).toMatchObject({ status: 'ready' });
    expect(outputOf(/metrics/)).toContain('rolecall_grants_past_end{state="applied"} 1');
    expect(outputOf(/ZRANGEBYSCORE/)).toContain(pastEndId);
    expect(outputOf(/HMGET/).split('\n')[0]).toBe('applied');
    expect(outputOf(/npm run -s audit/)).toContain(pastEndId);
    expect(outputOf(/^rolecall audit/)).toContain(pastEndId);
    expect(outputOf(/meta paused/).trim()).toBe('1');
  });

  it('uses only metrics, labels and label values the processes expose, in alerts.yml and the dashboard', () => {
    const { seen } = observed;
    const labelsOf = (metric: string): ReadonlySet<string> =>
      new Set([
        ...TARGET_LABELS,
        ...(SYNTHETIC_SERIES[metric] ?? []),
        ...seen.filter((s) => s.name === metric).flatMap((s) => Object.keys(s.labels)),
      ]);
    const exists = (metric: string) => metric in SYNTHETIC_SERIES || seen.some((s) => s.name === metric);
    const valuesOf = (metric: string, label: string) =>
      new Set([
        ...(DEFINED_VALUES[label] ?? []),
        ...seen.filter((s) => s.name === metric).map((s) => s.labels[label]),
      ]);
    const expressions = [
      ...readAlertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
      ...dashboardExpressions(readDashboard()),
    ];
    const metrics = new Set<string>();
    for (const { where, expr } of expressions) {
      const analysis = analyzePromql(expr, labelsOf);
      for (const selector of analysis.selectors) {
        metrics.add(selector.metric);
        expect(exists(selector.metric), `${where}: ${selector.metric} is not exposed`).toBe(true);
        for (const { label, op, value } of selector.matchers) {
          expect(labelsOf(selector.metric), `${where}: ${selector.metric} has no label ${label}`).toContain(
            label,
          );
          if (op === '=') {
            expect(
              valuesOf(selector.metric, label),
              `${where}: ${selector.metric}{${label}="${value}"}`,
            ).toContain(value);
          } else {
            expect(() => new RegExp(`^(?:${value})$`), `${where}: ${value}`).not.toThrow();
          }
        }
      }
      for (const grouping of analysis.groupings) {
        for (const label of grouping.labels) {
          expect(grouping.available, `${where}: ${grouping.clause} (${label})`).toContain(label);
        }
      }
    }
    // Every metric the alerts and the dashboard rely on was seen (or is Prometheus's own).
    expect([...metrics].filter((m) => !exists(m))).toEqual([]);
    for (const added of [
      'rolecall_ready',
      'rolecall_readiness_check_ok',
      'rolecall_grants_past_end',
      'rolecall_oldest_grant_past_end_seconds',
      'rolecall_revocations_failing',
      'rolecall_oldest_revocation_failing_seconds',
      'rolecall_revoke_escalate_every_seconds',
    ]) {
      expect(metrics, added).toContain(added);
    }
  });

  it("names in each alert's annotations only labels its expression's result carries", () => {
    const labelsOf = (metric: string): ReadonlySet<string> =>
      new Set([
        ...TARGET_LABELS,
        ...(SYNTHETIC_SERIES[metric] ?? []),
        ...observed.seen.filter((s) => s.name === metric).flatMap((s) => Object.keys(s.labels)),
      ]);
    for (const rule of readAlertRules()) {
      const { output } = analyzePromql(rule.expr, labelsOf);
      expect(output, rule.alert).not.toBe('scalar');
      const carried = new Set([...(output === 'scalar' ? [] : output), ...Object.keys(rule.labels ?? {})]);
      const named = Object.values(rule.annotations ?? {}).flatMap((text) =>
        [...text.matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]),
      );
      for (const label of named) expect(carried, `${rule.alert}: $labels.${label}`).toContain(label);
    }
  });
});
