import type { LedgerStore } from '../grants/ledger-store.js';
import type { RequestReader } from './request-reader.js';
import { isFinal } from './state-machine.js';

/** Grants past their end that Rolecall has not revoked yet, by the state their request is in. */
export interface OverduePart {
  readonly state: string;
  readonly count: number;
  /** The earliest end among them, ms since epoch. */
  readonly oldestEndAt: number;
}

/** What the metrics report about access that should have ended (plain values, read at scrape time). */
export interface OverdueGrants {
  /** Grants past their end (or their early end) still held by Rolecall's ledger, by request state. */
  readonly pastEnd: readonly OverduePart[];
  /** Revocations failing now (revoke_failed) and when the oldest of them first failed, ms since epoch. */
  readonly failing: { readonly count: number; readonly oldestSince: number | null };
}

/**
 * Reads the grants whose end has passed and whose request is not final yet (the ending index holds a
 * grant until its revocation lands, `grants:ending`), the oldest `limit` of them: how many, in which
 * state, since when, and the revocations among them that keep failing. Index entries whose request is
 * gone or final are left to reconciliation, which drops them.
 */
export async function readOverdueGrants(
  deps: { readonly ledgers: Pick<LedgerStore, 'listEnded'>; readonly store: Pick<RequestReader, 'get'> },
  now: number,
  limit = 200,
): Promise<OverdueGrants> {
  const ended = await deps.ledgers.listEnded(now, limit);
  const requests = await Promise.all(ended.map(({ requestId }) => deps.store.get(requestId)));
  const parts = new Map<string, { count: number; oldestEndAt: number }>();
  let failing = 0;
  let oldestSince: number | null = null;
  ended.forEach(({ until }, i) => {
    const request = requests[i];
    if (!request || isFinal(request.state)) return;
    const part = parts.get(request.state);
    parts.set(request.state, {
      count: (part?.count ?? 0) + 1,
      oldestEndAt: Math.min(part?.oldestEndAt ?? until, until),
    });
    if (request.state !== 'revoke_failed') return;
    failing += 1;
    const since = request.revokeTrouble?.since ?? until;
    oldestSince = oldestSince === null ? since : Math.min(oldestSince, since);
  });
  return {
    pastEnd: [...parts].map(([state, part]) => ({ state, ...part })),
    failing: { count: failing, oldestSince },
  };
}
