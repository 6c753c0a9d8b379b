import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process (prom-client). Each process exports its own counters; sum them
 * across processes in the query (`sum by (to) (rate(rolecall_request_transitions_total[5m]))`). The
 * queue gauge reads Redis at scrape time, so every process reports the same shared figure: take
 * `max`, not `sum`.
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
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** Creates a fresh registry with Rolecall's metrics and the default process metrics. */
export function createMetrics(): Metrics {
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
      const counts = await Promise.all(watched.map((q) => q.getJobCounts(...QUEUE_STATES)));
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
  };
}
