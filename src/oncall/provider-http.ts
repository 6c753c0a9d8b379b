/**
 * The one HTTP exchange both on-call adapters make: a GET over undici within one deadline, tried
 * again at most once, and only when a second try can help (the connection failed, or a 5xx).
 * Answers what came back, or why nothing did; never throws.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type Dispatcher, request } from 'undici';

/** What a GET brought back: the status, headers and the body as JSON (undefined when not JSON). */
export type HttpAnswer =
  | {
      readonly ok: true;
      readonly status: number;
      readonly headers: IncomingHttpHeaders;
      readonly body: unknown;
    }
  | { readonly ok: false; readonly reason: string };

/** Options of {@link getJson}. */
export interface GetJsonOptions {
  /** The deadline for the whole call, both tries included. */
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher;
}

/** GETs `url` with `headers`; a 5xx or a failed connection is tried once more within the same deadline. */
export async function getJson(
  url: string,
  headers: Readonly<Record<string, string>>,
  options: GetJsonOptions,
): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let answer = await getOnce(url, headers, signal, options.dispatcher);
  if (!signal.aborted && (answer.ok ? answer.status >= 500 : !answer.timedOut)) {
    answer = await getOnce(url, headers, signal, options.dispatcher);
  }
  if (answer.ok) return answer;
  return { ok: false, reason: answer.reason };
}

type Attempt =
  | Extract<HttpAnswer, { ok: true }>
  | { readonly ok: false; readonly reason: string; readonly timedOut: boolean };

async function getOnce(
  url: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
  dispatcher: Dispatcher | undefined,
): Promise<Attempt> {
  try {
    const response = await request(url, {
      method: 'GET',
      headers: { 'user-agent': 'rolecall', ...headers },
      signal,
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    const text = await response.body.text();
    return { ok: true, status: response.statusCode, headers: response.headers, body: parsed(text) };
  } catch (error) {
    if (signal.aborted) return { ok: false, reason: 'no answer in time', timedOut: true };
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, reason: `no answer (${code ?? (error as Error).name})`, timedOut: false };
  }
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A header's value as one string (undici gives an array for a repeated header). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether `value` is a plain object, for walking a JSON body without trusting its shape. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
