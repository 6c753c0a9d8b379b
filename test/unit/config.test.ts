import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretsOf } from '../../src/compose/secrets.js';
import { loadStoreSettings, parseConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/ops/logger.js';

const VALID = {
  SLACK_BOT_TOKEN: 'xoxb-1',
  SLACK_SIGNING_SECRET: 'secret',
  ATLAS_PUBLIC_KEY: 'pub',
  ATLAS_PRIVATE_KEY: 'priv',
};

function problemsOf(env: Record<string, string | undefined>, mode: 'all' | 'worker' = 'all'): string {
  try {
    parseConfig(env, { mode });
  } catch (error) {
    if (error instanceof AppError && error.code === 'CONFIG_INVALID') return error.message;
    throw error;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('parseConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolecall-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const secretFile = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads secrets from NAME_FILE (Docker and Kubernetes secrets), dropping one trailing newline', () => {
    const config = parseConfig({
      SLACK_SIGNING_SECRET: 'secret',
      SLACK_BOT_TOKEN_FILE: secretFile('bot', 'xoxb-from-file\n'),
      ATLAS_CLIENT_ID_FILE: secretFile('id', 'mdb_sa_id_1'),
      ATLAS_CLIENT_SECRET_FILE: secretFile('sa', 'mdb_sa_sk_2\n'),
      REDIS_URL_FILE: secretFile('redis', 'redis://:pw@10.0.0.5:6380\n'),
    });
    expect(config.slack.botToken).toBe('xoxb-from-file');
    expect(config.atlas?.auth).toEqual({
      kind: 'oauth',
      clientId: 'mdb_sa_id_1',
      clientSecret: 'mdb_sa_sk_2',
    });
    expect(config.redis.url).toBe('redis://:pw@10.0.0.5:6380');
    expect(loadStoreSettings({ REDIS_URL_FILE: join(dir, 'redis') }).url).toBe('redis://:pw@10.0.0.5:6380');
  });

  it('refuses a secret set twice, an unreadable or empty file, without printing any contents', () => {
    const message = problemsOf({
      ...VALID,
      SLACK_BOT_TOKEN_FILE: secretFile('bot2', 'xoxb-hidden'),
      ATLAS_PRIVATE_KEY: undefined,
      ATLAS_PRIVATE_KEY_FILE: join(dir, 'missing'),
      SLACK_SIGNING_SECRET: undefined,
      SLACK_SIGNING_SECRET_FILE: secretFile('empty', '\n'),
    });
    expect(message).toContain('SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are both set; keep one');
    expect(message).toContain(`ATLAS_PRIVATE_KEY_FILE ${join(dir, 'missing')} cannot be read (ENOENT)`);
    expect(message).toContain(`SLACK_SIGNING_SECRET_FILE ${join(dir, 'empty')} is empty`);
    expect(message).not.toContain('xoxb-hidden');
  });

  it('sends Atlas calls through HTTPS_PROXY / HTTP_PROXY when set, with NO_PROXY, upper case first', () => {
    expect(parseConfig(VALID).atlas?.proxy).toBeUndefined();
    const config = parseConfig({
      ...VALID,
      HTTPS_PROXY: 'http://egress.internal:3128',
      https_proxy: 'http://ignored:1',
      no_proxy: 'localhost,.internal',
    });
    expect(config.atlas?.proxy).toEqual({
      httpsProxy: 'http://egress.internal:3128',
      httpProxy: '',
      noProxy: 'localhost,.internal',
    });
    expect(problemsOf({ ...VALID, HTTPS_PROXY: 'egress:3128' })).toContain(
      'HTTPS_PROXY must be an http(s) URL such as http://proxy.internal:3128',
    );
  });

  it('applies the documented defaults', () => {
    const config = parseConfig(VALID);
    expect(config).toMatchObject({
      mode: 'all',
      slack: { apiUrl: 'https://slack.com/api/', appToken: undefined, signingSecret: 'secret' },
      http: { port: 3000 },
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'rolecall' },
      atlas: {
        api: 'atlas-v2-2025',
        baseUrl: 'https://cloud.mongodb.com',
        auth: { kind: 'digest', publicKey: 'pub', privateKey: 'priv' },
        timeoutMs: 15_000,
        maxRetries: 4,
        rateLimits: {
          org: { capacity: 500, refillPerMinute: 250 },
          project: { capacity: 1200, refillPerMinute: 500 },
          user: { capacity: 2500, refillPerMinute: 2000 },
        },
      },
      worker: { concurrency: 4 },
      policyFile: './policy.yml',
    });
  });

  it('reads the grant timings as durations, with their defaults and 0 turning reminders off', () => {
    expect(parseConfig(VALID).grants).toEqual({
      revokeRetryIntervalMs: 600_000,
      revokeEscalateEveryMs: 3_600_000,
      reconcileIntervalMs: 900_000,
      remindBeforeMs: 900_000,
      reviewTtlMs: 14 * 86_400_000,
    });
    const tuned = parseConfig({
      ...VALID,
      REVOKE_RETRY_INTERVAL: '30s',
      REVOKE_ESCALATE_EVERY: '2m',
      RECONCILE_INTERVAL: '10s',
      REMIND_BEFORE: '0',
      REVIEW_TTL: '2s',
    });
    expect(tuned.grants).toEqual({
      revokeRetryIntervalMs: 30_000,
      revokeEscalateEveryMs: 120_000,
      reconcileIntervalMs: 10_000,
      remindBeforeMs: 0,
      reviewTtlMs: 2_000,
    });
    const message = problemsOf({ ...VALID, REVOKE_RETRY_INTERVAL: 'often', REMIND_BEFORE: '-1' });
    expect(message).toContain('REVOKE_RETRY_INTERVAL must be a duration such as 30m, 24h or 2d');
    expect(message).toContain('REMIND_BEFORE must be a duration such as 15m, or 0 to turn reminders off');
  });

  it('reads USER_GROUP_MAX_AGE as a duration, 60s by default and 0 asking Slack every time', () => {
    expect(parseConfig(VALID).slack.userGroupMaxAgeMs).toBe(60_000);
    expect(parseConfig({ ...VALID, USER_GROUP_MAX_AGE: '5m' }).slack.userGroupMaxAgeMs).toBe(300_000);
    expect(parseConfig({ ...VALID, USER_GROUP_MAX_AGE: '0' }).slack.userGroupMaxAgeMs).toBe(0);
    expect(problemsOf({ ...VALID, USER_GROUP_MAX_AGE: 'soon' })).toContain(
      'USER_GROUP_MAX_AGE must be a duration such as 60s or 5m, or 0 to ask Slack every time',
    );
  });

  it('reports every problem at once, in words an operator understands', () => {
    const message = problemsOf({
      SLACK_BOT_TOKEN: 'xoxp-user',
      PORT: 'eighty',
      REDIS_URL: 'localhost:6379',
      QUEUE_PREFIX: 'a:b',
    });
    expect(message).toContain('configuration has 6 problem(s)');
    expect(message).toContain('SLACK_BOT_TOKEN must be a bot token starting with "xoxb-"');
    expect(message).toContain('PORT must be a whole number');
    expect(message).toContain('REDIS_URL must look like redis://[user:password@]host:6379[/db]');
    expect(message).toContain('QUEUE_PREFIX may contain only');
    expect(message).toContain('Atlas credentials are missing: set ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY');
    expect(message).toContain('SLACK_SIGNING_SECRET is required in HTTP mode');
  });

  it('reads a service account instead of an API key, and the Atlas tuning knobs', () => {
    const { ATLAS_PUBLIC_KEY: _p, ATLAS_PRIVATE_KEY: _k, ...rest } = VALID;
    const config = parseConfig({
      ...rest,
      ATLAS_CLIENT_ID: 'mdb_sa_id',
      ATLAS_CLIENT_SECRET: 'mdb_sa_sk',
      ATLAS_API: 'atlas-v2-2025',
      ATLAS_TIMEOUT_MS: '5000',
      ATLAS_MAX_RETRIES: '2',
      ATLAS_RATE_ORG: '100/50',
    });
    expect(config.atlas).toMatchObject({
      api: 'atlas-v2-2025',
      auth: { kind: 'oauth', clientId: 'mdb_sa_id', clientSecret: 'mdb_sa_sk' },
      timeoutMs: 5000,
      maxRetries: 2,
      rateLimits: {
        org: { capacity: 100, refillPerMinute: 50 },
        project: { capacity: 1200, refillPerMinute: 500 },
        user: { capacity: 2500, refillPerMinute: 2000 },
      },
    });
  });

  it('says which Atlas credential is missing or conflicting', () => {
    expect(problemsOf({ ...VALID, ATLAS_CLIENT_ID: 'x', ATLAS_CLIENT_SECRET: 'y' })).toContain(
      'Atlas credentials conflict: set either ATLAS_PUBLIC_KEY/ATLAS_PRIVATE_KEY (API key) or ATLAS_CLIENT_ID/ATLAS_CLIENT_SECRET (service account), not both',
    );
    expect(problemsOf({ ...VALID, ATLAS_PRIVATE_KEY: '' })).toContain(
      'ATLAS_PUBLIC_KEY is set but ATLAS_PRIVATE_KEY is missing',
    );
    const { ATLAS_PUBLIC_KEY: _p, ATLAS_PRIVATE_KEY: _k, ...rest } = VALID;
    expect(problemsOf({ ...rest, ATLAS_CLIENT_SECRET: 'y' })).toContain(
      'ATLAS_CLIENT_SECRET is set but ATLAS_CLIENT_ID is missing',
    );
    const flavor = problemsOf({ ...VALID, ATLAS_API: 'atlas-v3', ATLAS_RATE_PROJECT: 'lots' });
    expect(flavor).toContain(
      'ATLAS_API must be one of atlas-v2, atlas-v2-2025, cloud-manager, ops-manager, atlas-v1',
    );
    expect(flavor).toContain('ATLAS_RATE_PROJECT must read CAPACITY/REFILL_PER_MINUTE, e.g. 500/250');
  });

  it('uses Socket Mode instead of the signing secret when SLACK_APP_TOKEN is set', () => {
    const config = parseConfig({ ...VALID, SLACK_SIGNING_SECRET: '', SLACK_APP_TOKEN: 'xapp-1' });
    expect(config.slack.appToken).toBe('xapp-1');
    expect(config.slack.signingSecret).toBeUndefined();
  });

  it('does not need a signing secret in a worker-only process', () => {
    expect(parseConfig({ ...VALID, SLACK_SIGNING_SECRET: undefined }, { mode: 'worker' }).mode).toBe(
      'worker',
    );
  });

  it('reads the on-call providers: public API hosts by default, no credential unless set', () => {
    expect(parseConfig(VALID).onCall).toEqual({
      pagerduty: { apiUrl: 'https://api.pagerduty.com', token: undefined },
      opsgenie: { apiUrl: 'https://api.opsgenie.com', apiKey: undefined },
      cacheTtlMs: 30_000,
    });
    const config = parseConfig({
      ...VALID,
      PAGERDUTY_TOKEN: ' u+pd-token-1 ',
      PAGERDUTY_API_URL: 'http://127.0.0.1:4010/',
      OPSGENIE_API_KEY: 'genie-key-2',
      OPSGENIE_API_URL: 'https://api.eu.opsgenie.com',
    });
    expect(config.onCall).toEqual({
      pagerduty: { apiUrl: 'http://127.0.0.1:4010', token: 'u+pd-token-1' },
      opsgenie: { apiUrl: 'https://api.eu.opsgenie.com', apiKey: 'genie-key-2' },
      cacheTtlMs: 30_000,
    });
    const message = problemsOf({
      ...VALID,
      PAGERDUTY_API_URL: 'api.pagerduty.com',
      OPSGENIE_API_URL: 'ftp://x',
    });
    expect(message).toContain('PAGERDUTY_API_URL must be an http(s) URL such as https://api.pagerduty.com');
    expect(message).toContain('OPSGENIE_API_URL must be an http(s) URL such as https://api.opsgenie.com');
  });

  it('reads PAGERDUTY_TOKEN and OPSGENIE_API_KEY from NAME_FILE, never printing them, and keeps them out of logs', () => {
    const config = parseConfig({
      ...VALID,
      PAGERDUTY_TOKEN_FILE: secretFile('pd', 'u+pd-from-file\n'),
      OPSGENIE_API_KEY_FILE: secretFile('og', 'og-from-file'),
    });
    expect(config.onCall.pagerduty.token).toBe('u+pd-from-file');
    expect(config.onCall.opsgenie.apiKey).toBe('og-from-file');
    const message = problemsOf({
      ...VALID,
      PAGERDUTY_TOKEN: 'u+pd-inline-secret',
      PAGERDUTY_TOKEN_FILE: secretFile('pd2', 'u+pd-file-secret'),
      OPSGENIE_API_KEY_FILE: join(dir, 'missing-og'),
    });
    expect(message).toContain('PAGERDUTY_TOKEN and PAGERDUTY_TOKEN_FILE are both set; keep one');
    expect(message).toContain(`OPSGENIE_API_KEY_FILE ${join(dir, 'missing-og')} cannot be read (ENOENT)`);
    expect(message).not.toContain('u+pd-inline-secret');
    expect(message).not.toContain('u+pd-file-secret');
    const lines: string[] = [];
    const logger = createLogger({ secrets: secretsOf(config), write: (line) => lines.push(line) });
    logger.warn('provider said', { detail: `token u+pd-from-file and key og-from-file` });
    expect(lines.join('\n')).not.toContain('u+pd-from-file');
    expect(lines.join('\n')).not.toContain('og-from-file');
    expect(lines.join('\n')).toContain('[redacted]');
  });

  it('adds the trailing slash Slack API URLs need and trims the Atlas one', () => {
    const config = parseConfig({
      ...VALID,
      SLACK_API_URL: 'http://127.0.0.1:9/api',
      ATLAS_BASE_URL: 'http://127.0.0.1:8/',
    });
    expect(config.slack.apiUrl).toBe('http://127.0.0.1:9/api/');
    expect(config.atlas?.baseUrl).toBe('http://127.0.0.1:8');
  });
});
