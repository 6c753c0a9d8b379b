import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ReadinessReport } from './readiness.js';

/**
 * Prometheus metrics of one process (prom-client). Each process exports its own counters; sum them
 * across processes in the query (`sum by (to) (rate(rolecall_request_transitions_total[5m]))`). The
 * queue and overdue-grant gauges read Redis at scrape time, so every process reports the same shared
 * figure: take `max`, not `sum`. A gauge whose read fails or takes longer than {@link READ_TIMEOUT_MS}
 * reports no series for that scrape (NaN when it has no labels), so the rest (readiness above all)
 * still gets through.
 * deploy/prometheus/alerts.yml and deploy/grafana/rolecall.json use these names; test/deploy checks them.
 */

/** A queue whose job counts the gauge reads at scrape time (a BullMQ Queue fits). */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/** One HTTP exchange with Atlas, as the Atlas client reports it. */
export interface AtlasExchangeEvent {
  /** `METHOD /path/{id}/…`: the endpoint with ids replaced, so the label set stays small. */
  readonly operation: string;
  /** The HTTP status, or `error` for a network failure or timeout. */
  readonly status: number | 'error';
  readonly durationMs: number;
}

/** One request changing state, in plain values (times in ms since the epoch). */
export interface StateChange {
  /** The state left; null for a request just filed. */
  readonly from: string | null;
  /** The state entered. */
  readonly to: string;
  /** When the request was filed. */
  readonly createdAt: number;
  /** When it was approved or denied; undefined while undecided. */
  readonly decidedAt: number | undefined;
  /** When the change happened. */
  readonly at: number;
  /** For a revocation: when the roles were removed minus when the grant ended, in ms. */
  readonly revocationLagMs?: number | undefined;
}

/** Grants past their end not revoked yet, by request state (requests/overdue-grants.ts reads them). */
export interface OverdueGrantsReading {
  readonly pastEnd: readonly {
    readonly state: string;
    readonly count: number;
    readonly oldestEndAt: number;
  }[];
  /** Revocations failing now, and when the oldest of them first failed (ms since epoch). */
  readonly failing: { readonly count: number; readonly oldestSince: number | null };
}

/** Settings the alert rules compare against, as gauges. */
export interface MetricsSettings {
  /** REVOKE_ESCALATE_EVERY in ms: a revocation failing longer than this pages (alerts.yml). */
  readonly revokeEscalateEveryMs: number;
}

