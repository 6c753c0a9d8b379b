import type { ScopeKind } from '../lib/scope.js';

/**
 * The grant ledger: why Rolecall holds a role for a person. Atlas is the truth about what is held;
 * the ledger says which requests hold it and until when. A role Rolecall added stays while any holder
 * remains and is removed when the last one ends; a role nobody in the ledger holds was not added by
 * Rolecall and is never removed by it. Pure decisions only: no Redis, no Atlas, no Slack.
 */

/** One reason Rolecall holds a role for a person: a request, and until when. */
export interface Holder {
  readonly requestId: string;
  /** End of the grant in ms since epoch; null = permanent. */
  readonly until: number | null;
}

/** A role together with one of its holders: "GROUP_DATA_ACCESS_READ_ONLY, held by AR-0002 until 18:00". */
export interface RoleHolder extends Holder {
  readonly role: string;
}

/** What Rolecall holds for one person on one org or project. */
export interface Ledger {
  readonly holders: readonly RoleHolder[];
  /** The request whose grant added the person to the project (temporary project membership), if any. */
  readonly membershipBy: string | null;
}

/** A person with no grants from Rolecall on a target. */
export const EMPTY_LEDGER: Ledger = { holders: [], membershipBy: null };

/** A change to one person's ledger on one target, written atomically with a request's state change. */
export type LedgerOp =
  | { readonly op: 'hold'; readonly role: string; readonly requestId: string; readonly until: number | null }
  | { readonly op: 'release'; readonly role: string; readonly requestId: string }
  /**
   * Moves a holder's end to `at` (End now, Revoke now): from then on it keeps the role for nobody
   * else (decideRevoke counts only active holders). A holder already released stays released.
   */
  | { readonly op: 'end'; readonly role: string; readonly requestId: string; readonly at: number }
  | { readonly op: 'membership'; readonly requestId: string | null };

/** True while a holder's grant has not ended (permanent holders never end on their own). */
export function isActive(holder: Holder, now: number): boolean {
  return holder.until === null || holder.until > now;
}

/** The holders of `role`, other than `except`, the longest-lasting first (permanent before any end). */
export function holdersOf(ledger: Ledger, role: string, except?: string): RoleHolder[] {
  return ledger.holders
    .filter((h) => h.role === role && h.requestId !== except)
    .sort((a, b) => (b.until ?? Number.POSITIVE_INFINITY) - (a.until ?? Number.POSITIVE_INFINITY));
}

/**
 * The holder that keeps `role` once `requestId` lets it go: another holder still inside its time,
 * the longest-lasting one; undefined when `requestId` was its last active holder (it goes).
 */
export function keeperOf(
  ledger: Ledger,
  role: string,
  requestId: string,
  now: number,
): RoleHolder | undefined {
  return holdersOf(ledger, role, requestId).find((h) => isActive(h, now));
}

/** The roles `requestId` holds in the ledger. */
export function rolesHeldBy(ledger: Ledger, requestId: string): string[] {
  return unique(ledger.holders.filter((h) => h.requestId === requestId).map((h) => h.role));
}

/**
 * Holders that Atlas contradicts: still active, held by another request, for a role the person no
 * longer has (someone removed it by hand). They are closed as drift so they keep nothing alive.
 */
export function findDrift(
  ledger: Ledger,
  current: readonly string[],
  now: number,
  except?: string,
): RoleHolder[] {
  const held = new Set(current);
  return ledger.holders.filter((h) => h.requestId !== except && isActive(h, now) && !held.has(h.role));
}

/** The ledger after some holders are gone. */
export function withoutHolders(ledger: Ledger, gone: readonly RoleHolder[]): Ledger {
  const drop = new Set(gone.map((h) => `${h.role} ${h.requestId}`));
  return { ...ledger, holders: ledger.holders.filter((h) => !drop.has(`${h.role} ${h.requestId}`)) };
}

/** How each requested role stands before a grant: what a new request for it would do. */
export type RoleStanding =
  | { readonly kind: 'new'; readonly role: string }
  /** Held only through Rolecall's temporary holders: asking again adds a longer (or permanent) holder. */
  | { readonly kind: 'temporary'; readonly role: string; readonly holders: readonly RoleHolder[] }
  /** Held through a permanent Rolecall grant: nothing to ask for. */
  | { readonly kind: 'permanent'; readonly role: string; readonly holders: readonly RoleHolder[] }
  /** Held, and no Rolecall holder explains it: it was there before, or someone added it by hand. */
  | { readonly kind: 'outside'; readonly role: string };

/**
 * Classifies each requested role against what the person holds in Atlas and in the ledger (`now` in
 * ms: a holder past its end counts as temporary, never as "outside Rolecall").
 */
export function roleStandingOf(
  roles: readonly string[],
  current: readonly string[],
  ledger: Ledger,
  now: number,
): RoleStanding[] {
  const held = new Set(current);
  return unique(roles).map((role): RoleStanding => {
    if (!held.has(role)) return { kind: 'new', role };
    // Holders past their end still explain the role: their revocation is on its way.
    const holders = holdersOf(ledger, role);
    if (holders.length === 0) return { kind: 'outside', role };
    return holders.some((h) => h.until === null && isActive(h, now))
      ? { kind: 'permanent', role, holders }
      : { kind: 'temporary', role, holders };
  });
}

