/** The tracing handle's types, apart from ops/tracing.ts so the SDK module can use them without a cycle. */
import type { Telemetry } from 'bullmq';
import type { WorkSubject } from './correlation.js';
import type { Logger } from './logger.js';

/** OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME, as config.ts reads them. */
export interface TracingConfig {
  /**
   * The OTLP/HTTP endpoint; spans go to `<endpoint>/v1/traces`. Undefined: tracing is off, and no
   * OpenTelemetry module is even loaded.
   */
  readonly endpoint: string | undefined;
  /** `service.name` of this process's spans (rolecall-slack, rolecall-worker, rolecall by default). */
  readonly serviceName: string;
}

/** What {@link startTracing} needs besides the configuration. */
export interface TracingOptions extends TracingConfig {
  /** Values no exported span may contain (tokens, keys, passwords): cut out of every span's text. */
  readonly secrets: readonly string[];
  /**
   * URL prefixes (ATLAS_BASE_URL, SLACK_API_URL, the on-call APIs) whose calls keep their path and
   * query in spans; a call anywhere else (a response_url, whose path is its credential) shows its
   * origin only.
   */
  readonly fullUrlsUnder: readonly string[];
  /** The key prefix as in keys (QUEUE_PREFIX, `{…}` on a cluster): a Redis span names a key under it. */
  readonly redisPrefix: string;
  readonly logger: Logger;
}

/** One Slack request as the tracer sees it, before its handler runs. */
export interface SlackRequestInfo {
  /** The payload's kind: slash_command, block_actions, view_submission, event_callback, … */
  readonly kind: string;
  /** The command, action_id, callback_id or event type, when there is one. */
  readonly action: string | undefined;
  /** The request, review or offboarding the payload names, if any. */
  readonly requestId: string | undefined;
}

/** Runs the handling of one Slack request (the Bolt middleware in slack/app.ts calls it). */
export type SlackRequestRunner = (info: SlackRequestInfo, work: () => Promise<void>) => Promise<void>;

/**
 * Where a request's trace context waits between its Slack requests: kept when a Slack request files
 * the request, read when a later one (an approval click) names it, so both are in one trace.
 */
export interface TraceLinks {
  read(requestId: string): Promise<string | undefined>;
  keep(requestId: string, carrier: string): Promise<void>;
}

/** This process's tracing: OpenTelemetry when an endpoint is set, else a handle that does nothing. */
export interface Tracing {
  readonly enabled: boolean;
  /** BullMQ's `telemetry` option for every queue and worker (the context rides in the job); off: undefined. */
  readonly bullmq: Telemetry | undefined;
  /**
   * Notes a request the work in progress `filed` (its first state), `moved` or `read`: the request
   * it is about goes on its spans (a read only completes a request the work already names), and a
   * Slack request that filed one keeps its trace for the request's decision ({@link TraceLinks}).
   */
  noteRequest(subject: WorkSubject, how: 'filed' | 'moved' | 'read'): void;
  /** The Slack middleware's runner: a span per Slack request, in the trace of the request it names. */
  slackRequests(links: TraceLinks): SlackRequestRunner;
  /** Exports what is left (within a few seconds) and removes every hook. */
  stop(): Promise<void>;
}