/** What the rest of Rolecall reports; the registry renders it at GET /metrics. */
export interface Metrics {
  readonly registry: Registry;
  /**
   * A request changed state: counts it, and times decisions (created → decided), grants (approved →
   * applied) and revocations (end → removed).
   */
  transitioned(change: StateChange): void;
  atlasExchange(event: AtlasExchangeEvent): void;
  /** A Slack Web API call failed (`error` is Slack's error string, e.g. `channel_not_found`). */
  slackApiError(method: string, error: string): void;
  /** Reads these queues' job counts at every scrape. */
  watchQueues(queues: readonly CountableQueue[]): void;
  /** Sets `rolecall_policy_info{version}` to 1 for the loaded policy (and drops the previous one). */
  policyLoaded(version: string): void;
  /** Reads this process's readiness at every scrape (`rolecall_ready`, `rolecall_readiness_check_ok`). */
  watchReadiness(report: () => Promise<ReadinessReport>): void;
  /** Reads the grants past their end and the failing revocations at every scrape. */
  watchOverdueGrants(read: () => Promise<OverdueGrantsReading>): void;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
/** The states a grant past its end can be in, always reported (0 when none). */
const OVERDUE_STATES = ['applied', 'revoking', 'revoke_failed'] as const;
/** How long a scrape waits for a read from Redis (or a readiness report) before leaving it out. */
export const READ_TIMEOUT_MS = 2_000;

/** The read's result, or undefined when it fails or takes longer than `ms`. */
async function within<T>(read: () => Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read(),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** One read shared by the gauges of one scrape (they collect at once): a call while one is pending joins it. */
function sharedRead<T>(timeoutMs: number): (read: () => Promise<T>) => Promise<T | undefined> {
  let pending: Promise<T | undefined> | undefined;
  return (read) => {
    if (pending === undefined) {
      pending = within(read, timeoutMs).finally(() => {
        pending = undefined;
      });
    }
    return pending;
  };
}

/** Creates a fresh registry with Rolecall's metrics and the default process metrics. */
export function createMetrics(settings?: MetricsSettings): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const transitions = new Counter({
    name: 'rolecall_request_transitions_total',
    help: 'Request state changes, by the state entered',
    labelNames: ['to'],
    registers: [registry],
  });
  const decision = new Histogram({
    name: 'rolecall_decision_duration_seconds',
    help: 'From a request being filed to its decision (approved or denied), in seconds',
    buckets: [10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600],
    registers: [registry],
  });
  const apply = new Histogram({
    name: 'rolecall_apply_duration_seconds',
    help: 'From a request being approved to its roles being applied in Atlas, in seconds',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const revocationLag = new Histogram({
    name: 'rolecall_revocation_lag_seconds',
    help: "From a grant's end to its roles being removed in Atlas (the revocation), in seconds",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  const atlasRequests = new Counter({
    name: 'rolecall_atlas_requests_total',
    help: 'HTTP exchanges with the Atlas Admin API (Digest challenges included), by endpoint and status',
    labelNames: ['operation', 'status'],
    registers: [registry],
  });
  const atlasDuration = new Histogram({
    name: 'rolecall_atlas_request_duration_seconds',
    help: 'Duration of one HTTP exchange with the Atlas Admin API, in seconds',
    labelNames: ['operation'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'rolecall_atlas_rate_limited_total',
    help: 'Atlas answers with HTTP 429 (rate limited)',
    registers: [registry],
  });
  const slackErrors = new Counter({
    name: 'rolecall_slack_api_errors_total',
    help: 'Failed Slack Web API calls, by method and Slack error',
    labelNames: ['method', 'error'],
    registers: [registry],
  });
  const watched: CountableQueue[] = [];
  new Gauge({
    name: 'rolecall_queue_jobs',
    help: 'BullMQ jobs by queue and state, read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await within(
        () => Promise.all(watched.map((q) => q.getJobCounts(...QUEUE_STATES))),
        READ_TIMEOUT_MS,
      );
      if (counts === undefined) return;
      watched.forEach((queue, i) => {
        for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[i]?.[state] ?? 0);
      });
    },
  });
  const policy = new Gauge({
    name: 'rolecall_policy_info',
    help: 'The loaded policy file, by version (sha256 prefix); always 1',
    labelNames: ['version'],
    registers: [registry],
  });

  const readiness = watchReadinessGauges(registry);
  const overdue = watchOverdueGauges(registry);
  if (settings) {
    new Gauge({
      name: 'rolecall_revoke_escalate_every_seconds',
      help: 'REVOKE_ESCALATE_EVERY: how often a failing revocation is told again, in seconds',
      registers: [registry],
    }).set(settings.revokeEscalateEveryMs / 1000);
  }

  return {
    registry,
    transitioned({ from, to, createdAt, decidedAt, at, revocationLagMs }) {
      if (from === to) return;
      transitions.inc({ to });
      if ((to === 'approved' || to === 'denied') && from === 'pending') {
        decision.observe(Math.max(0, (decidedAt ?? at) - createdAt) / 1000);
      }
      if (to === 'applied' && decidedAt !== undefined) {
        apply.observe(Math.max(0, at - decidedAt) / 1000);
      }
      if (to === 'revoked' && revocationLagMs !== undefined) revocationLag.observe(revocationLagMs / 1000);
    },
    atlasExchange(event) {
      atlasRequests.inc({ operation: event.operation, status: String(event.status) });
      atlasDuration.observe({ operation: event.operation }, event.durationMs / 1000);
      if (event.status === 429) rateLimited.inc();
    },
    slackApiError(method, error) {
      slackErrors.inc({ method, error });
    },
    watchQueues(queues) {
      watched.push(...queues);
    },
    policyLoaded(version) {
      policy.reset();
      policy.set({ version }, 1);
    },
    watchReadiness(report) {
      readiness.watch(report);
    },
    watchOverdueGrants(read) {
      overdue.watch(read);
    },
  };
}

/** `rolecall_ready` and `rolecall_readiness_check_ok{check}`, from one readiness report per scrape. */
function watchReadinessGauges(registry: Registry): { watch(report: () => Promise<ReadinessReport>): void } {
  let source: (() => Promise<ReadinessReport>) | undefined;
  // Longer than the readiness checks' own timeout, so a slow check reports as failing, not as absent.
  const read = sharedRead<ReadinessReport>(READ_TIMEOUT_MS + 1_000);
  const current = () => (source ? read(source) : Promise.resolve(undefined));
  new Gauge({
    name: 'rolecall_ready',
    help: 'Whether /readyz answers 200 (1) or 503 (0: a check failing, or stopping)',
    registers: [registry],
    async collect() {
      // Unlabelled, it always has a value: NaN (unknown) until a readiness is watched.
      this.set(source ? (((await current())?.ready ?? false) ? 1 : 0) : Number.NaN);
    },
  });
  new Gauge({
    name: 'rolecall_readiness_check_ok',
    help: 'Each /readyz check: 1 passing, 0 failing (the detail is in the /readyz body)',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      this.reset();
      const report = await current();
      for (const [check, state] of Object.entries(report?.body.checks ?? {})) {
        this.set({ check }, state.ok ? 1 : 0);
      }
    },
  });
  return {
    watch(report) {
      source = report;
    },
  };
}

/** The grants past their end and the failing revocations, from one read of Redis per scrape. */
function watchOverdueGauges(registry: Registry): {
  watch(read: () => Promise<OverdueGrantsReading>): void;
} {
  let source: (() => Promise<OverdueGrantsReading>) | undefined;
  const read = sharedRead<OverdueGrantsReading>(READ_TIMEOUT_MS);
  const current = () => (source ? read(source) : Promise.resolve(undefined));
  const ageOf = (since: number | null) => (since === null ? 0 : Math.max(0, Date.now() - since) / 1000);
  const byState = async (
    set: (state: string, part: OverdueGrantsReading['pastEnd'][number] | undefined) => void,
  ) => {
    const reading = await current();
    if (!reading) return;
    const parts = new Map(reading.pastEnd.map((part) => [part.state, part]));
    for (const state of new Set([...OVERDUE_STATES, ...parts.keys()])) set(state, parts.get(state));
  };
  new Gauge({
    name: 'rolecall_grants_past_end',
    help: "Grants past their end whose roles Rolecall has not removed yet, by the request's state",
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      await byState((state, part) => this.set({ state }, part?.count ?? 0));
    },
  });
  new Gauge({
    name: 'rolecall_oldest_grant_past_end_seconds',
    help: "How long ago the oldest grant past its end ended, by the request's state (0 when none)",
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      await byState((state, part) => this.set({ state }, ageOf(part?.oldestEndAt ?? null)));
    },
  });
  new Gauge({
    name: 'rolecall_revocations_failing',
    help: 'Revocations failing now (revoke_failed), retried every REVOKE_RETRY_INTERVAL',
    registers: [registry],
    async collect() {
      // Unlabelled, it always has a value: NaN (unknown) when the read failed, never a reassuring 0.
      const reading = await current();
      this.set(reading ? reading.failing.count : Number.NaN);
    },
  });
  new Gauge({
    name: 'rolecall_oldest_revocation_failing_seconds',
    help: 'How long the oldest failing revocation has been failing, in seconds (0 when none)',
    registers: [registry],
    async collect() {
      const reading = await current();
      this.set(reading ? ageOf(reading.failing.oldestSince) : Number.NaN);
    },
  });
  return {
    watch(read) {
      source = read;
    },
  };
}
