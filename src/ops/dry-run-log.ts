import { correlationFields } from './correlation.js';

/**
 * ATLAS_DRY_RUN: the Atlas writes a dry run did not send, kept per request (the correlation id of
 * the job that tried them) until the job that made them takes them for its audit entry and message.
 */
export interface DryRunLog {
  /** Records a write the Atlas client did not send. */
  record(write: { readonly method: string; readonly path: string; readonly body: unknown }): void;
  /** The writes recorded for `requestId`, as `METHOD path body` lines, and forgets them. */
  take(requestId: string): string[];
}

/** An in-memory dry-run log (each worker process keeps its own jobs' writes). */
export function createDryRunLog(): DryRunLog {
  const writes = new Map<string, string[]>();
  return {
    record(write) {
      const id = correlationFields().requestId ?? 'unknown';
      const line = `${write.method} ${write.path}${write.body === undefined ? '' : ` ${JSON.stringify(write.body)}`}`;
      const known = writes.get(id) ?? [];
      // The same write tried again (a retried call or job) is one write that was not sent.
      if (!known.includes(line)) writes.set(id, [...known, line]);
      // Writes nobody takes (work outside a job) must not pile up in a long-running worker.
      if (writes.size > 1_000) writes.delete(writes.keys().next().value ?? id);
    },
    take(requestId) {
      const found = writes.get(requestId) ?? [];
      writes.delete(requestId);
      return found;
    },
  };
}
