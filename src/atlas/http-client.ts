import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { AppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { type AtlasErrorBody, toAtlasAppError } from './atlas-error.js';
import type { AtlasAuthConfig, AtlasProxyConfig } from './atlas-options.js';
import {
  createDigestSession,
  type DigestChallenge,
  type DigestSession,
  parseDigestChallenge,
} from './digest.js';
import { createTokenSource, type TokenSource } from './oauth-token.js';
import { type AtlasRateWord, type RateKey, type RateLimiter, rateKeyOf, rateWordOf } from './rate-limiter.js';
import { redactFields, redactSecretsIn } from './redact.js';
import {
  type BackoffOptions,
  backoffDelay,
  isRetryableNetworkError,
  isRetryableStatus,
  retryAfterMs,
} from './retry.js';

/** HTTP methods the role APIs use. */
export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/** One call to an Atlas, Cloud Manager or Ops Manager API. */
export interface AtlasCall {
  readonly method: HttpMethod;
  /** Path without the base URL, e.g. `/api/atlas/v2/groups/{id}/users/{id}/roles`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Sent as Accept, and as Content-Type when there is a body. */
  readonly mediaType: string;
  /** Words for error messages: "updating project roles". */
  readonly operation: string;
  /** The Atlas role the API key or service account needs for this call, named in 401/403 messages. */
  readonly requiredRole?: string;
  /** Body fields holding a secret (`['password']`): sent intact, "[redacted]" in logs, dry-run records and errors. */
  readonly secretFields?: readonly string[];
  /** Error statuses that are an answer here, not a failure (a 404 "no federation"): logged at debug. */
  readonly expected?: readonly number[];
}

/** A write that a dry run did not send. */
export interface DryRunWrite {
  readonly method: string;
  /** The path with its query, as it would have been sent. */
  readonly path: string;
  /** The JSON body, or undefined. */
  readonly body: unknown;
}

/** A successful (2xx) answer. */
export interface AtlasResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Sends authenticated calls with rate limiting and retries; throws AppError for every failure. */
export interface AtlasHttp {
  send<T>(call: AtlasCall): Promise<AtlasResponse<T>>;
  /** Revokes a service-account token, if any, and closes the connection pool. */
  close(): Promise<void>;
}

/** Options for {@link createAtlasHttp}. */
export interface AtlasHttpOptions {
  readonly baseUrl: string;
  readonly auth: AtlasAuthConfig;
  readonly logger: Logger;
  /**
   * Takes a token per HTTP exchange (challenges included), and is corrected after each from Atlas's
   * `RateLimit-Limit` / `RateLimit-Remaining` headers and a 429's bucket parameters; omit to send
   * unthrottled.
   */
  readonly rateLimiter?: RateLimiter;
  /**
   * Time allowed for one HTTP exchange, in ms.
   * @defaultValue 15_000
   */
  readonly timeoutMs?: number;
  /**
   * Retries after the first attempt, for 429, 5xx, resets and timeouts.
   * @defaultValue 4
   */
  readonly maxRetries?: number;
  /**
   * The longest wait between two attempts; a longer Retry-After is handed back as a retryable
   * error so the job is rescheduled instead of holding a worker.
   * @defaultValue 30_000
   */
  readonly maxRetryWaitMs?: number;
  readonly backoff?: BackoffOptions;
  /**
   * Most sockets kept open to the Atlas host.
   * @defaultValue 64
   */
  readonly connections?: number;
  /** Told after every HTTP exchange (challenges included): endpoint template, status or `error`, ms. */
  readonly onExchange?: (event: {
    readonly operation: string;
    readonly status: number | 'error';
    readonly durationMs: number;
  }) => void;
  /**
   * Dry run: writes (PUT, PATCH, POST, DELETE) are not sent; each is logged and handed to this
   * callback with its method, path (and query) and body, and answered as if Atlas had accepted it
   * (200, or 204 for DELETE, no body). Reads are sent as usual.
   */
  readonly dryRun?: ((write: DryRunWrite) => void) | undefined;
  /** Sends every call through this proxy (undici EnvHttpProxyAgent with explicit settings). */
  readonly proxy?: AtlasProxyConfig | undefined;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** Creates the undici-based client: one keep-alive Agent for all calls, Digest or OAuth on every call. */
export function createAtlasHttp(options: AtlasHttpOptions): AtlasHttp {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxRetries = options.maxRetries ?? 4;
  const maxRetryWaitMs = options.maxRetryWaitMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const agentOptions = {
    connections: options.connections ?? 64,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  };
  // Explicit values ('' for none) so undici never falls back to reading process.env itself.
  const agent: Dispatcher = options.proxy
    ? new EnvHttpProxyAgent({ ...agentOptions, ...options.proxy })
    : new Agent(agentOptions);
  const tokens: TokenSource | undefined =
    options.auth.kind === 'oauth'
      ? createTokenSource({
          baseUrl: options.baseUrl,
          clientId: options.auth.clientId,
          clientSecret: options.auth.clientSecret,
          dispatcher: agent,
          logger,
          timeoutMs,
        })
      : undefined;
  const warnedDeprecated = new Set<string>();

  /** Atlas's word on its bucket wins over the configured one; a failure to record it fails no call. */
  const correctBucket = async (key: RateKey, word: AtlasRateWord | undefined) => {
    if (word === undefined || !options.rateLimiter?.correct) return;
    try {
      await options.rateLimiter.correct(key, word);
    } catch (error) {
      logger.warn('atlas rate bucket not corrected from Atlas headers', {
        key: key.key,
        error: describe(error),
      });
    }
  };

  const exchange = async (
    call: AtlasCall,
    uri: string,
    payload: string | undefined,
    authorization?: string,
  ) => {
    const rateKey = rateKeyOf(call.path);
    await options.rateLimiter?.take(rateKey);
    const headers: Record<string, string> = { accept: call.mediaType, 'user-agent': 'rolecall' };
    if (payload !== undefined) headers['content-type'] = call.mediaType;
    if (authorization !== undefined) headers.authorization = authorization;
    const started = performance.now();
    const operation = `${call.method} ${templateOf(call.path)}`;
    try {
      const response = await request(`${options.baseUrl}${uri}`, {
        method: call.method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      options.onExchange?.({
        operation,
        status: response.statusCode,
        durationMs: performance.now() - started,
      });
      await correctBucket(rateKey, rateWordOf(response.statusCode, response.headers, text));
      return { status: response.statusCode, headers: response.headers, text } satisfies Exchange;
    } catch (error) {
      options.onExchange?.({ operation, status: 'error', durationMs: performance.now() - started });
      throw error;
    }
  };

  const session: DigestSession | undefined =
    options.auth.kind === 'digest'
      ? createDigestSession({ username: options.auth.publicKey, password: options.auth.privateKey })
      : undefined;

  /** The request without Authorization; the Digest challenge its 401 brings becomes the session's nonce. */
  const challengeFor = async (
    digest: DigestSession,
    call: AtlasCall,
    uri: string,
    payload: string | undefined,
  ) => {
    const response = await exchange(call, uri, payload);
    const challenge = response.status === 401 ? challengeIn(response.headers) : undefined;
    if (challenge) digest.accept(challenge);
    return { response, challenge };
  };

  /**
   * Digest: signed at once with the session's nonce (one exchange). Without one, a single request
   * asks for a challenge and concurrent callers wait for it. A 401 to a signed request is answered
   * once more, with that 401's own challenge, when its nonce was stale or not this request's alone (a
   * cached nonce Atlas forgot, or a neighbour's count arriving first); else the key is refused.
   */
  const attemptDigest = async (
    digest: DigestSession,
    call: AtlasCall,
    uri: string,
    payload: string | undefined,
  ): Promise<Exchange> => {
    let signed = digest.sign(call.method, uri);
    if (!signed) {
      const led = await digest.handshake(() => challengeFor(digest, call, uri, payload));
      if (led && !led.value.challenge) return led.value.response;
      signed = digest.sign(call.method, uri);
      if (!signed) {
        // The shared handshake brought no challenge (it failed, or was answered without one): ask alone.
        const own = await challengeFor(digest, call, uri, payload);
        if (!own.challenge) return own.response;
        signed = digest.signWith(own.challenge, call.method, uri);
      }
    }
    const response = await exchange(call, uri, payload, signed.authorization);
    if (response.status !== 401) return response;
    const challenge = challengeIn(response.headers);
    if (!challenge || (!challenge.stale && digest.usedAlone(signed))) return response;
    const resent = await exchange(
      call,
      uri,
      payload,
      digest.signWith(challenge, call.method, uri).authorization,
    );
    if (resent.status !== 401) digest.accept(challenge);
    return resent;
  };

  /** One authenticated attempt: Digest as above; OAuth retries once with a fresh token. */
  const attempt = async (call: AtlasCall, uri: string, payload: string | undefined): Promise<Exchange> => {
    if (tokens) {
      const token = await tokens.token();
      const first = await exchange(call, uri, payload, `Bearer ${token}`);
      if (first.status !== 401) return first;
      tokens.invalidate(token);
      return exchange(call, uri, payload, `Bearer ${await tokens.token()}`);
    }
    if (!session) throw new AppError('INTERNAL', 'digest auth without an API key');
    return attemptDigest(session, call, uri, payload);
  };

  const warnIfDeprecated = (call: AtlasCall, headers: Exchange['headers']) => {
    if (headers.deprecation === undefined && headers.sunset === undefined) return;
    const endpoint = `${call.method} ${templateOf(call.path)}`;
    if (warnedDeprecated.has(endpoint)) return;
    warnedDeprecated.add(endpoint);
    logger.warn('Atlas says this endpoint is deprecated; plan the move to ATLAS_API=atlas-v2-2025 (README)', {
      endpoint,
      mediaType: call.mediaType,
      deprecation: headers.deprecation,
      sunset: headers.sunset,
    });
  };

  return {
    async send<T>(call: AtlasCall): Promise<AtlasResponse<T>> {
      // No bare `?` for an empty query: undici drops it, and the Digest uri would no longer match.
      const search = new URLSearchParams(call.query ?? {}).toString();
      const uri = search === '' ? call.path : `${call.path}?${search}`;
      const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
      if (options.dryRun && call.method !== 'GET') {
        const write = { method: call.method, path: uri, body: redactFields(call.body, call.secretFields) };
        logger.warn('atlas dry run: write not sent', { ...write, operation: call.operation });
        options.dryRun(write);
        return { status: call.method === 'DELETE' ? 204 : 200, body: undefined as T, headers: {} };
      }
      // A write whose answer was lost (a timeout, a reset, a 5xx) may have been carried out: a
      // later 409 may then be this very call's own work, and the error says so (`afterLostAnswer`).
      let lostAnswer = false;
      for (let retry = 0; ; retry += 1) {
        let response: Exchange;
        try {
          response = await attempt(call, uri, payload);
        } catch (cause) {
          if (cause instanceof AppError) throw cause;
          if (call.method !== 'GET') lostAnswer = true;
          if (isRetryableNetworkError(cause) && retry < maxRetries) {
            logger.debug('atlas call failed on the network; retrying', {
              path: call.path,
              retry,
              error: describe(cause),
            });
            await sleep(backoffDelay(retry, options.backoff));
            continue;
          }
          throw new AppError(
            'ATLAS_UNAVAILABLE',
            `Atlas could not be reached while ${call.operation} (${describe(cause)}${retry > 0 ? `, after ${retry + 1} attempts` : ''}).`,
            { cause, retryable: true, details: { operation: call.operation } },
          );
        }
        const body = parseJson(response.text);
        if (response.status >= 200 && response.status < 300) {
          warnIfDeprecated(call, response.headers);
          return { status: response.status, body: body as T, headers: response.headers };
        }
        const error = redactSecretsIn(body, call.body, call.secretFields) as AtlasErrorBody | undefined;
        if (isRetryableStatus(response.status) && retry < maxRetries) {
          if (call.method !== 'GET' && response.status !== 429) lostAnswer = true;
          const asked = retryAfterMs(response.headers['retry-after'], error);
          const wait = asked ?? backoffDelay(retry, options.backoff);
          if (wait > maxRetryWaitMs) {
            throw new AppError(
              'ATLAS_UNAVAILABLE',
              `Atlas is rate limiting ${call.operation} and asked to wait ${Math.ceil(wait / 1000)} s; Rolecall will try again later.`,
              {
                retryable: true,
                details: {
                  status: response.status,
                  retryAfterMs: wait,
                  ...(lostAnswer ? { afterLostAnswer: true } : {}),
                },
              },
            );
          }
          logger.debug('atlas asked to retry', { path: call.path, status: response.status, retry, wait });
          await sleep(wait + (asked === undefined ? 0 : Math.floor(Math.random() * 250)));
          continue;
        }
        const refused = toAtlasAppError(response.status, error, call);
        const failure = lostAnswer
          ? new AppError(refused.code, refused.message, {
              retryable: refused.retryable,
              details: { ...refused.details, afterLostAnswer: true },
            })
          : refused;
        logger[call.expected?.includes(response.status) ? 'debug' : 'warn']('atlas call failed', {
          method: call.method,
          path: call.path,
          status: response.status,
          errorCode: failure.details.errorCode,
        });
        throw failure;
      }
    },
    async close() {
      await tokens?.revoke();
      await agent.close();
    },
  };
}

function challengeIn(headers: Exchange['headers']): DigestChallenge | undefined {
  const value = headers['www-authenticate'];
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.map(parseDigestChallenge).find((c) => c !== undefined);
}

/** A path with its ids replaced, so deprecation warnings are per endpoint, not per user. */
export function templateOf(path: string): string {
  return path.replace(/\/[a-f0-9]{24}(?=\/|:|$)/g, '/{id}').replace(/\/byName\/[^/]+/, '/byName/{name}');
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return 'timed out';
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' ? code : cause.message;
  }
  return 'unknown network error';
}
