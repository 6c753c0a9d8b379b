import { z } from 'zod';
import { AppError } from './errors.js';

/** What one process runs: the Slack bot with a worker (`npm start`) or only a worker (`npm run worker`). */
export type RunMode = 'all' | 'worker';

/** Log verbosity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** How Rolecall signs its calls to the Atlas Admin API. */
export type AtlasAuthConfig = { kind: 'digest'; publicKey: string; privateKey: string };

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
  };
  readonly http: { readonly port: number };
  readonly redis: { readonly url: string; readonly prefix: string };
  readonly atlas: { readonly baseUrl: string; readonly auth: AtlasAuthConfig };
  readonly policyFile: string;
  readonly worker: { readonly concurrency: number };
}

const HEX_PREFIX = /^[A-Za-z0-9_-]+$/;
const INTEGER = /^\d+$/;

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
  PORT: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) <= 65535), {
    message: 'PORT must be a whole number between 0 and 65535',
  }),
  REDIS_URL: optionalText.refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: 'REDIS_URL must look like redis://host:6379 (or rediss:// for TLS)',
  }),
  QUEUE_PREFIX: optionalText.refine((v) => v === undefined || HEX_PREFIX.test(v), {
    message: 'QUEUE_PREFIX may contain only letters, digits, "_" and "-"',
  }),
  ATLAS_BASE_URL: optionalText.refine((v) => v === undefined || isHttpUrl(v), {
    message: 'ATLAS_BASE_URL must be an http(s) URL such as https://cloud.mongodb.com',
  }),
  ATLAS_PUBLIC_KEY: optionalText,
  ATLAS_PRIVATE_KEY: optionalText,
  POLICY_FILE: optionalText,
  LOG_LEVEL: optionalText.refine((v) => v === undefined || ['debug', 'info', 'warn', 'error'].includes(v), {
    message: 'LOG_LEVEL must be one of debug, info, warn, error',
  }),
  WORKER_CONCURRENCY: optionalText.refine((v) => v === undefined || (INTEGER.test(v) && Number(v) >= 1), {
    message: 'WORKER_CONCURRENCY must be a whole number of at least 1',
  }),
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
    require('ATLAS_PUBLIC_KEY', 'the public half of the Atlas programmatic API key');
    require('ATLAS_PRIVATE_KEY', 'the private half of the Atlas programmatic API key');
    if (mode === 'all' && env.SLACK_APP_TOKEN === undefined && env.SLACK_SIGNING_SECRET === undefined) {
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
  const result = buildEnvSchema(mode).safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  - ${issue.message}`);
    throw new AppError(
      'CONFIG_INVALID',
      `Rolecall cannot start, the configuration has ${problems.length} problem(s):\n${problems.join('\n')}`,
    );
  }
  return toConfig(result.data, mode);
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
    },
    http: { port: Number(env.PORT ?? '3000') },
    redis: { url: env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: env.QUEUE_PREFIX ?? 'rolecall' },
    atlas: {
      baseUrl: (env.ATLAS_BASE_URL ?? 'https://cloud.mongodb.com').replace(/\/+$/, ''),
      auth: {
        kind: 'digest',
        publicKey: required(env.ATLAS_PUBLIC_KEY),
        privateKey: required(env.ATLAS_PRIVATE_KEY),
      },
    },
    policyFile: env.POLICY_FILE ?? './policy.yml',
    worker: { concurrency: Number(env.WORKER_CONCURRENCY ?? '4') },
  };
}

/** Reads the configuration of this process; the one place that touches `process.env`. */
export function loadConfig(options: ConfigOptions = {}): Config {
  return parseConfig(process.env, options);
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
