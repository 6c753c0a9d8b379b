import { Agent, request } from 'undici';
import { AppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { type AtlasErrorBody, toAtlasAppError } from './atlas-error.js';
import { buildDigestAuthorization, createCnonce, parseDigestChallenge } from './digest.js';

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
}

/** A successful (2xx) answer. */
export interface AtlasResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Sends authenticated calls; throws AppError for every failure. */
export interface AtlasHttp {
  send<T>(call: AtlasCall): Promise<AtlasResponse<T>>;
  close(): Promise<void>;
}

/** Options for {@link createAtlasHttp}. */
export interface AtlasHttpOptions {
  baseUrl: string;
  publicKey: string;
  privateKey: string;
  logger: Logger;
  /**
   * Time allowed for one HTTP exchange, in ms.
   * @defaultValue 15_000
   */
  timeoutMs?: number;
  /**
   * Most sockets kept open to the Atlas host.
   * @defaultValue 32
   */
  connections?: number;
}

/** Creates the undici-based client: one keep-alive Agent for all calls, HTTP Digest on every call. */
export function createAtlasHttp(options: AtlasHttpOptions): AtlasHttp {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const agent = new Agent({
    connections: options.connections ?? 32,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const exchange = async (
    call: AtlasCall,
    uri: string,
    payload: string | undefined,
    authorization?: string,
  ) => {
    const headers: Record<string, string> = { accept: call.mediaType, 'user-agent': 'rolecall' };
    if (payload !== undefined) headers['content-type'] = call.mediaType;
    if (authorization !== undefined) headers.authorization = authorization;
    try {
      const response = await request(`${options.baseUrl}${uri}`, {
        method: call.method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    } catch (cause) {
      throw new AppError(
        'ATLAS_UNAVAILABLE',
        `Atlas could not be reached while ${call.operation} (${describeNetworkError(cause)}).`,
        { cause, retryable: true, details: { operation: call.operation } },
      );
    }
  };

  return {
    async send<T>(call: AtlasCall): Promise<AtlasResponse<T>> {
      const search = call.query ? `?${new URLSearchParams(call.query).toString()}` : '';
      const uri = `${call.path}${search}`;
      const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
      let response = await exchange(call, uri, payload);
      if (response.status === 401) {
        const challenge = headerValues(response.headers['www-authenticate'])
          .map(parseDigestChallenge)
          .find((c) => c !== undefined);
        if (challenge) {
          const authorization = buildDigestAuthorization({
            username: options.publicKey,
            password: options.privateKey,
            method: call.method,
            uri,
            challenge,
            cnonce: createCnonce(),
            nc: 1,
          });
          response = await exchange(call, uri, payload, authorization);
        }
      }
      const body = parseJson(response.text);
      if (response.status < 200 || response.status >= 300) {
        const error = toAtlasAppError(response.status, body as AtlasErrorBody | undefined, call.operation);
        options.logger.warn('atlas call failed', {
          method: call.method,
          path: call.path,
          status: response.status,
          errorCode: error.details.errorCode,
        });
        throw error;
      }
      return { status: response.status, body: body as T, headers: response.headers };
    },
    close: () => agent.close(),
  };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function headerValues(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function describeNetworkError(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    if (cause.name === 'TimeoutError' || cause.name === 'AbortError') return 'timed out';
    return typeof code === 'string' ? code : cause.message;
  }
  return 'unknown network error';
}
