import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The correlation id of the work in progress (a request, review or offboarding id), carried through
 * async calls with AsyncLocalStorage: set where work starts (a Slack payload naming a request, a
 * BullMQ job), read by the logger, so every line of that work, its Atlas calls included, carries it.
 */
const current = new AsyncLocalStorage<{ readonly requestId: string }>();

/** Runs `work` with `requestId` as its correlation id (no id: runs it as it is). */
export function withCorrelation<T>(requestId: string | undefined, work: () => T): T {
  return requestId === undefined || requestId === '' ? work() : current.run({ requestId }, work);
}

/** The fields to add to a log line: `{ requestId }` inside correlated work, else nothing. */
export function correlationFields(): { requestId?: string } {
  const store = current.getStore();
  return store ? { requestId: store.requestId } : {};
}
