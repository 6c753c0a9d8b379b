import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { AppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';

/** Service-account access tokens: cached, refreshed before they expire, shared by concurrent callers. */
export interface TokenSource {
  /** A valid access token; fetches one only when none is cached or it is about to expire. */
  token(): Promise<string>;
  /** Drops `token` if it is the cached one (Atlas answered 401 with it). */
  invalidate(token: string): void;
  /** Revokes the cached token at Atlas; called on shutdown. Never throws. */
  revoke(): Promise<void>;
  /** How many tokens were fetched, for tests and metrics. */
  readonly fetched: number;
}

/** Options for {@link createTokenSource}. */
export interface TokenSourceOptions {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly timeoutMs: number;
  /**
   * Refresh this long before expiry, at most; a tenth of the lifetime for short-lived tokens.
   * @defaultValue 60_000
   */
  readonly refreshMarginMs?: number;
  readonly now?: () => number;
}

interface TokenResponse {
  readonly access_token?: string;
  readonly expires_in?: number;
  readonly token_type?: string;
  readonly error?: string;
  readonly error_description?: string;
}

/** Creates the OAuth 2.0 client-credentials token source (`POST {base}/api/oauth/token`). */
export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 60_000;
  const basic = Buffer.from(
    `${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`,
  ).toString('base64');
  let cached: { token: string; refreshAt: number } | undefined;
  let inFlight: Promise<string> | undefined;
  let fetched = 0;

  const post = async (path: string, form: Record<string, string>) => {
    const response = await request(`${options.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      dispatcher: options.dispatcher,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.body.text();
    let body: TokenResponse = {};
    try {
      body = text === '' ? {} : (JSON.parse(text) as TokenResponse);
    } catch {
      body = {};
    }
    return { status: response.statusCode, body };
  };

  const fetchToken = async (): Promise<string> => {
    let result: Awaited<ReturnType<typeof post>>;
    try {
      result = await post('/api/oauth/token', { grant_type: 'client_credentials' });
    } catch (cause) {
      throw new AppError('ATLAS_UNAVAILABLE', 'Atlas could not be reached to get a service-account token.', {
        cause,
        retryable: true,
      });
    }
    const { status, body } = result;
    if (status === 200 && body.access_token) {
      fetched += 1;
      const lifetimeMs = (body.expires_in ?? 3600) * 1000;
      cached = {
        token: body.access_token,
        refreshAt: now() + lifetimeMs - Math.min(margin, lifetimeMs / 10),
      };
      return body.access_token;
    }
    const said = `${body.error ?? `HTTP ${status}`}${body.error_description ? `: ${body.error_description}` : ''}`;
    if (status === 429 || status >= 500) {
      throw new AppError('ATLAS_UNAVAILABLE', `Atlas's token endpoint is busy (${said}).`, {
        retryable: true,
      });
    }
    throw new AppError(
      'ATLAS_AUTH_FAILED',
      `Atlas refused the service account (${said}). Check ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET, and that the secret has not expired.`,
      { details: { status } },
    );
  };

  return {
    get fetched() {
      return fetched;
    },
    token() {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      inFlight ??= fetchToken().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
    async revoke() {
      const token = cached?.token;
      cached = undefined;
      if (token === undefined) return;
      try {
        const { status } = await post('/api/oauth/revoke', { token, token_type_hint: 'access_token' });
        if (status !== 200) options.logger.warn('service-account token not revoked', { status });
      } catch (error) {
        options.logger.warn('service-account token not revoked', { error: (error as Error).message });
      }
    },
  };
}
