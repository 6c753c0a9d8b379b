/**
 * Builds the on-call check from the configuration's plain values: a reader for each provider that
 * has its credential, none for the other (its schedules then answer "not on call", warned).
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../ops/logger.js';
import type { OnCallSchedules, ScheduleReader } from './on-call.js';
import { createOnCallCheck } from './on-call-check.js';
import type { OnCallConfig } from './on-call-options.js';
import { createOpsgenieReader } from './opsgenie.js';
import { createPagerDutyReader } from './pagerduty.js';

/** Options of {@link createOnCallSchedules} beyond the configuration. */
export interface CreateOnCallOptions {
  readonly logger: Logger;
  /** @defaultValue 30000 */
  readonly cacheTtlMs?: number;
  /** The deadline of one schedule's read. @defaultValue 3000 */
  readonly timeoutMs?: number;
  readonly dispatcher?: Dispatcher;
}

/** The {@link OnCallSchedules} port for this configuration. */
export function createOnCallSchedules(config: OnCallConfig, options: CreateOnCallOptions): OnCallSchedules {
  const http = {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  };
  const readers: ScheduleReader[] = [];
  if (config.pagerduty.token !== undefined)
    readers.push(
      createPagerDutyReader({ apiUrl: config.pagerduty.apiUrl, token: config.pagerduty.token, ...http }),
    );
  if (config.opsgenie.apiKey !== undefined)
    readers.push(
      createOpsgenieReader({ apiUrl: config.opsgenie.apiUrl, apiKey: config.opsgenie.apiKey, ...http }),
    );
  return createOnCallCheck({
    readers,
    logger: options.logger,
    ...((options.cacheTtlMs ?? config.cacheTtlMs) === undefined
      ? {}
      : { cacheTtlMs: options.cacheTtlMs ?? config.cacheTtlMs }),
  });
}
