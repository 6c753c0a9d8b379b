import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from './errors.js';
import { parseDuration } from './lib/duration.js';

/** What one process runs: the Slack bot with a worker (`npm start`), only a worker (`npm run worker`), or only the bot. */
export type RunMode = 'all' | 'worker' | 'bot';

/** Log verbosity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** How Rolecall signs its calls to the Atlas Admin API: an API key pair (Digest) or a service account (OAuth). */
export type AtlasAuthConfig =
  | { readonly kind: 'digest'; readonly publicKey: string; readonly privateKey: string }
  | { readonly kind: 'oauth'; readonly clientId: string; readonly clientSecret: string };

/** Which family of role APIs the worker calls (README: "Atlas API flavors"). */
export type AtlasApiFlavor = 'atlas-v2' | 'atlas-v2-2025' | 'cloud-manager' | 'ops-manager' | 'atlas-v1';

/**
 * The flavor when ATLAS_API is unset: the 2025-02-19 resources, because the 2023-01-01 PUT endpoints
 * of `atlas-v2` are sunset on 2027-07-01 (Atlas Admin API changelog; reference/atlas/NOTES.md).
 */
export const DEFAULT_ATLAS_API: AtlasApiFlavor = 'atlas-v2-2025';

/** All flavors, for validation and docs. */
export const ATLAS_API_FLAVORS: readonly AtlasApiFlavor[] = [
  'atlas-v2',
  'atlas-v2-2025',
  'cloud-manager',
  'ops-manager',
  'atlas-v1',
];

/** A client-side token bucket: at most `capacity` calls at once, refilled at `refillPerMinute`. */
export interface BucketConfig {
  readonly capacity: number;
  readonly refillPerMinute: number;
}

/** Everything about talking to Atlas. */
export interface AtlasProxyConfig {
  /** Proxy URL for https:// origins; '' when none. */
  readonly httpsProxy: string;
  /** Proxy URL for http:// origins; '' when none. */
  readonly httpProxy: string;
  /** Comma-separated hosts (with optional port, leading `.` or `*`) reached directly; '' when none. */
  readonly noProxy: string;
}

/** Where Redis is and how to reach it. */
export interface RedisConfig {
  /** `redis://` or `rediss://` (TLS), with `user:password@` for a password or an ACL user. */
  readonly url: string;
  /** Every Redis key and BullMQ queue lives under this prefix. */
  readonly prefix: string;
  /** PEM of the CA that signed the server's certificate (REDIS_TLS_CA), for a private CA. */
  readonly tlsCa?: string;
  /** Redis Sentinel: where the sentinels are; the master is asked for by `sentinelName`. */
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  readonly sentinelName?: string;
  /**
   * Redis Cluster (REDIS_CLUSTER_NODES): the nodes to start from. When set, `prefix` carries a
   * hash tag (`{rolecall}`) so every key of Rolecall and BullMQ hashes to one slot.
   */
  readonly clusterNodes?: readonly { readonly host: string; readonly port: number }[];
}

/** Everything the Atlas client needs. */
export interface AtlasConfig {
  readonly api: AtlasApiFlavor;
  readonly baseUrl: string;
  readonly auth: AtlasAuthConfig;
  /** One HTTP exchange, in ms. */
  readonly timeoutMs: number;
  /** Retries after the first attempt for 429, 5xx, resets and timeouts. */
  readonly maxRetries: number;
  /** Items per page when listing members (spec `itemsPerPage`, 1–500). */
  readonly pageSize: number;
  /** ATLAS_DRY_RUN: every read is real, no write (PUT, PATCH, POST, DELETE) is sent. */
  readonly dryRun: boolean;
  /**
   * Where Atlas calls go through when HTTPS_PROXY / HTTP_PROXY are set (NO_PROXY hosts go direct);
   * absent when neither is set. Atlas API access lists often need one fixed egress address.
   */
  readonly proxy?: AtlasProxyConfig;
  /** Per endpoint set and scope (Atlas rate limits, NOTES section 9). */
  readonly rateLimits: {
    readonly org: BucketConfig;
    readonly project: BucketConfig;
    readonly user: BucketConfig;
  };
}

