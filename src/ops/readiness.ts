/**
 * `GET /readyz`: whether this process should get traffic. Live checks (Redis, the policy) run on
 * every probe; slow ones that call Slack or Atlas run at start and every `intervalMs`, and the probe
 * reads their last result, so a load balancer's probes never reach Slack or Atlas.
 */

/** One check: resolves with a short detail when it passes, throws (message shown) when it fails. */
export interface ReadinessCheck {
  readonly name: string;
  readonly run: () => Promise<string | undefined>;
  /** Run every `intervalMs` in the background instead of on every probe (Slack, Atlas). */
  readonly periodic?: boolean;
}

/** The state of one check as /readyz shows it. */
export interface CheckState {
  readonly ok: boolean;
  readonly detail?: string;
  /** When a periodic check last ran (ISO 8601). */
  readonly checkedAt?: string;
}

/** What /readyz answers: 200 when `ready`, else 503 with the failing checks named. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly body: {
    readonly status: 'ready' | 'unavailable' | 'stopping';
    readonly checks: Readonly<Record<string, CheckState>>;
    readonly failing?: readonly string[];
    readonly [extra: string]: unknown;
  };
}

/** Options for {@link createReadiness}. */
export interface ReadinessOptions {
  /** How often periodic checks run, in ms. @defaultValue 60_000 */
  readonly intervalMs?: number;
  /** A live check slower than this fails, in ms. @defaultValue 2_000 */
  readonly timeoutMs?: number;
  /** Shown in every report besides the checks (e.g. `{ dryRun: true }`). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Readiness of one process. */
export interface Readiness {
  report(): Promise<ReadinessReport>;
  /** Runs the periodic checks once now, then every interval. */
  start(): Promise<void>;
  /** From now on /readyz answers 503 `stopping` (first step of a shutdown). */
  markStopping(): void;
  /** Stops the periodic checks. */
  close(): void;
}

/** Creates the readiness of a process from its checks. */
export function createReadiness(
  checks: readonly ReadinessCheck[],
  options: ReadinessOptions = {},
): Readiness {
  const intervalMs = options.intervalMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const periodic = new Map<string, CheckState>(
    checks.filter((c) => c.periodic).map((c) => [c.name, { ok: false, detail: 'not checked yet' }]),
  );
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;

  const attempt = async (check: ReadinessCheck): Promise<CheckState> => {
    let timeout: NodeJS.Timeout | undefined;
    try {
      const detail = await Promise.race([
        check.run(),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return detail === undefined ? { ok: true } : { ok: true, detail };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timeout);
    }
  };
  const runPeriodic = async () => {
    await Promise.all(
      checks
        .filter((c) => c.periodic)
        .map(async (check) => {
          periodic.set(check.name, { ...(await attempt(check)), checkedAt: new Date().toISOString() });
        }),
    );
  };

  return {
    async report() {
      const states: Record<string, CheckState> = {};
      await Promise.all(
        checks.map(async (check) => {
          states[check.name] = check.periodic
            ? (periodic.get(check.name) ?? { ok: false })
            : await attempt(check);
        }),
      );
      const failing = checks.map((c) => c.name).filter((name) => !states[name]?.ok);
      const extra = options.extra ?? {};
      if (stopping) return { ready: false, body: { ...extra, status: 'stopping', checks: states } };
      return failing.length === 0
        ? { ready: true, body: { ...extra, status: 'ready', checks: states } }
        : { ready: false, body: { ...extra, status: 'unavailable', checks: states, failing } };
    },
    async start() {
      await runPeriodic();
      timer = setInterval(() => void runPeriodic(), intervalMs);
      timer.unref();
    },
    markStopping() {
      stopping = true;
    },
    close() {
      clearInterval(timer);
    },
  };
}
