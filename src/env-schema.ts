/**
 * The environment variables Rolecall reads: each one's rule, default and type, and the rules across
 * them. config.ts parses the environment with these, once, and arranges the result as the Config.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  ATLAS_API_FLAVORS,
  type AtlasApiFlavor,
  type BucketConfig,
  DEFAULT_ATLAS_API,
} from './atlas/atlas-options.js';
import { parseDuration } from './lib/duration.js';
import { DEFAULT_OPSGENIE_API_URL, DEFAULT_PAGERDUTY_API_URL } from './oncall/on-call-options.js';
import type { LogLevel } from './ops/logger.js';

const PREFIX_CHARS = /^[A-Za-z0-9_-]+$/;
const INTEGER = /^\d+$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const BUCKET = /^([1-9]\d*)\/([1-9]\d*)$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/**
 * One variable, read once: unset or blank gives `fallback` (written as a person would set it, e.g.
 * `'24h'`), or undefined without one; `read` turns the text into the value, and its undefined is
 * the problem `message`.
 */
function variable<T>(read: (text: string) => T | undefined, message: string): z.ZodType<T | undefined>;
function variable<T>(read: (text: string) => T | undefined, message: string, fallback: string): z.ZodType<T>;
function variable<T>(read: (text: string) => T | undefined, message: string, fallback?: string) {
  return optionalText.transform((text, ctx) => {
    const given = text ?? fallback;
    if (given === undefined) return undefined;
    const value = read(given);
    if (value !== undefined) return value;
    // `continue`: the rules that need several variables still run, so every problem is told at once.
    ctx.issues.push({ code: 'custom', message, input: given, continue: true });
    return z.NEVER;
  });
}

const textIf = (valid: (text: string) => boolean) => (text: string) => (valid(text) ? text : undefined);
const wholeNumber =
  (min: number, max = Number.POSITIVE_INFINITY) =>
  (text: string) =>
    INTEGER.test(text) && Number(text) >= min && Number(text) <= max ? Number(text) : undefined;
const oneOf =
  <T extends string>(values: readonly T[]) =>
  (text: string) =>
    values.find((value) => value === text);
const trueOrFalse = (text: string) => (text === 'true' ? true : text === 'false' ? false : undefined);
const milliseconds = (text: string) => {
  const seconds = parseDuration(text);
  return seconds === undefined ? undefined : seconds * 1000;
};
const millisecondsOrZero = (text: string) => (text === '0' ? 0 : milliseconds(text));
/** `host:port,host:port` as a list. */
const hostPorts = (text: string) => {
  const entries = text.split(',').map((entry) => entry.trim());
  if (!entries.every((entry) => HOST_PORT.test(entry))) return undefined;
  return entries.map((entry) => {
    const [host = '', port = ''] = entry.split(':');
    return { host, port: Number(port) };
  });
};
const bucket = (text: string): BucketConfig | undefined => {
  const [, capacity, refill] = BUCKET.exec(text) ?? [];
  return capacity === undefined ? undefined : { capacity: Number(capacity), refillPerMinute: Number(refill) };
};

const duration = (name: string, fallback: string) =>
  variable(milliseconds, `${name} must be a duration such as 30m, 24h or 2d`, fallback);
const proxyUrl = (name: string) =>
  variable(textIf(isHttpUrl), `${name} must be an http(s) URL such as http://proxy.internal:3128`);
const rate = (name: string, fallback: string) =>
  variable(bucket, `${name} must read CAPACITY/REFILL_PER_MINUTE, e.g. 500/250`, fallback);
const portMessage = (name: string) => `${name} must be a whole number between 0 and 65535`;
const hostPortList = (name: string, example: string) =>
  variable(hostPorts, `${name} must list host:port pairs separated by commas, e.g. ${example}`);

