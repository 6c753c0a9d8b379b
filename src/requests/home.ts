import type { Actor } from '../access/actions.js';
import { authorize } from '../access/authorize.js';
import type { PolicyGate } from '../access/policy-gate.js';
import { AppError } from '../errors.js';
import type { Membership, Policy } from '../policy/policy.js';
import type { AccessRequest } from './model.js';
import type { RequestReader } from './request-reader.js';

import { isFinal } from './state-machine.js';

/** The reads the Home tab makes. */
type HomeReads = Pick<RequestReader, 'listPending' | 'listByGrantee' | 'listByRequester' | 'listDecidedBy'>;

/** How far back "Your requests" reaches, in ms: 14 days. */
export const RECENT_MS = 14 * 24 * 3600 * 1000;

/** What Rolecall's Home tab shows a person; a view of the store, never a source of truth. */
export interface HomeData {
  /** Grants they hold through Rolecall now (applied, or still being removed), newest first. */
  readonly grants: readonly AccessRequest[];
  /**
   * Their requests, and requests someone else made for them, not finished yet or finished in the last
   * 14 days, newest first.
   */
  readonly requests: readonly AccessRequest[];
  /** Pending requests they may decide and have not approved yet, oldest first (approvers only). */
  readonly toDecide: readonly AccessRequest[];
  /** The last 10 requests they decided on, latest first. */
  readonly decided: readonly AccessRequest[];
  /** The policy it was read under, for what each pending request needs. */
  readonly policy: Policy;
}

/** Pending requests `actor` may approve now and has not approved yet, oldest first. */
export async function listToDecide(
  store: Pick<RequestReader, 'listPending'>,
  actor: Actor,
  policy: Policy,
  members: Membership,
): Promise<AccessRequest[]> {
  return (await store.listPending(policy.targets.map((t) => t.id))).filter(
    (r) =>
      authorize('approve', actor, { request: r }, policy, members).allowed &&
      !r.approvals.some((a) => a.by === actor.id),
  );
}

/**
 * Reads a person's Home: under the policy in force, for members and guests (anyone else gets
 * NOT_ALLOWED). Used by the bot when the tab is opened and by workers when something changed.
 */
export async function readHome(
  deps: { readonly store: HomeReads; readonly gate: PolicyGate; readonly now?: () => number },
  actor: Actor,
): Promise<HomeData> {
  const { verdict, policy, members } = await deps.gate.ask('list', actor, null);
  if (!verdict.allowed) throw new AppError(verdict.code, verdict.reason);
  const since = (deps.now ?? Date.now)() - RECENT_MS;
  const [held, asked, toDecide, decided] = await Promise.all([
    deps.store.listByGrantee(actor.id, 100),
    deps.store.listByRequester(actor.id, 100),
    listToDecide(deps.store, actor, policy, members),
    deps.store.listDecidedBy(actor.id, 10),
  ]);
  return {
    grants: held.filter(
      (r) =>
        r.extends === null &&
        ['applied', 'revoking', 'revoke_failed'].includes(r.state) &&
        (r.grant?.held.length ?? 0) > 0,
    ),
    requests: [...asked, ...held.filter((r) => r.requesterId !== actor.id)]
      .filter((r) => !isFinal(r.state) || r.updatedAt >= since)
      .sort((a, b) => b.createdAt - a.createdAt || b.id.localeCompare(a.id, 'en', { numeric: true })),
    toDecide,
    decided,
    policy,
  };
}
