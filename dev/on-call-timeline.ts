import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** From `from` (ms since epoch) until the next shift's `from`, these people are on call. */
export interface Shift {
  readonly from: number;
  readonly emails: readonly string[];
}

/** A shift with its end: null while it is the last one (nobody is scheduled after it). */
export interface TimedShift extends Shift {
  readonly until: number | null;
}

/** One request a simulator received, and what it answered. */
export interface RecordedOnCallCall {
  readonly method: string;
  readonly path: string;
  /** Every query parameter with all its values, in order (`schedule_ids[]` may repeat). */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly accept: string | undefined;
  /** Whether the Authorization header carried the configured credential. */
  readonly authorized: boolean;
  /** The status answered; 0 when the connection was dropped. */
  readonly status: number;
  readonly at: number;
}

/** How a simulated provider fails: a 500 to every call, or every connection dropped unanswered. */
export type Outage = 'error' | 'drop';

/** Who is on call for each schedule over time; `set` starts a new shift and keeps the old ones. */
export class OnCallTimeline {
  readonly #shifts = new Map<string, Shift[]>();

  /** Puts `emails` on call for `scheduleId` from `at` on (now by default), ending the shift before. */
  set(scheduleId: string, emails: readonly string[], at = Date.now()): void {
    const shifts = this.#shifts.get(scheduleId) ?? [];
    shifts.push({ from: at, emails: [...emails] });
    shifts.sort((a, b) => a.from - b.from);
    this.#shifts.set(scheduleId, shifts);
  }

  /** Every shift of a schedule, oldest first, with its end. */
  history(scheduleId: string): TimedShift[] {
    const shifts = this.#shifts.get(scheduleId) ?? [];
    return shifts.map((shift, i) => ({ ...shift, until: shifts[i + 1]?.from ?? null }));
  }

  /** The shifts that overlap [since, until]: a shift counts when it started by `until` and had not ended at `since`. */
  overlapping(scheduleId: string, since: number, until: number): TimedShift[] {
    return this.history(scheduleId).filter(
      (shift) => shift.from <= until && (shift.until === null || shift.until > since),
    );
  }
}

/** The scripted failures every simulated provider offers: 429s, an outage, slowness. */
export class FailureScript {
  #rateLimited = 0;
  outage: Outage | undefined;
  /** Every answer waits this long first (a provider slower than the client's deadline). */
  delayMs = 0;

  /** The next `times` calls are answered 429. */
  rateLimit(times = 1): void {
    this.#rateLimited += times;
  }

  /** Whether this call is one of the scripted 429s (and counts it). */
  takeRateLimit(): boolean {
    if (this.#rateLimited === 0) return false;
    this.#rateLimited--;
    return true;
  }
}

/** The query string as name → every value. */
export function queryOf(url: URL): Record<string, string[]> {
  const query: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) query[name] = [...(query[name] ?? []), value];
  return query;
}

/** Waits the script's delay, then runs the outage if there is one; true when the call was answered by it. */
export async function answeredByOutage(
  script: FailureScript,
  req: IncomingMessage,
  res: ServerResponse,
  internalError: () => void,
): Promise<boolean> {
  if (script.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, script.delayMs));
  if (script.outage === 'drop') {
    req.socket.destroy();
    return true;
  }
  if (script.outage === 'error') {
    internalError();
    return true;
  }
  return res.writableEnded;
}

/** What both provider simulators give a test: their URL, what they were asked, their timeline, failures. */
export interface OnCallSimulator {
  /** Base URL to use as PAGERDUTY_API_URL / OPSGENIE_API_URL. */
  readonly apiUrl: string;
  readonly calls: readonly RecordedOnCallCall[];
  /** Puts these people on call for the schedule from now (or `at`) on; earlier shifts are kept. */
  setOnCall(scheduleId: string, emails: readonly string[], at?: number): void;
  /** Every shift of a schedule, oldest first. */
  history(scheduleId: string): readonly TimedShift[];
  /** The next `times` calls are answered 429, saying to wait `seconds` (each provider its own way). */
  rateLimit(times?: number, seconds?: number): void;
  /** An outage until set back to undefined: 500s (`error`) or dropped connections (`drop`). */
  outage: Outage | undefined;
  /** Every answer is delayed this long (a slow provider). */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * Serves a provider simulator's `handle` on a local port (`fail` answers a request it threw on) and
 * gives the controls both providers share; `setRetrySeconds` receives the wait a 429 announces.
 */
export async function serveOnCallSimulator(
  port: number | undefined,
  handle: (req: IncomingMessage, res: ServerResponse, base: string) => Promise<void>,
  fail: (res: ServerResponse, message: string) => void,
  parts: {
    readonly calls: readonly RecordedOnCallCall[];
    readonly timeline: OnCallTimeline;
    readonly script: FailureScript;
    readonly setRetrySeconds: (seconds: number) => void;
  },
): Promise<OnCallSimulator> {
  let base = '';
  const server = createServer((req, res) => {
    handle(req, res, base).catch((err: unknown) => {
      if (!res.headersSent) fail(res, String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(port ?? 0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { calls, timeline, script } = parts;
  return {
    apiUrl: base,
    calls,
    setOnCall: (scheduleId, emails, at) => timeline.set(scheduleId, emails, at),
    history: (scheduleId) => timeline.history(scheduleId),
    rateLimit: (times = 1, seconds = 1) => {
      parts.setRetrySeconds(seconds);
      script.rateLimit(times);
    },
    get outage() {
      return script.outage;
    },
    set outage(value) {
      script.outage = value;
    },
    get delayMs() {
      return script.delayMs;
    },
    set delayMs(value) {
      script.delayMs = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