/** Inputs of {@link decideApply}. */
export interface ApplyInput {
  readonly requestId: string;
  /** The roles the request asks for. */
  readonly roles: readonly string[];
  /** The person's roles in Atlas right now ([] when not in the project). */
  readonly current: readonly string[];
  readonly ledger: Ledger;
  /** Roles an earlier run of this request already decided to write (its stored plan). */
  readonly alreadyAdded: readonly string[];
  readonly now: number;
}

/** What applying a grant does, role by role. */
export interface ApplyDecision {
  /** Other requests' active holders whose role Atlas no longer has; closed as drift first. */
  readonly drifted: readonly RoleHolder[];
  /** Roles this request writes into Atlas (and owns from now on). */
  readonly add: readonly string[];
  /** Every role this request holds afterwards: what it adds, plus what it joins. */
  readonly hold: readonly string[];
  /** Roles Rolecall already holds through other requests; this one adds its own holder. */
  readonly joined: readonly RoleHolder[];
  /** Roles held outside Rolecall: nothing is added, nothing will be removed. */
  readonly outside: readonly string[];
  /** The person's roles in Atlas afterwards. */
  readonly next: readonly string[];
}

/** Decides how a grant lands: which roles to write, which to join, which to leave alone. */
export function decideApply(input: ApplyInput): ApplyDecision {
  const { requestId, current, now } = input;
  const drifted = findDrift(input.ledger, current, now, requestId);
  const ledger = withoutHolders(input.ledger, drifted);
  const inAtlas = new Set(current);
  const add: string[] = [];
  const hold: string[] = [];
  const joined: RoleHolder[] = [];
  const outside: string[] = [];
  for (const role of unique(input.roles)) {
    const others = holdersOf(ledger, role, requestId);
    if (input.alreadyAdded.includes(role)) {
      hold.push(role);
      if (!inAtlas.has(role)) add.push(role);
    } else if (!inAtlas.has(role)) {
      hold.push(role);
      add.push(role);
    } else if (others.length > 0) {
      hold.push(role);
      joined.push(others[0] as RoleHolder);
    } else {
      outside.push(role);
    }
  }
  return { drifted, add, hold, joined, outside, next: unique([...current, ...add]) };
}

/** Inputs of {@link decideRevoke}. */
export interface RevokeInput {
  readonly requestId: string;
  readonly kind: ScopeKind;
  /** The person's roles in Atlas right now ([] when not in the project). */
  readonly current: readonly string[];
  readonly ledger: Ledger;
  /** Roles an earlier run of this revocation already decided to remove (its stored plan). */
  readonly alreadyRemoving: readonly string[];
  readonly now: number;
}

/** What ending a grant does, role by role. */
export interface RevokeDecision {
  /** The roles whose holder for this request goes away: every role it held. */
  readonly release: readonly string[];
  /** Roles to remove from Atlas now: this request was their last holder. */
  readonly remove: readonly string[];
  /** Roles this revocation removed from Atlas, including those an interrupted earlier run removed. */
  readonly removed: readonly string[];
  /** Roles that stay, each with the active holder that keeps it the longest. */
  readonly kept: readonly RoleHolder[];
  /** Roles this request held that Atlas no longer had (removed by hand, or with another grant's end). */
  readonly gone: readonly string[];
  /** Other requests' active holders whose role Atlas no longer has; closed as drift. */
  readonly drifted: readonly RoleHolder[];
  /** The person's roles in Atlas afterwards. */
  readonly next: readonly string[];
  /** The last holder ended and Rolecall had added the person to the project: remove them from it. */
  readonly leaveProject: boolean;
}

/** Decides how a grant ends: which roles go, which stay and why. */
export function decideRevoke(input: RevokeInput): RevokeDecision {
  const { requestId, current, now } = input;
  const drifted = findDrift(input.ledger, current, now, requestId);
  const ledger = withoutHolders(input.ledger, drifted);
  const inAtlas = new Set(current);
  const release = rolesHeldBy(ledger, requestId);
  const remove: string[] = [];
  const removed: string[] = [];
  const kept: RoleHolder[] = [];
  const gone: string[] = [];
  for (const role of release) {
    if (!inAtlas.has(role)) {
      (input.alreadyRemoving.includes(role) ? removed : gone).push(role);
      continue;
    }
    // Only holders still inside their time keep a role; one past its end is being revoked itself.
    const keeper = keeperOf(ledger, role, requestId, now);
    if (keeper) {
      kept.push(keeper);
    } else {
      remove.push(role);
      removed.push(role);
    }
  }
  const next = current.filter((role) => !remove.includes(role));
  const leaveProject =
    input.kind === 'project' && ledger.membershipBy !== null && remove.length > 0 && next.length === 0;
  return { release, remove, removed, kept, gone, drifted, next, leaveProject };
}

/**
 * The ledger ops that end a request's holders (and drop the membership marker when nothing is left
 * that needs it: the person left the project, or nobody holds anything through Rolecall any more).
 */
export function releaseOps(ledger: Ledger, requestId: string, roles: readonly string[]): LedgerOp[] {
  const ops: LedgerOp[] = roles.map((role) => ({ op: 'release', role, requestId }));
  const left = ledger.holders.filter((h) => !(h.requestId === requestId && roles.includes(h.role)));
  if (ledger.membershipBy !== null && left.length === 0) ops.push({ op: 'membership', requestId: null });
  return ops;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