/** Typed, validated configuration; the only product of reading the environment. */
export interface Config {
  readonly mode: RunMode;
  readonly logLevel: LogLevel;
  readonly slack: {
    readonly botToken: string;
    /** Present in HTTP mode. */
    readonly signingSecret: string | undefined;
    /** Present in Socket Mode. */
    readonly appToken: string | undefined;
    readonly apiUrl: string;
    /**
     * USER_GROUP_MAX_AGE: how old a user group's members may be for a decision, in ms (0: Slack is
     * asked every time); lists and views also use them that long before asking again.
     */
    readonly userGroupMaxAgeMs: number;
  };
  /** ATLAS_DRY_RUN, known in every mode (the bot labels its messages too). */
  readonly dryRun: boolean;
  readonly http: {
    readonly port: number;
    /** When set, GET /metrics is served on this port only (not on `port`). */
    readonly metricsPort: number | undefined;
  };
  readonly redis: RedisConfig;
  /**
   * What must hold a grant's plan before its first Atlas write (ops/redis-durability.ts): replicas
   * that acknowledged it (WAIT) and whether it must be in the append-only file (WAITAOF, Redis 7.2+);
   * `auto` = what the deployment offers at start-up.
   */
  readonly redisDurability: {
    readonly replicas: number | 'auto';
    readonly aof: boolean | 'auto';
    /** How long to wait for the acknowledgement before the step fails and is retried, in ms. */
    readonly timeoutMs: number;
  };
  /** Which Atlas API flavor the policy's roles must belong to; known in every mode. */
  readonly atlasApi: AtlasApiFlavor;
  /**
   * How to call Atlas; null in `bot` mode, which never calls Atlas and so holds no Atlas credential
   * (every Atlas call runs in a worker).
   */
  readonly atlas: AtlasConfig | null;
  readonly policyFile: string;
  readonly worker: {
    readonly concurrency: number;
    /** BullMQ job lock; a dead worker's job moves to another worker after this. */
    readonly lockDurationMs: number;
    /** How often the sweeper looks for requests whose work went missing. */
    readonly sweepIntervalMs: number;
    /** First retry delay of a failed job; doubles every attempt. */
    readonly backoffMs: number;
  };
  /** How long a request waits for a decision before it expires. */
  readonly requestTtlMs: number;
  /** How long a shutdown waits for running jobs before leaving them to stalled-job recovery, in ms. */
  readonly shutdownGraceMs: number;
  /**
   * How long after SIGTERM the HTTP listener still answers (while /readyz says 503), so the requests
   * an orchestrator sends before it takes the pod out of rotation are served, in ms.
   */
  readonly shutdownDrainMs: number;
  /** How often /readyz re-checks Slack (auth.test) and the Atlas credentials, in ms. */
  readonly readyCheckIntervalMs: number;
  /** Audit entries older than this are trimmed from the global audit stream (XTRIM MINID), in ms. */
  readonly auditRetentionMs: number;
  /** Per-person limits on filing requests. */
  readonly limits: {
    /** Requests (and extensions) one person may file in a minute. */
    readonly requestsPerMinute: number;
    /** Requests one person may have waiting for a decision at once. */
    readonly maxOpenRequests: number;
  };
  /** Time-boxed access: how grants end, and what happens when ending them fails. */
  readonly grants: {
    /** After a revocation's job attempts failed, the next try comes this much later, forever (ms). */
    readonly revokeRetryIntervalMs: number;
    /** While a revocation keeps failing, approvers hear about it again this often (ms). */
    readonly revokeEscalateEveryMs: number;
    /** How often reconciliation compares grants past their end with Atlas (ms). */
    readonly reconcileIntervalMs: number;
    /** How long before a grant ends the grantee is reminded (ms); 0 = no reminders. */
    readonly remindBeforeMs: number;
    /** How long an access review may stay undecided before the approvers hear it is overdue (ms). */
    readonly reviewTtlMs: number;
  };
}

