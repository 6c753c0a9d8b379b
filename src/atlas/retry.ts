import type { AtlasErrorBody } from './atlas-error.js';

/** How long to wait between attempts. */
export interface BackoffOptions {
  /**
   * First backoff ceiling, in ms; doubles each retry.
   * @defaultValue 500
   */
  baseMs?: number;
  /**
   * Largest backoff ceiling, in ms.
   * @defaultValue 20_000
   */
  capMs?: number;
  /** @defaultValue Math.random */
  random?: () => number;
}

/** Exponential backoff with full jitter: a random wait between 0 and min(cap, base * 2^retry). */
export function backoffDelay(retry: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 20_000;
  const random = options.random ?? Math.random;
  return Math.floor(random() * Math.min(cap, base * 2 ** retry));
}

/**
 * What Atlas says about waiting after a 429 (or 503): the `Retry-After` header (seconds or an
 * HTTP date), else what the error body says, read by its errorCode (NOTES.md sections 6 and 9):
 * - `RATE_LIMITED_TOKEN_BUCKET`: `parameters` = [path, retryAfterSeconds, capacity, refillRate,
 *   refillDurationSeconds]; the second one is the wait.
 * - `RATE_LIMITED` (Cloud Manager, Ops Manager, older Atlas endpoints): `parameters` = [resource,
 *   limit, minutes], "limited to 100 requests every 1 minutes": a quota, not a wait, so undefined.
 * Anything else: undefined. Undefined means "back off with jitter".
 * @returns ms, or undefined when Atlas gave no usable wait.
 */
export function retryAfterMs(
  header: string | string[] | undefined,
  body: AtlasErrorBody | undefined,
  now: number = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value.trim() !== '') {
    if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  if (body?.errorCode !== 'RATE_LIMITED_TOKEN_BUCKET') return undefined;
  const seconds = body.parameters?.[1];
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  if (typeof seconds === 'string' && /^\d+$/.test(seconds)) return Number(seconds) * 1000;
  return undefined;
}

/** HTTP statuses worth another attempt: rate limited, or a server-side failure. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Network failures worth another attempt: resets, refused or dropped connections, timeouts. */
export function isRetryableNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  const code = (error as Error & { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    [
      'ECONNRESET',
      'ECONNREFUSED',
      'EPIPE',
      'ETIMEDOUT',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'UND_ERR_CONNECT_TIMEOUT',
      'UND_ERR_HEADERS_TIMEOUT',
      'UND_ERR_BODY_TIMEOUT',
      'UND_ERR_CLOSED',
    ].includes(code)
  );
}
