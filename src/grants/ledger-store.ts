import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { AtlasScope } from '../lib/scope.js';
import type { Ledger, LedgerOp, RoleHolder } from './ledger.js';

/**
 * Ledger changes that ride along with a request's state change, so both land in one Lua script.
 * Built by the workers under the person's Atlas write lock.
 */
export interface LedgerWrite {
  /** The person's Atlas username (email); keys use it in lower case. */
  readonly email: string;
  readonly target: AtlasScope;
  readonly ops: readonly LedgerOp[];
  /** The request's place in the ending index: its end in ms, or null to drop it; omitted = unchanged. */
  readonly ending?: { readonly requestId: string; readonly at: number | null };
}

/** A ledger write as plain hash and sorted-set commands, for the transition script. */
export interface EncodedLedgerWrite {
  readonly key: string;
  readonly hset: readonly (readonly [string, string])[];
  readonly hdel: readonly string[];
  /** Fields set only where they exist already (a holder's end moved, never a released one back). */
  readonly shorten: readonly (readonly [string, string])[];
  readonly ending?: { readonly member: string; readonly score: string | null };
}

/** One holder that has outlived its end: the request and the person it holds roles for. */
export interface EndedHolding {
  readonly requestId: string;
  /** The end it passed, ms since epoch. */
  readonly until: number;
}

/** Reads the ledger (writes go with a request's own, through requests/lifecycle.ts and the request writer). */
export interface LedgerStore {
  read(email: string, target: AtlasScope): Promise<Ledger>;
  /** Requests whose temporary grant ended before `before` (ms) and are still in the ending index, oldest first. */
  listEnded(before: number, limit: number): Promise<EndedHolding[]>;
}

const HOLD = 'hold:';
const MEMBERSHIP = 'membership';
const PERMANENT = 'permanent';

/** Hash layout: `hold:<ROLE or team:NAME>:<request id>` = end in ms or `permanent`; `membership` = request id. */
export function encodeLedgerWrite(keys: RedisKeys, write: LedgerWrite): EncodedLedgerWrite {
  const hset: [string, string][] = [];
  const hdel: string[] = [];
  const shorten: [string, string][] = [];
  for (const op of write.ops) {
    switch (op.op) {
      case 'hold':
        hset.push([`${HOLD}${op.role}:${op.requestId}`, op.until === null ? PERMANENT : String(op.until)]);
        break;
      case 'release':
        hdel.push(`${HOLD}${op.role}:${op.requestId}`);
        break;
      case 'end':
        shorten.push([`${HOLD}${op.role}:${op.requestId}`, String(op.at)]);
        break;
      case 'membership':
        if (op.requestId === null) hdel.push(MEMBERSHIP);
        else hset.push([MEMBERSHIP, op.requestId]);
        break;
    }
  }
  return {
    key: keys.ledger(write.target.kind, write.target.id, write.email),
    hset,
    hdel,
    shorten,
    ...(write.ending
      ? {
          ending: {
            member: write.ending.requestId,
            score: write.ending.at === null ? null : String(write.ending.at),
          },
        }
      : {}),
  };
}

/** Parses a ledger hash. */
export function decodeLedger(hash: Readonly<Record<string, string>>): Ledger {
  const holders: RoleHolder[] = [];
  for (const [field, value] of Object.entries(hash)) {
    if (!field.startsWith(HOLD)) continue;
    // The request id is after the last ':' (an item such as `team:oncall` has one of its own).
    const rest = field.slice(HOLD.length);
    const cut = rest.lastIndexOf(':');
    const role = rest.slice(0, cut);
    const requestId = rest.slice(cut + 1);
    holders.push({ role, requestId, until: value === PERMANENT ? null : Number(value) });
  }
  holders.sort((a, b) => a.role.localeCompare(b.role) || a.requestId.localeCompare(b.requestId));
  return { holders, membershipBy: hash[MEMBERSHIP] ?? null };
}

/** Creates the ledger reader. */
export function createLedgerStore(redis: RedisClient, keys: RedisKeys): LedgerStore {
  return {
    async read(email, target) {
      return decodeLedger(await redis.hgetall(keys.ledger(target.kind, target.id, email)));
    },
    async listEnded(before, limit) {
      const flat = await redis.zrangebyscore(
        keys.grantsEnding,
        '-inf',
        before,
        'WITHSCORES',
        'LIMIT',
        0,
        limit,
      );
      const out: EndedHolding[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        out.push({ requestId: flat[i] as string, until: Number(flat[i + 1]) });
      return out;
    },
  };
}