const PREFIX_CHARS = /^[A-Za-z0-9_-]+$/;
const INTEGER = /^\d+$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const BUCKET = /^([1-9]\d*)\/([1-9]\d*)$/;

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const envFields = z.object({
  SLACK_BOT_TOKEN: optionalText.refine((v) => v === undefined || v.startsWith('xoxb-'), {
    message: 'SLACK_BOT_TOKEN must be a bot token starting with "xoxb-" (OAuth & Permissions page)',
  }),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_APP_TOKEN: optionalText.refine((v) => v === undefined || v.startsWith('xapp-'), {
    message: 'SLACK_APP_TOKEN must be an app-level token starting with "xapp-" (Basic Information page)',
  }),
  SLACK_API_URL: optionalText.refine((v) => v === undefined || isHttpUrl(v), {
    message: 'SLACK_API_URL must be an http(s) URL such as https://slack.com/api/',
  }),
  METRICS_PORT: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) <= 65535), {
    message: 'METRICS_PORT must be a whole number between 0 and 65535',
  }),
  PORT: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) <= 65535), {
    message: 'PORT must be a whole number between 0 and 65535',
  }),
  REDIS_URL: optionalText.refine((v) => v === undefined || isRedisUrl(v), {
    message:
      'REDIS_URL must look like redis://[user:password@]host:6379[/db] (or rediss:// for TLS): a port up to 65535, a numeric database, and a password with any % written as %25',
  }),
  REDIS_TLS_CA: optionalText,
  REDIS_SENTINELS: optionalText.refine(
    (v) => v === undefined || v.split(',').every((h) => HOST_PORT.test(h.trim())),
    {
      message:
        'REDIS_SENTINELS must list host:port pairs separated by commas, e.g. sentinel-1:26379,sentinel-2:26379',
    },
  ),
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_CLUSTER_NODES: optionalText.refine(
    (v) => v === undefined || v.split(',').every((h) => HOST_PORT.test(h.trim())),
    {
      message:
        'REDIS_CLUSTER_NODES must list host:port pairs separated by commas, e.g. redis-1:6379,redis-2:6379,redis-3:6379',
    },
  ),
  REDIS_WAIT_REPLICAS: optionalText.refine(
    (v) => v === undefined || v === 'auto' || (INTEGER.test(v) && Number(v) <= 16),
    { message: 'REDIS_WAIT_REPLICAS must be auto or a whole number of replicas from 0 to 16' },
  ),
  REDIS_WAIT_AOF: optionalText.refine((v) => v === undefined || ['auto', 'true', 'false'].includes(v), {
    message: 'REDIS_WAIT_AOF must be auto, true or false',
  }),
  REDIS_WAIT_TIMEOUT: durationText('REDIS_WAIT_TIMEOUT'),
  QUEUE_PREFIX: optionalText.refine((v) => v === undefined || PREFIX_CHARS.test(v), {
    message: 'QUEUE_PREFIX may contain only letters, digits, "_" and "-"',
  }),
  HTTPS_PROXY: proxyText('HTTPS_PROXY'),
  https_proxy: proxyText('https_proxy'),
  HTTP_PROXY: proxyText('HTTP_PROXY'),
  http_proxy: proxyText('http_proxy'),
  NO_PROXY: optionalText,
  no_proxy: optionalText,
  ATLAS_BASE_URL: optionalText.refine((v) => v === undefined || isHttpUrl(v), {
    message: 'ATLAS_BASE_URL must be an http(s) URL such as https://cloud.mongodb.com',
  }),
  ATLAS_PUBLIC_KEY: optionalText,
  ATLAS_PRIVATE_KEY: optionalText,
  ATLAS_CLIENT_ID: optionalText,
  ATLAS_CLIENT_SECRET: optionalText,
  ATLAS_API: optionalText.refine(
    (v) => v === undefined || (ATLAS_API_FLAVORS as readonly string[]).includes(v),
    {
      message: `ATLAS_API must be one of ${ATLAS_API_FLAVORS.join(', ')}`,
    },
  ),
  ATLAS_TIMEOUT_MS: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 100), {
    message: 'ATLAS_TIMEOUT_MS must be a whole number of milliseconds, at least 100',
  }),
  ATLAS_MAX_RETRIES: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) <= 20), {
    message: 'ATLAS_MAX_RETRIES must be a whole number from 0 to 20',
  }),
  ATLAS_DRY_RUN: optionalText.refine((v) => v === undefined || v === 'true' || v === 'false', {
    message: 'ATLAS_DRY_RUN must be true or false',
  }),
  ATLAS_PAGE_SIZE: optionalText.refine(
    (v) => v === undefined || (INTEGER.test(v) && Number(v) >= 1 && Number(v) <= 500),
    { message: 'ATLAS_PAGE_SIZE must be a whole number from 1 to 500' },
  ),
  ATLAS_RATE_ORG: bucketText('ATLAS_RATE_ORG'),
  ATLAS_RATE_PROJECT: bucketText('ATLAS_RATE_PROJECT'),
  ATLAS_RATE_USER: bucketText('ATLAS_RATE_USER'),
  POLICY_FILE: optionalText,
  LOG_LEVEL: optionalText.refine((v) => v === undefined || ['debug', 'info', 'warn', 'error'].includes(v), {
    message: 'LOG_LEVEL must be one of debug, info, warn, error',
  }),
  WORKER_CONCURRENCY: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 1), {
    message: 'WORKER_CONCURRENCY must be a whole number of at least 1',
  }),
  WORKER_LOCK_MS: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 500), {
    message: 'WORKER_LOCK_MS must be a whole number of milliseconds, at least 500',
  }),
  SWEEP_INTERVAL: durationText('SWEEP_INTERVAL'),
  JOB_BACKOFF_MS: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 10), {
    message: 'JOB_BACKOFF_MS must be a whole number of milliseconds, at least 10',
  }),
  REQUEST_TTL: durationText('REQUEST_TTL'),
  AUDIT_RETENTION: durationText('AUDIT_RETENTION'),
  READY_CHECK_INTERVAL: durationText('READY_CHECK_INTERVAL'),
  SHUTDOWN_GRACE: durationText('SHUTDOWN_GRACE'),
  SHUTDOWN_DRAIN: optionalText.refine((v) => v === undefined || v === '0' || parseDuration(v) !== undefined, {
    message: 'SHUTDOWN_DRAIN must be a duration such as 5s, or 0 to stop at once',
  }),
  REQUESTS_PER_MINUTE: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 1), {
    message: 'REQUESTS_PER_MINUTE must be a whole number of at least 1',
  }),
  MAX_OPEN_REQUESTS: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 1), {
    message: 'MAX_OPEN_REQUESTS must be a whole number of at least 1',
  }),
  REVOKE_RETRY_INTERVAL: durationText('REVOKE_RETRY_INTERVAL'),
  REVOKE_ESCALATE_EVERY: durationText('REVOKE_ESCALATE_EVERY'),
  RECONCILE_INTERVAL: durationText('RECONCILE_INTERVAL'),
  REVIEW_TTL: durationText('REVIEW_TTL'),
  REMIND_BEFORE: optionalText.refine((v) => v === undefined || v === '0' || parseDuration(v) !== undefined, {
    message: 'REMIND_BEFORE must be a duration such as 15m, or 0 to turn reminders off',
  }),
  USER_GROUP_MAX_AGE: optionalText.refine(
    (v) => v === undefined || v === '0' || parseDuration(v) !== undefined,
    { message: 'USER_GROUP_MAX_AGE must be a duration such as 60s or 5m, or 0 to ask Slack every time' },
  ),
});