/** Each variable's own rule, default and type: the parsed object is already typed and defaulted. */
export const envFields = z.object({
  SLACK_BOT_TOKEN: variable(
    textIf((v) => v.startsWith('xoxb-')),
    'SLACK_BOT_TOKEN must be a bot token starting with "xoxb-" (OAuth & Permissions page)',
  ),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: variable(
    textIf((v) => v.startsWith('xapp-')),
    'SLACK_APP_TOKEN must be an app-level token starting with "xapp-" (Basic Information page)',
  ),
  SLACK_API_URL: variable(
    (v) => (!isHttpUrl(v) ? undefined : v.endsWith('/') ? v : `${v}/`),
    'SLACK_API_URL must be an http(s) URL such as https://slack.com/api/',
    'https://slack.com/api/',
  ),
  METRICS_PORT: variable(wholeNumber(0, 65535), portMessage('METRICS_PORT')),
  PORT: variable(wholeNumber(0, 65535), portMessage('PORT'), '3000'),
  REDIS_URL: variable(
    textIf(isRedisUrl),
    'REDIS_URL must look like redis://[user:password@]host:6379[/db] (or rediss:// for TLS): a port up to 65535, a numeric database, and a password with any % written as %25',
    'redis://127.0.0.1:6379',
  ),
  // The CA's PEM, read here: a file that cannot be read is a problem like any other.
  REDIS_TLS_CA: optionalText.transform((file, ctx) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      const message = `REDIS_TLS_CA ${file} cannot be read (${code})`;
      ctx.issues.push({ code: 'custom', message, input: file, continue: true });
      return z.NEVER;
    }
  }),
  REDIS_SENTINELS: hostPortList('REDIS_SENTINELS', 'sentinel-1:26379,sentinel-2:26379'),
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_CLUSTER_NODES: hostPortList('REDIS_CLUSTER_NODES', 'redis-1:6379,redis-2:6379,redis-3:6379'),
  REDIS_WAIT_REPLICAS: variable(
    (v) => (v === 'auto' ? ('auto' as const) : wholeNumber(0, 16)(v)),
    'REDIS_WAIT_REPLICAS must be auto or a whole number of replicas from 0 to 16',
    'auto',
  ),
  REDIS_WAIT_AOF: variable(
    (v) => (v === 'auto' ? ('auto' as const) : trueOrFalse(v)),
    'REDIS_WAIT_AOF must be auto, true or false',
    'auto',
  ),
  REDIS_WAIT_TIMEOUT: duration('REDIS_WAIT_TIMEOUT', '1s'),
  QUEUE_PREFIX: variable(
    textIf((v) => PREFIX_CHARS.test(v)),
    'QUEUE_PREFIX may contain only letters, digits, "_" and "-"',
    'rolecall',
  ),
  HTTPS_PROXY: proxyUrl('HTTPS_PROXY'),
  https_proxy: proxyUrl('https_proxy'),
  HTTP_PROXY: proxyUrl('HTTP_PROXY'),
  http_proxy: proxyUrl('http_proxy'),
  NO_PROXY: optionalText,
  no_proxy: optionalText,
  ATLAS_BASE_URL: variable(
    (v) => (isHttpUrl(v) ? v.replace(/\/+$/, '') : undefined),
    'ATLAS_BASE_URL must be an http(s) URL such as https://cloud.mongodb.com',
    'https://cloud.mongodb.com',
  ),
  PAGERDUTY_TOKEN: optionalText,
  PAGERDUTY_API_URL: variable(
    (v) => (isHttpUrl(v) ? v.replace(/\/+$/, '') : undefined),
    'PAGERDUTY_API_URL must be an http(s) URL such as https://api.pagerduty.com',
    DEFAULT_PAGERDUTY_API_URL,
  ),
  ON_CALL_CACHE: duration('ON_CALL_CACHE', '30s'),
  OPSGENIE_API_KEY: optionalText,
  OPSGENIE_API_URL: variable(
    (v) => (isHttpUrl(v) ? v.replace(/\/+$/, '') : undefined),
    'OPSGENIE_API_URL must be an http(s) URL such as https://api.opsgenie.com (https://api.eu.opsgenie.com on the EU instance)',
    DEFAULT_OPSGENIE_API_URL,
  ),
  ATLAS_PUBLIC_KEY: optionalText,
  ATLAS_PRIVATE_KEY: optionalText,
  ATLAS_CLIENT_ID: optionalText,
  ATLAS_CLIENT_SECRET: optionalText,
  ATLAS_API: variable<AtlasApiFlavor>(
    oneOf(ATLAS_API_FLAVORS),
    `ATLAS_API must be one of ${ATLAS_API_FLAVORS.join(', ')}`,
    DEFAULT_ATLAS_API,
  ),
  ATLAS_TIMEOUT_MS: variable(
    wholeNumber(100),
    'ATLAS_TIMEOUT_MS must be a whole number of milliseconds, at least 100',
    '15000',
  ),
  ATLAS_MAX_RETRIES: variable(
    wholeNumber(0, 20),
    'ATLAS_MAX_RETRIES must be a whole number from 0 to 20',
    '4',
  ),
  ATLAS_DRY_RUN: variable(trueOrFalse, 'ATLAS_DRY_RUN must be true or false', 'false'),
  ATLAS_PAGE_SIZE: variable(
    wholeNumber(1, 500),
    'ATLAS_PAGE_SIZE must be a whole number from 1 to 500',
    '500',
  ),
  ATLAS_RATE_ORG: rate('ATLAS_RATE_ORG', '500/250'),
  ATLAS_RATE_PROJECT: rate('ATLAS_RATE_PROJECT', '1200/500'),
  ATLAS_RATE_USER: rate('ATLAS_RATE_USER', '2500/2000'),
  POLICY_FILE: optionalText.transform((file) => file ?? './policy.yml'),
  LOG_LEVEL: variable(oneOf(LOG_LEVELS), `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`, 'info'),
  WORKER_CONCURRENCY: variable(
    wholeNumber(1),
    'WORKER_CONCURRENCY must be a whole number of at least 1',
    '4',
  ),
  WORKER_LOCK_MS: variable(
    wholeNumber(500),
    'WORKER_LOCK_MS must be a whole number of milliseconds, at least 500',
    '30000',
  ),
  SWEEP_INTERVAL: duration('SWEEP_INTERVAL', '60s'),
  JOB_BACKOFF_MS: variable(
    wholeNumber(10),
    'JOB_BACKOFF_MS must be a whole number of milliseconds, at least 10',
    '2000',
  ),
  REQUEST_TTL: duration('REQUEST_TTL', '24h'),
  AUDIT_RETENTION: duration('AUDIT_RETENTION', '400d'),
  READY_CHECK_INTERVAL: duration('READY_CHECK_INTERVAL', '60s'),
  SHUTDOWN_GRACE: duration('SHUTDOWN_GRACE', '25s'),
  SHUTDOWN_DRAIN: variable(
    millisecondsOrZero,
    'SHUTDOWN_DRAIN must be a duration such as 5s, or 0 to stop at once',
    '5s',
  ),
  REQUESTS_PER_MINUTE: variable(
    wholeNumber(1),
    'REQUESTS_PER_MINUTE must be a whole number of at least 1',
    '10',
  ),
  MAX_OPEN_REQUESTS: variable(wholeNumber(1), 'MAX_OPEN_REQUESTS must be a whole number of at least 1', '20'),
  REVOKE_RETRY_INTERVAL: duration('REVOKE_RETRY_INTERVAL', '10m'),
  REVOKE_ESCALATE_EVERY: duration('REVOKE_ESCALATE_EVERY', '1h'),
  RECONCILE_INTERVAL: duration('RECONCILE_INTERVAL', '15m'),
  REVIEW_TTL: duration('REVIEW_TTL', '14d'),
  REMIND_BEFORE: variable(
    millisecondsOrZero,
    'REMIND_BEFORE must be a duration such as 15m, or 0 to turn reminders off',
    '15m',
  ),
  // OpenTelemetry traces (ops/tracing.ts): off unless an OTLP/HTTP endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: variable(
    (v) => (isHttpUrl(v) ? v.replace(/\/+$/, '') : undefined),
    'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://otel-collector:4318',
  ),
  OTEL_SERVICE_NAME: optionalText,
  USER_GROUP_MAX_AGE: variable(
    millisecondsOrZero,
    'USER_GROUP_MAX_AGE must be a duration such as 60s or 5m, or 0 to ask Slack every time',
    '60s',
  ),
});

