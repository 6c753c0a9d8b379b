import { type FetchFunction, WebClient } from '@slack/web-api';
import type { Config } from '../config.js';
import type { Logger } from '../ops/logger.js';
import type { UserGroups } from '../requests/ports.js';
import { createSlackUserGroups } from '../slack/user-groups.js';

/** How a Slack Web API client behaves when Slack is slow or says "wait". */
export interface WebClientOptions {
  /** Retries of a failed call (the Web API's own retry policy). */
  readonly retries: number;
  /** A rate-limited call fails at once instead of waiting Retry-After (a click must not wait). */
  readonly rejectRateLimited?: boolean;
  readonly timeoutMs?: number;
}

/** A Slack Web API client with the bot token, the configured API URL and Rolecall's fetch. */
export function createWebClient(config: Config, fetch: FetchFunction, options: WebClientOptions): WebClient {
  return new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    retryConfig: { retries: options.retries },
    fetch,
    ...(options.rejectRateLimited ? { rejectRateLimitedCalls: true } : {}),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
}

/**
 * Slack user groups for the decision point, on a client of their own: usergroups.users.list is a
 * Tier 2 method, and a rate-limited answer must not hold a click for Retry-After seconds; a decision
 * is refused in words instead (members within USER_GROUP_MAX_AGE still serve).
 */
export function createUserGroups(config: Config, logger: Logger, fetch: FetchFunction): UserGroups {
  const client = createWebClient(config, fetch, { retries: 0, rejectRateLimited: true, timeoutMs: 5_000 });
  return createSlackUserGroups(client, { logger, maxAgeMs: config.slack.userGroupMaxAgeMs });
}
