import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * How urgent the Atlas calls made inside {@link withCallPriority} are, for the rate bucket
 * (rate-limiter.ts): when tokens are short, the waiter with the earliest deadline goes first.
 * - `revocation`: access that must end; its deadline is `due`, when the grant ends (ms since the
 *   epoch), so a revocation past its end goes before reads and new grants, earliest end first.
 * - `normal`: everything else; its deadline is its first try plus the limiter's `maxDeferMs`.
 *
 * `onWait` is told, once per token, when a call is about to wait longer than the limiter's
 * `waitNoticeMs` for it, with the whole expected wait in ms (a log line, a metric): it must not throw.
 */
export type CallPriority = (
  | { readonly kind: 'revocation'; readonly due: number }
  | { readonly kind: 'normal' }
) & { readonly onWait?: (ms: number) => void };

const NORMAL: CallPriority = { kind: 'normal' };
const storage = new AsyncLocalStorage<CallPriority>();

/** Runs `work` with its Atlas calls (and everything they await) under `priority`. */
export function withCallPriority<T>(priority: CallPriority, work: () => Promise<T>): Promise<T> {
  return storage.run(priority, work);
}

/** The priority of the Atlas call being made now: the innermost {@link withCallPriority}, else normal. */
export function currentCallPriority(): CallPriority {
  return storage.getStore() ?? NORMAL;
}