type Env = z.output<typeof envFields>;

/** Format rules per variable, then the rules that need several variables or the run mode. */
function buildEnvSchema(mode: RunMode) {
  return envFields.superRefine((env, ctx) => {
    const require = (key: keyof Env, why: string): void => {
      if (env[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required: ${why}` });
    };
    require('SLACK_BOT_TOKEN', 'the bot token from the Slack app (OAuth & Permissions page)');
    // The bot (the internet-facing process) never calls Atlas, and must not hold its credentials.
    if (mode !== 'bot') {
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
    if (
      env.METRICS_PORT !== undefined &&
      Number(env.METRICS_PORT) !== 0 &&
      Number(env.METRICS_PORT) === Number(env.PORT ?? '3000')
    ) {
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
    if (mode !== 'worker' && env.SLACK_APP_TOKEN === undefined && env.SLACK_SIGNING_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message:
          'SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information page); set SLACK_APP_TOKEN instead to use Socket Mode',
      });
    }
  });
}

/** Everything that is not an environment variable but still shapes the configuration. */
export interface ConfigOptions {
  /** @defaultValue 'all' */
  mode?: RunMode;
}

/**
 * Validates an environment (normally `process.env`) and returns the typed configuration.
 * Every problem is reported at once, in one AppError whose message lists them line by line.
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: ConfigOptions = {},
): Config {
  const mode = options.mode ?? 'all';
  const files = readSecretFiles(env);
  const result = buildEnvSchema(mode).safeParse(files.env);
  if (!result.success || files.problems.length > 0) {
    const problems = [...files.problems, ...(result.error?.issues.map((issue) => issue.message) ?? [])].map(
      (problem) => `  - ${problem}`,
    );
    throw new AppError(
      'CONFIG_INVALID',
      `Rolecall cannot start, the configuration has ${problems.length} problem(s):\n${problems.join('\n')}`,
    );
  }
  return toConfig(result.data, mode);
}

/** The variables that may come from a file instead (`NAME_FILE=/run/secrets/…`). */
export const SECRET_VARIABLES = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'ATLAS_PUBLIC_KEY',
  'ATLAS_PRIVATE_KEY',
  'ATLAS_CLIENT_ID',
  'ATLAS_CLIENT_SECRET',
  'REDIS_URL',
] as const;

/**
 * Docker and Kubernetes secrets: for each secret variable with `NAME_FILE` set, reads NAME from that
 * file (one trailing newline dropped). Setting both NAME and NAME_FILE, or a file that cannot be
 * read or is empty, is a problem in words; the contents never appear in one.
 */
function readSecretFiles(env: Readonly<Record<string, string | undefined>>): {
  env: Record<string, string | undefined>;
  problems: string[];
} {
  const out: Record<string, string | undefined> = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`]?.trim();
    if (!file) continue;
    if (env[name]?.trim()) {
      problems.push(`${name} and ${name}_FILE are both set; keep one`);
      continue;
    }
    try {
      const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      if (text.trim() === '') problems.push(`${name}_FILE ${file} is empty`);
      else out[name] = text;
    } catch (error) {
      problems.push(
        `${name}_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  return { env: out, problems };
}

function toConfig(env: Env, mode: RunMode): Config {
  const required = (value: string | undefined): string => {
    if (value === undefined) throw new AppError('INTERNAL', 'a required variable passed validation unset');
    return value;
  };
  return {
    mode,
    logLevel: (env.LOG_LEVEL as LogLevel | undefined) ?? 'info',
    slack: {
      botToken: required(env.SLACK_BOT_TOKEN),
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: withTrailingSlash(env.SLACK_API_URL ?? 'https://slack.com/api/'),
      userGroupMaxAgeMs: env.USER_GROUP_MAX_AGE === '0' ? 0 : seconds(env.USER_GROUP_MAX_AGE, '60s') * 1000,
    },
    dryRun: env.ATLAS_DRY_RUN === 'true',
    http: {
      port: Number(env.PORT ?? '3000'),
      metricsPort: env.METRICS_PORT === undefined ? undefined : Number(env.METRICS_PORT),
    },
    redis: redisConfigOf(env),
    redisDurability: {
      replicas:
        env.REDIS_WAIT_REPLICAS === undefined || env.REDIS_WAIT_REPLICAS === 'auto'
          ? 'auto'
          : Number(env.REDIS_WAIT_REPLICAS),
      aof:
        env.REDIS_WAIT_AOF === undefined || env.REDIS_WAIT_AOF === 'auto'
          ? 'auto'
          : env.REDIS_WAIT_AOF === 'true',
      timeoutMs: seconds(env.REDIS_WAIT_TIMEOUT, '1s') * 1000,
    },
    atlasApi: (env.ATLAS_API as AtlasApiFlavor | undefined) ?? DEFAULT_ATLAS_API,
    atlas:
      mode === 'bot'
        ? null
        : {
            api: (env.ATLAS_API as AtlasApiFlavor | undefined) ?? DEFAULT_ATLAS_API,
            baseUrl: (env.ATLAS_BASE_URL ?? 'https://cloud.mongodb.com').replace(/\/+$/, ''),
            auth:
              env.ATLAS_CLIENT_ID === undefined
                ? {
                    kind: 'digest',
                    publicKey: required(env.ATLAS_PUBLIC_KEY),
                    privateKey: required(env.ATLAS_PRIVATE_KEY),
                  }
                : {
                    kind: 'oauth',
                    clientId: env.ATLAS_CLIENT_ID,
                    clientSecret: required(env.ATLAS_CLIENT_SECRET),
                  },
            timeoutMs: Number(env.ATLAS_TIMEOUT_MS ?? '15000'),
            maxRetries: Number(env.ATLAS_MAX_RETRIES ?? '4'),
            pageSize: Number(env.ATLAS_PAGE_SIZE ?? '500'),
            dryRun: env.ATLAS_DRY_RUN === 'true',
            ...proxyOf(env),
            rateLimits: {
              org: parseBucket(env.ATLAS_RATE_ORG ?? '500/250'),
              project: parseBucket(env.ATLAS_RATE_PROJECT ?? '1200/500'),
              user: parseBucket(env.ATLAS_RATE_USER ?? '2500/2000'),
            },
          },
    policyFile: env.POLICY_FILE ?? './policy.yml',
    worker: {
      concurrency: Number(env.WORKER_CONCURRENCY ?? '4'),
      lockDurationMs: Number(env.WORKER_LOCK_MS ?? '30000'),
      sweepIntervalMs: seconds(env.SWEEP_INTERVAL, '60s') * 1000,
      backoffMs: Number(env.JOB_BACKOFF_MS ?? '2000'),
    },
    requestTtlMs: seconds(env.REQUEST_TTL, '24h') * 1000,
    auditRetentionMs: seconds(env.AUDIT_RETENTION, '400d') * 1000,
    readyCheckIntervalMs: seconds(env.READY_CHECK_INTERVAL, '60s') * 1000,
    shutdownGraceMs: seconds(env.SHUTDOWN_GRACE, '25s') * 1000,
    shutdownDrainMs: env.SHUTDOWN_DRAIN === '0' ? 0 : seconds(env.SHUTDOWN_DRAIN, '5s') * 1000,
    limits: {
      requestsPerMinute: Number(env.REQUESTS_PER_MINUTE ?? '10'),
      maxOpenRequests: Number(env.MAX_OPEN_REQUESTS ?? '20'),
    },
    grants: {
      revokeRetryIntervalMs: seconds(env.REVOKE_RETRY_INTERVAL, '10m') * 1000,
      revokeEscalateEveryMs: seconds(env.REVOKE_ESCALATE_EVERY, '1h') * 1000,
      reconcileIntervalMs: seconds(env.RECONCILE_INTERVAL, '15m') * 1000,
      remindBeforeMs: env.REMIND_BEFORE === '0' ? 0 : seconds(env.REMIND_BEFORE, '15m') * 1000,
      reviewTtlMs: seconds(env.REVIEW_TTL, '14d') * 1000,
    },
  };
}

/** A validated duration variable in seconds, or its default. */
function seconds(value: string | undefined, fallback: string): number {
  return parseDuration(value ?? fallback) ?? parseDuration(fallback) ?? 0;
}

/** Reads the configuration of this process; the one place that touches `process.env`. */
export function loadConfig(options: ConfigOptions = {}): Config {
  return parseConfig(process.env, options);
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

function proxyText(name: string) {
  return optionalText.refine((v) => v === undefined || isHttpUrl(v), {
    message: `${name} must be an http(s) URL such as http://proxy.internal:3128`,
  });
}

/** The proxy settings, upper case winning over lower case as curl does for HTTPS_PROXY. */
function proxyOf(env: Env): { proxy?: AtlasProxyConfig } {
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy ?? '';
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy ?? '';
  if (httpsProxy === '' && httpProxy === '') return {};
  return { proxy: { httpsProxy, httpProxy, noProxy: env.NO_PROXY ?? env.no_proxy ?? '' } };
}

function durationText(name: string) {
  return optionalText.refine((v) => v === undefined || parseDuration(v) !== undefined, {
    message: `${name} must be a duration such as 30m, 24h or 2d`,
  });
}

function bucketText(name: string) {
  return optionalText.refine((v) => v === undefined || BUCKET.test(v), {
    message: `${name} must read CAPACITY/REFILL_PER_MINUTE, e.g. 500/250`,
  });
}

function parseBucket(text: string): BucketConfig {
  const [, capacity = '1', refill = '1'] = BUCKET.exec(text) ?? [];
  return { capacity: Number(capacity), refillPerMinute: Number(refill) };
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

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** What `npm run demo` reads from the environment: only where Redis might already be. */
export interface DemoSettings {
  readonly redisUrl: string;
}

/** Reads the demo's settings; the demo needs nothing else configured. */
export function loadDemoSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): DemoSettings {
  return { redisUrl: env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379' };
}

/** The Redis settings of a validated environment; the CA file is read here (CONFIG_INVALID if it cannot be). */
function redisConfigOf(
  env: Pick<
    Env,
    | 'REDIS_URL'
    | 'QUEUE_PREFIX'
    | 'REDIS_TLS_CA'
    | 'REDIS_SENTINELS'
    | 'REDIS_SENTINEL_NAME'
    | 'REDIS_CLUSTER_NODES'
  >,
): RedisConfig {
  let tlsCa: string | undefined;
  if (env.REDIS_TLS_CA !== undefined) {
    try {
      tlsCa = readFileSync(env.REDIS_TLS_CA, 'utf8');
    } catch (error) {
      throw new AppError(
        'CONFIG_INVALID',
        `Rolecall cannot start, the configuration has 1 problem(s):\n  - REDIS_TLS_CA ${env.REDIS_TLS_CA} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  const sentinels = hostPortsOf(env.REDIS_SENTINELS);
  const clusterNodes = hostPortsOf(env.REDIS_CLUSTER_NODES);
  const prefix = env.QUEUE_PREFIX ?? 'rolecall';
  return {
    url: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    // In a cluster the braces make `prefix` the hash tag of every key: one slot, so Lua scripts
    // and BullMQ's multi-key commands work (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
    prefix: clusterNodes === undefined ? prefix : `{${prefix}}`,
    ...(tlsCa === undefined ? {} : { tlsCa }),
    ...(sentinels === undefined ? {} : { sentinels, sentinelName: env.REDIS_SENTINEL_NAME ?? '' }),
    ...(clusterNodes === undefined ? {} : { clusterNodes }),
  };
}

/** `host:port,host:port` as a list (the text is validated already). */
function hostPortsOf(text: string | undefined): { host: string; port: number }[] | undefined {
  return text?.split(',').map((entry) => {
    const [host = '', port = ''] = entry.trim().split(':');
    return { host, port: Number(port) };
  });
}

/**
 * Where Rolecall's data is, for tools that only read it (`rolecall audit`): REDIS_URL and
 * QUEUE_PREFIX, validated like the app's. Throws CONFIG_INVALID naming what is wrong.
 */
export function loadStoreSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Config['redis'] {
  const files = readSecretFiles({ REDIS_URL: env.REDIS_URL, REDIS_URL_FILE: env.REDIS_URL_FILE });
  const result = envFields
    .pick({
      REDIS_URL: true,
      QUEUE_PREFIX: true,
      REDIS_TLS_CA: true,
      REDIS_SENTINELS: true,
      REDIS_SENTINEL_NAME: true,
      REDIS_CLUSTER_NODES: true,
    })
    .safeParse({ ...env, ...files.env });
  if (!result.success || files.problems.length > 0) {
    const problems = [...files.problems, ...(result.error?.issues.map((issue) => issue.message) ?? [])];
    throw new AppError('CONFIG_INVALID', problems.join('\n'));
  }
  return redisConfigOf(result.data);
}
