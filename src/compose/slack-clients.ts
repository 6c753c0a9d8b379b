import { LogLevel, type Logger as SlackLogger } from '@slack/logger';
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
  /**
   * The client's own lines (warnings, failed calls) go to this logger, never its debug lines: those
   * hold each request's body and each answer (a modal with a password in it). Without it the Web
   * API's console logger writes them, at info and above.
   */
  readonly logger?: Logger;
}

/**
 * A logger for a Web API client that passes its info, warn and error lines to ours (and its
 * redaction) and drops every debug line whatever the level asked for: @slack/web-api logs request
 * bodies and results only at debug ("http request body: …", "http request result: …").
 */
export function createBodylessSlackLogger(logger: Logger): SlackLogger {
  let name = 'slack-web-api';
  const join = (messages: unknown[]) =>
    messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: () => undefined,
    info: (...messages) => logger.info(join(messages), { component: name }),
    warn: (...messages) => logger.warn(join(messages), { component: name }),
    error: (...messages) => logger.error(join(messages), { component: name }),
    // The level stays INFO: a client told to log at debug still gets no body out of here.
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: (next) => {
      name = next;
    },
  };
}

/** A Slack Web API client with the bot token, the configured API URL and Rolecall's fetch. */
export function createWebClient(config: Config, fetch: FetchFunction, options: WebClientOptions): WebClient {
  return new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    retryConfig: { retries: options.retries },
    fetch,
    ...(options.rejectRateLimited ? { rejectRateLimitedCalls: true } : {}),
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    ...(options.logger === undefined ? {} : { logger: createBodylessSlackLogger(options.logger) }),
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
