import { readFileSync } from 'node:fs';
import type { AtlasApiFlavor, AtlasConfig } from './atlas/atlas-options.js';
import { checkedEnv, type Env, envFields, REDIS_FIELDS } from './env-schema.js';
import { AppError } from './errors.js';
import type { OnCallConfig } from './oncall/on-call-options.js';
import type { LogLevel } from './ops/logger.js';
import type { RedisConfig } from './ops/redis.js';
import type { RedisDurabilityConfig } from './ops/redis-durability.js';
import type { TracingConfig } from './ops/tracing-types.js';

/** What one process runs: the Slack bot with a worker (`npm start`), only a worker (`npm run worker`), or only the bot. */
export type RunMode = 'all' | 'worker' | 'bot';

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
  /** What must hold a grant's plan before its first Atlas write (ops/redis-durability.ts). */
  readonly redisDurability: RedisDurabilityConfig;
  /** Which Atlas API flavor the policy's roles must belong to; known in every mode. */
  readonly atlasApi: AtlasApiFlavor;
  /**
   * How to call Atlas; null in `bot` mode, which never calls Atlas and so holds no Atlas credential
   * (every Atlas call runs in a worker).
   */
  readonly atlas: AtlasConfig | null;
  readonly policyFile: string;
  /**
   * Where on-call schedules are read (PagerDuty, Opsgenie) and with which credential; a provider
   * without one answers "not on call" for its schedules.
   */
  readonly onCall: OnCallConfig;
  readonly worker: {
    readonly concurrency: number;
    /** BullMQ job lock; a dead worker's job moves to another worker after this. */
    readonly lockDurationMs: number;
    /** How often the sweeper looks for requests whose work went missing. */
    readonly sweepIntervalMs: number;
    /** First retry delay of a failed job; doubles every attempt. */
    readonly backoffMs: number;
  };
  /** OpenTelemetry traces: OTEL_EXPORTER_OTLP_ENDPOINT (unset: off) and OTEL_SERVICE_NAME. */
  readonly tracing: TracingConfig;
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
  const role = { callsAtlas: mode !== 'bot', answersSlack: mode !== 'worker' };
  const result = checkedEnv(role)
    .transform((env) => configOf(env, mode))
    .safeParse(files.env);
  if (!result.success || files.problems.length > 0) {
    const problems = [...files.problems, ...(result.error?.issues.map((issue) => issue.message) ?? [])].map(
      (problem) => `  - ${problem}`,
    );
    throw new AppError(
      'CONFIG_INVALID',
      `Rolecall cannot start, the configuration has ${problems.length} problem(s):\n${problems.join('\n')}`,
    );
  }
  return result.data;
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
  'PAGERDUTY_TOKEN',
  'OPSGENIE_API_KEY',
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

/** Each run mode's `service.name` in traces when OTEL_SERVICE_NAME is unset. */
const SERVICE_NAMES: Readonly<Record<RunMode, string>> = {
  all: 'rolecall',
  bot: 'rolecall-slack',
  worker: 'rolecall-worker',
};

/** The parsed variables arranged as the Config (every value is already typed and defaulted). */
function configOf(env: Env, mode: RunMode): Config {
  return {
    mode,
    logLevel: env.LOG_LEVEL,
    slack: {
      botToken: required(env.SLACK_BOT_TOKEN),
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: env.SLACK_API_URL,
      userGroupMaxAgeMs: env.USER_GROUP_MAX_AGE,
    },
    dryRun: env.ATLAS_DRY_RUN,
    http: { port: env.PORT, metricsPort: env.METRICS_PORT },
    redis: redisConfigOf(env),
    redisDurability: {
      replicas: env.REDIS_WAIT_REPLICAS,
      aof: env.REDIS_WAIT_AOF,
      timeoutMs: env.REDIS_WAIT_TIMEOUT,
    },
    atlasApi: env.ATLAS_API,
    atlas: mode === 'bot' ? null : atlasConfigOf(env),
    policyFile: env.POLICY_FILE,
    onCall: {
      pagerduty: { apiUrl: env.PAGERDUTY_API_URL, token: env.PAGERDUTY_TOKEN },
      opsgenie: { apiUrl: env.OPSGENIE_API_URL, apiKey: env.OPSGENIE_API_KEY },
      cacheTtlMs: env.ON_CALL_CACHE,
    },
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      lockDurationMs: env.WORKER_LOCK_MS,
      sweepIntervalMs: env.SWEEP_INTERVAL,
      backoffMs: env.JOB_BACKOFF_MS,
    },
    tracing: {
      endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      serviceName: env.OTEL_SERVICE_NAME ?? SERVICE_NAMES[mode],
    },
    requestTtlMs: env.REQUEST_TTL,
    auditRetentionMs: env.AUDIT_RETENTION,
    readyCheckIntervalMs: env.READY_CHECK_INTERVAL,
    shutdownGraceMs: env.SHUTDOWN_GRACE,
    shutdownDrainMs: env.SHUTDOWN_DRAIN,
    limits: { requestsPerMinute: env.REQUESTS_PER_MINUTE, maxOpenRequests: env.MAX_OPEN_REQUESTS },
    grants: {
      revokeRetryIntervalMs: env.REVOKE_RETRY_INTERVAL,
      revokeEscalateEveryMs: env.REVOKE_ESCALATE_EVERY,
      reconcileIntervalMs: env.RECONCILE_INTERVAL,
      remindBeforeMs: env.REMIND_BEFORE,
      reviewTtlMs: env.REVIEW_TTL,
    },
  };
}

