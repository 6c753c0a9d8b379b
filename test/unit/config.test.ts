import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';

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
  it('applies the documented defaults', () => {
    const config = parseConfig(VALID);
    expect(config).toMatchObject({
      mode: 'all',
      slack: { apiUrl: 'https://slack.com/api/', appToken: undefined, signingSecret: 'secret' },
      http: { port: 3000 },
      redis: { url: 'redis://127.0.0.1:6379', prefix: 'rolecall' },
      atlas: {
        baseUrl: 'https://cloud.mongodb.com',
        auth: { kind: 'digest', publicKey: 'pub', privateKey: 'priv' },
      },
      policyFile: './policy.yml',
    });
  });

  it('reports every problem at once, in words an operator understands', () => {
    const message = problemsOf({
      SLACK_BOT_TOKEN: 'xoxp-user',
      PORT: 'eighty',
      REDIS_URL: 'localhost:6379',
      QUEUE_PREFIX: 'a:b',
    });
    expect(message).toContain('configuration has 7 problem(s)');
    expect(message).toContain('SLACK_BOT_TOKEN must be a bot token starting with "xoxb-"');
    expect(message).toContain('PORT must be a whole number');
    expect(message).toContain('REDIS_URL must look like redis://host:6379');
    expect(message).toContain('QUEUE_PREFIX may contain only');
    expect(message).toContain('ATLAS_PUBLIC_KEY is required');
    expect(message).toContain('ATLAS_PRIVATE_KEY is required');
    expect(message).toContain('SLACK_SIGNING_SECRET is required in HTTP mode');
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

  it('adds the trailing slash Slack API URLs need and trims the Atlas one', () => {
    const config = parseConfig({
      ...VALID,
      SLACK_API_URL: 'http://127.0.0.1:9/api',
      ATLAS_BASE_URL: 'http://127.0.0.1:8/',
    });
    expect(config.slack.apiUrl).toBe('http://127.0.0.1:9/api/');
    expect(config.atlas.baseUrl).toBe('http://127.0.0.1:8');
  });
});