/** The variables as parsed. */
export type Env = z.output<typeof envFields>;

/** The variables of the Redis settings (`rolecall audit` reads only these). */
export const REDIS_FIELDS = {
  REDIS_URL: true,
  QUEUE_PREFIX: true,
  REDIS_TLS_CA: true,
  REDIS_SENTINELS: true,
  REDIS_SENTINEL_NAME: true,
  REDIS_CLUSTER_NODES: true,
} as const;

/** What a process does, which decides the variables it needs (and those it must not hold). */
export interface ProcessRole {
  /** A worker: calls Atlas, so it needs one Atlas credential pair. */
  readonly callsAtlas: boolean;
  /** The bot: Slack reaches it, so it needs a signing secret or an app token. */
  readonly answersSlack: boolean;
}

/** Each variable's own rule, then the rules that need several variables or the process's role. */
export function checkedEnv(role: ProcessRole) {
  return envFields.superRefine((env, ctx) => {
    const require = (key: keyof Env, why: string): void => {
      if (env[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required: ${why}` });
    };
    require('SLACK_BOT_TOKEN', 'the bot token from the Slack app (OAuth & Permissions page)');
    // The bot (the internet-facing process) never calls Atlas, and must not hold its credentials.
    if (role.callsAtlas) {
      checkAtlasCredentials(env, (message, key) => ctx.addIssue({ code: 'custom', path: [key], message }));
    } else {
      for (const key of [
        'ATLAS_PRIVATE_KEY',
        'ATLAS_CLIENT_SECRET',
        'ATLAS_PUBLIC_KEY',
        'ATLAS_CLIENT_ID',
      ] as const) {
        if (env[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `${key} is set, but a bot process (the one Slack reaches) must hold no Atlas credential: only workers call Atlas. Unset it here.`,
          });
        }
      }
    }
    // A variable that broke its own rule reads as z.NEVER here, not as a number: compare numbers only.
    if (typeof env.METRICS_PORT === 'number' && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({
        code: 'custom',
        path: ['METRICS_PORT'],
        message: `METRICS_PORT and PORT are both ${env.METRICS_PORT}; give /metrics a port of its own, or unset METRICS_PORT to serve it on PORT`,
      });
    }
    if (env.REDIS_SENTINELS !== undefined && env.REDIS_SENTINEL_NAME === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_SENTINEL_NAME'],
        message:
          'REDIS_SENTINEL_NAME is required with REDIS_SENTINELS: the name the sentinels monitor the master under',
      });
    }
    if (env.REDIS_SENTINELS !== undefined && env.REDIS_CLUSTER_NODES !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message:
          'REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set; Rolecall uses either a Redis Cluster or Sentinel, not both',
      });
    }
    if (role.answersSlack && env.SLACK_APP_TOKEN === undefined && env.SLACK_SIGNING_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message:
          'SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information page); set SLACK_APP_TOKEN instead to use Socket Mode',
      });
    }
  });
}

/** A Redis URL ioredis can use as it is: scheme, port, numeric database, decodable credentials. */
function isRedisUrl(text: string): boolean {
  if (!/^rediss?:\/\//.test(text)) return false;
  try {
    const url = new URL(text);
    if (url.port !== '' && Number(url.port) > 65535) return false;
    if (url.pathname.length > 1 && !/^\/\d+$/.test(url.pathname)) return false;
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return url.hostname !== '';
  } catch {
    return false;
  }
}

/** Exactly one complete credential pair: an API key (Digest) or a service account (OAuth). */
function checkAtlasCredentials(
  env: Pick<Env, 'ATLAS_PUBLIC_KEY' | 'ATLAS_PRIVATE_KEY' | 'ATLAS_CLIENT_ID' | 'ATLAS_CLIENT_SECRET'>,
  report: (message: string, key: keyof Env) => void,
): void {
  const key = env.ATLAS_PUBLIC_KEY !== undefined || env.ATLAS_PRIVATE_KEY !== undefined;
  const account = env.ATLAS_CLIENT_ID !== undefined || env.ATLAS_CLIENT_SECRET !== undefined;
  if (key && account) {
    report(
      'Atlas credentials conflict: set either ATLAS_PUBLIC_KEY/ATLAS_PRIVATE_KEY (API key) or ATLAS_CLIENT_ID/ATLAS_CLIENT_SECRET (service account), not both',
      'ATLAS_CLIENT_ID',
    );
    return;
  }
  if (!key && !account) {
    report(
      'Atlas credentials are missing: set ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (programmatic API key, HTTP Digest) or ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET (service account, OAuth)',
      'ATLAS_PUBLIC_KEY',
    );
    return;
  }
  const pairs = [
    ['ATLAS_PUBLIC_KEY', 'ATLAS_PRIVATE_KEY'],
    ['ATLAS_PRIVATE_KEY', 'ATLAS_PUBLIC_KEY'],
    ['ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET'],
    ['ATLAS_CLIENT_SECRET', 'ATLAS_CLIENT_ID'],
  ] as const;
  for (const [present, missing] of pairs) {
    if (env[present] !== undefined && env[missing] === undefined)
      report(`${present} is set but ${missing} is missing`, missing);
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