/** How to call Atlas, for a process that does (the variable rules made sure one credential pair is set). */
function atlasConfigOf(env: Env): AtlasConfig {
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy ?? '';
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy ?? '';
  return {
    api: env.ATLAS_API,
    baseUrl: env.ATLAS_BASE_URL,
    auth:
      env.ATLAS_CLIENT_ID === undefined
        ? {
            kind: 'digest',
            publicKey: required(env.ATLAS_PUBLIC_KEY),
            privateKey: required(env.ATLAS_PRIVATE_KEY),
          }
        : { kind: 'oauth', clientId: env.ATLAS_CLIENT_ID, clientSecret: required(env.ATLAS_CLIENT_SECRET) },
    timeoutMs: env.ATLAS_TIMEOUT_MS,
    maxRetries: env.ATLAS_MAX_RETRIES,
    pageSize: env.ATLAS_PAGE_SIZE,
    dryRun: env.ATLAS_DRY_RUN,
    // Upper case wins over lower case, as curl does for HTTPS_PROXY.
    ...(httpsProxy === '' && httpProxy === ''
      ? {}
      : { proxy: { httpsProxy, httpProxy, noProxy: env.NO_PROXY ?? env.no_proxy ?? '' } }),
    rateLimits: { org: env.ATLAS_RATE_ORG, project: env.ATLAS_RATE_PROJECT, user: env.ATLAS_RATE_USER },
  };
}

/** A variable the rules made sure is set. */
function required(value: string | undefined): string {
  if (value === undefined) throw new AppError('INTERNAL', 'a required variable passed validation unset');
  return value;
}

/** The Redis settings of the parsed variables. */
function redisConfigOf(env: Pick<Env, keyof typeof REDIS_FIELDS>): RedisConfig {
  const { REDIS_TLS_CA: tlsCa, REDIS_SENTINELS: sentinels, REDIS_CLUSTER_NODES: clusterNodes } = env;
  return {
    url: env.REDIS_URL,
    // In a cluster the braces make the prefix the hash tag of every key: one slot, so Lua scripts
    // and BullMQ's multi-key commands work (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
    prefix: clusterNodes === undefined ? env.QUEUE_PREFIX : `{${env.QUEUE_PREFIX}}`,
    ...(tlsCa === undefined ? {} : { tlsCa }),
    ...(sentinels === undefined ? {} : { sentinels, sentinelName: env.REDIS_SENTINEL_NAME ?? '' }),
    ...(clusterNodes === undefined ? {} : { clusterNodes }),
  };
}

/** Reads the configuration of this process; the one place that touches `process.env`. */
export function loadConfig(options: ConfigOptions = {}): Config {
  return parseConfig(process.env, options);
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

/**
 * Where Rolecall's data is, for tools that only read it (`rolecall audit`): REDIS_URL and
 * QUEUE_PREFIX, validated like the app's. Throws CONFIG_INVALID naming what is wrong.
 */
export function loadStoreSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Config['redis'] {
  const files = readSecretFiles({ REDIS_URL: env.REDIS_URL, REDIS_URL_FILE: env.REDIS_URL_FILE });
  const result = envFields
    .pick(REDIS_FIELDS)
    .transform(redisConfigOf)
    .safeParse({ ...env, ...files.env });
  if (!result.success || files.problems.length > 0) {
    const problems = [...files.problems, ...(result.error?.issues.map((issue) => issue.message) ?? [])];
    throw new AppError('CONFIG_INVALID', problems.join('\n'));
  }
  return result.data;
}
