import type { Config } from '../config.js';

/** Every value that must never appear in a log line: tokens, keys, the Redis password. */
export function secretsOf(config: Config): string[] {
  const auth = config.atlas?.auth;
  return [
    config.slack.botToken,
    config.slack.signingSecret ?? '',
    config.slack.appToken ?? '',
    auth === undefined ? '' : auth.kind === 'digest' ? auth.privateKey : auth.clientSecret,
    config.onCall.pagerduty.token ?? '',
    config.onCall.opsgenie.apiKey ?? '',
    // The Redis password, as written in REDIS_URL (and decoded).
    ...redisPasswordsOf(config.redis.url),
  ];
}

function redisPasswordsOf(url: string): string[] {
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}
