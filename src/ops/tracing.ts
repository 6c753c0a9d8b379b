import { withCorrelation } from './correlation.js';
import type { Tracing, TracingOptions } from './tracing-types.js';

/** Tracing off: nothing loaded, nothing recorded, Slack requests only correlated for the logs. */
const TRACING_OFF: Tracing = {
  enabled: false,
  bullmq: undefined,
  noteRequest: () => undefined,
  slackRequests: () => (info, work) => withCorrelation(info.requestId, work),
  stop: async () => undefined,
};

/**
 * Starts OpenTelemetry tracing when `options.endpoint` is set, before Redis, Bolt and undici are
 * used; otherwise returns a handle that does nothing, and the SDK is never imported (ops/tracing-sdk.ts
 * is the only module that imports it).
 */
export async function startTracing(options: TracingOptions): Promise<Tracing> {
  if (options.endpoint === undefined) return TRACING_OFF;
  const { startOpenTelemetry } = await import('./tracing-sdk.js');
  return startOpenTelemetry({ ...options, endpoint: options.endpoint });
}
