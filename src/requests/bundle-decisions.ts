import type { Action, Actor } from '../access/actions.js';
import type { Permit } from '../access/policy-gate.js';
import { AppError, isAppError } from '../errors.js';
import { requirementsAt } from '../policy/policy.js';
import { countApproval, deciderCheck } from './approval-count.js';
import { bundleEndOf, DECIDED_APPROVED, STOPPED_BEFORE_DECISION } from './bundle.js';
import type { BundlePartRef, BundleRef } from './bundle-ref.js';
import type { createDecisions } from './decisions.js';
import type { createFiling } from './filing.js';
import type { AccessRequest } from './model.js';
import { approverOnCallNote } from './on-call-approver.js';
import type { ExtensionAsk, RequestServiceDeps } from './service-deps.js';
import { conflictError, STATE_WORDS } from './state-machine.js';

/** The single-request moves a bundle's are built on (and fall back to for a request of its own). */
type Plain = ReturnType<typeof createDecisions> & Pick<ReturnType<typeof createFiling>, 'extend'>;

/** A part of a bundle as stored now; undefined when it was never stored (a filing cut short). */
interface StoredPart {
  readonly ref: BundlePartRef;
  readonly request: AccessRequest | undefined;
}

/** "AR-2 (ORG_READ_ONLY, team:oncall on acme)". */
function partWords(ref: BundlePartRef): string {
  return `${ref.id} (${ref.items.join(', ')} on ${ref.target})`;
}

/**
 * Deciding and acting on a bundle (`request bundle:NAME`): one decision decides every part, by someone
 * allowed to approve (or deny) every part, checked on all of them before any moves; rules that need
 * several approvals keep counting per part, and the bundle is approved once every part has what it
 * needs (the strictest holds). Every part is approved with the same decision time, so every part ends
 * at that time plus the duration however late it is applied or retried. Cancel and End now act on every
 * part; a failed part is retried alone, and only while the bundle's time lasts. A request of its own
 * goes to the plain moves.
 */
export function createBundleDecisions(deps: RequestServiceDeps, plain: Plain) {
  const { store, lifecycle, gate } = deps;
  const now = deps.now ?? Date.now;

  const partsOf = (request: AccessRequest, bundle: BundleRef): Promise<StoredPart[]> =>
    Promise.all(
      bundle.parts.map(async (ref) => ({
        ref,
        request: ref.id === request.id ? request : await store.get(ref.id),
      })),
    );

  /** Asks the gate about one part; a refusal says the bundle is decided as a whole and names the part. */
  const requirePart = async (
    action: Action,
    actor: Actor,
    part: AccessRequest,
    bundle: BundleRef,
    extra: { readonly grantee?: Awaited<ReturnType<RequestServiceDeps['directory']['person']>> } = {},
  ): Promise<Permit> => {
    try {
      return await gate.require(action, actor, { request: part, ...extra });
    } catch (error) {
      if (!isAppError(error)) throw error;
      const ref = bundle.parts.find((p) => p.id === part.id);
      throw new AppError(
        error.code,
        `Bundle ${bundle.name} is decided as a whole, so only someone allowed on every part may. Part ${ref ? partWords(ref) : part.id}: ${error.message}`,
        { details: error.details },
      );
    }
  };

  /**
   * A part that stopped the bundle before it was approved (denied, cancelled, expired, refused, never
   * stored): the bundle cannot go ahead, so its parts still waiting are withdrawn and this throws why.
   */
  const stopIfBroken = async (bundle: BundleRef, parts: readonly StoredPart[]): Promise<void> => {
    const missing = parts.find((p) => p.request === undefined);
    const stopped = parts.find((p) => p.request && STOPPED_BEFORE_DECISION.includes(p.request.state));
    if (!missing && !stopped) return;
    const why = missing
      ? `part ${partWords(missing.ref)} was never stored (Rolecall stopped while filing it)`
      : `part ${stopped ? partWords(stopped.ref) : ''} ${stopped?.request ? STATE_WORDS[stopped.request.state].after : ''}`;
    for (const { request } of parts) {
      if (request && (request.state === 'pending' || request.state === 'submitted')) {
        await lifecycle.withdrawn(
          request.id,
          ['pending', 'submitted'],
          `cancelled: ${why}; bundle ${bundle.name} goes ahead only as a whole`,
        );
      }
    }
    throw new AppError(
      'REQUEST_STATE_CONFLICT',
      `Bundle ${bundle.name} cannot go ahead: ${why}. Nothing was approved; ask for the bundle again.`,
    );
  };

  /**
   * A part approved already means the bundle was decided (a concurrent Approve, or one cut short that
   * the next Approve finishes): the rest can no longer be denied or cancelled, or it would go half.
   */
  const requireUndecided = (parts: readonly StoredPart[]): void => {
    const decided = parts.find((p) => p.request && DECIDED_APPROVED.includes(p.request.state))?.request;
    if (decided) throw conflictError(decided);
  };

  /** Every part waiting for the decision, once none is still being checked against Atlas. */
  const pendingParts = (bundle: BundleRef, parts: readonly StoredPart[]): AccessRequest[] => {
    const checking = parts.find((p) => p.request?.state === 'submitted');
    if (checking) {
      throw new AppError(
        'REQUEST_STATE_CONFLICT',
        `Part ${partWords(checking.ref)} of bundle ${bundle.name} is still being checked against Atlas; decide in a moment, once its message is posted.`,
      );
    }
    return parts.flatMap((p) => (p.request?.state === 'pending' ? [p.request] : []));
  };

  /** The bundle's approval: every part at once when each has what it needs, else a counted approval on each. */
  const approveBundle = async (
    first: AccessRequest,
    bundle: BundleRef,
    actor: Actor,
  ): Promise<AccessRequest> => {
    const initial = await partsOf(first, bundle);
    await stopIfBroken(bundle, initial);
    const open = pendingParts(bundle, initial);
    if (open.length === 0) throw conflictError(first);
    // Allowed on every part, under the policy in force, before any part moves.
    const grantee = await deps.directory.person(first.granteeId);
    const rules = new Map<
      string,
      { needed: number; stillDecides: (userId: string) => boolean; alone: string | null }
    >();
    let version = '';
    for (const part of open) {
      const { target, members, policy } = await requirePart('approve', actor, part, bundle, { grantee });
      if (!target) throw conflictError(part);
      const needs = requirementsAt(target, part, now());
      const stillDecides = deciderCheck(part, needs, members);
      const alone = stillDecides(actor.id) ? await approverOnCallNote(deps, target, part.roles, actor) : null;
      rules.set(part.id, { needed: needs.approvals, stillDecides, alone });
      version = policy.version;
    }
    let noted = false;
    for (let round = 0; round < 20; round += 1) {
      const parts = round === 0 ? initial : await partsOf(await store.require(first.id), bundle);
      const stopped = parts.find(
        (p) => p.request === undefined || STOPPED_BEFORE_DECISION.includes(p.request.state),
      );
      if (stopped?.request) throw conflictError(stopped.request);
      const pending = parts.flatMap((p) =>
        p.request?.state === 'pending' && rules.has(p.ref.id) ? [p.request] : [],
      );
      if (pending.length === 0) return store.require(first.id);
      // A part approved already (a concurrent click, or a decision cut short): the bundle was decided then.
      const decided = parts.find((p) => p.request && DECIDED_APPROVED.includes(p.request.state))?.request;
      const counts = pending.map((part) => {
        const rule = rules.get(part.id);
        if (!rule) throw new AppError('INTERNAL', `no rule for ${part.id}`);
        return countApproval(part, actor.id, rule, now());
      });
      const detailOf = (detail: string) =>
        [`bundle ${bundle.name}, decided as a whole`, detail].filter((d) => d !== '').join('; ');
      if (decided !== undefined || counts.every((c) => c.complete)) {
        // One decision on every part: a bundle decided already (a concurrent click that wrote a part
        // first, or a decision cut short) keeps its decider and time, so every part ends together.
        const earlier = decided?.decision ?? null;
        const byOther = earlier !== null && earlier.by !== actor.id;
        const at = now();
        let lost = false;
        for (const [i, part] of pending.entries()) {
          const count = counts[i];
          if (!count) continue;
          const decision = earlier ?? { ...count.approval, at };
          const approvals = byOther
            ? [...count.counted.filter((a) => a.by !== earlier.by), earlier]
            : count.approvals;
          const moved = await lifecycle.approve(part.id, {
            actor: actor.id,
            detail: detailOf(byOther ? `completes the decision of ${earlier.by}` : count.detail),
            expect: { approvals: part.approvals },
            policyVersion: version,
            patch: { approvals, decision },
          });
          if (!moved.ok) {
            lost = true;
            break;
          }
        }
        if (lost) continue;
        // Decided by someone else first: told so, as for a request of its own.
        if (byOther && decided) throw conflictError(decided);
        return store.require(first.id);
      }
      if (noted) return store.require(first.id);
      if (counts.every((c) => c.mine)) {
        const needed = Math.max(...[...rules.values()].map((r) => r.needed));
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `You have already approved bundle ${bundle.name}; it needs ${needed} approvals from different people on every part.`,
        );
      }
      let lost = false;
      for (const [i, part] of pending.entries()) {
        const count = counts[i];
        if (!count || count.mine) continue;
        const result = await lifecycle.approval(
          part.id,
          {
            actor: actor.id,
            detail: detailOf(count.detail),
            expect: { approvals: part.approvals },
            policyVersion: version,
            patch: { approvals: count.approvals },
          },
          count.approvals.length,
        );
        if (!result.ok) {
          lost = true;
          break;
        }
      }
      // Read again: a concurrent approval may have completed every part.
      if (!lost) noted = true;
    }
    throw new AppError(
      'STORAGE_UNAVAILABLE',
      `Too many approvals of bundle ${bundle.name} at once; press Approve again.`,
      {
        retryable: true,
      },
    );
  };

  /** The parts a decision acts on, each allowed for `actor` (checked on all first). */
  const checkCanDecideBundle = async (
    first: AccessRequest,
    bundle: BundleRef,
    actor: Actor,
    action: 'deny',
  ) => {
    const parts = await partsOf(first, bundle);
    requireUndecided(parts);
    await stopIfBroken(bundle, parts);
    const open = pendingParts(bundle, parts);
    if (open.length === 0) throw conflictError(first);
    for (const part of open) await requirePart(action, actor, part, bundle);
    return open;
  };

  return {
    /** Throws unless `actor` may decide on the request now (on every part of a bundle); returns it. */
    async checkCanDecide(id: string, actor: Actor): Promise<AccessRequest> {
      const first = await store.require(id);
      if (first.bundle === null) return plain.checkCanDecide(id, actor);
      await checkCanDecideBundle(first, first.bundle, actor, 'deny');
      return first;
    },

    /** Counts an approval; a bundle's decides every part at once (see above). */
    async approve(id: string, actor: Actor): Promise<AccessRequest> {
      const first = await store.require(id);
      if (first.bundle === null) return plain.approve(id, actor);
      return approveBundle(first, first.bundle, actor);
    },

    /** pending -> denied, with the approver's reason; every part of a bundle. */
    async deny(id: string, actor: Actor, reason: string): Promise<AccessRequest> {
      const first = await store.require(id);
      if (first.bundle === null) return plain.deny(id, actor, reason);
      const open = await checkCanDecideBundle(first, first.bundle, actor, 'deny');
      const at = now();
      for (const part of open) {
        const result = await lifecycle.deny(part.id, {
          actor: actor.id,
          detail: `${reason} (bundle ${first.bundle.name}, decided as a whole)`,
          patch: { decision: { by: actor.id, at, note: reason } },
          policyVersion: deps.policy().version,
        });
        if (!result.ok && result.current.state !== 'denied') throw conflictError(result.current);
      }
      return store.require(id);
    },

    /** The requester (or the grantee, "Not me") withdraws a request; every part of a bundle. */
    async cancel(id: string, actor: Actor): Promise<AccessRequest> {
      const first = await store.require(id);
      if (first.bundle === null) return plain.cancel(id, actor);
      const parts = await partsOf(first, first.bundle);
      const open = parts.flatMap((p) =>
        p.request?.state === 'pending' || p.request?.state === 'submitted' ? [p.request] : [],
      );
      if (open.length === 0) throw conflictError(first);
      for (const part of open) await gate.require('cancel', actor, { request: part });
      requireUndecided(parts);
      const by = actor.id === first.requesterId ? 'the requester' : 'the grantee: not me';
      for (const part of open) {
        const result = await lifecycle.cancel(part.id, {
          actor: actor.id,
          detail: `cancelled by ${by} (bundle ${first.bundle.name}, every part)`,
          patch: { decision: { by: actor.id, at: now(), note: null } },
        });
        // Approved meanwhile (the parts are written in one order, so it is the first part written):
        // the bundle was decided, and no later part is cancelled.
        if (!result.ok && result.current.state !== 'cancelled') throw conflictError(result.current);
      }
      return store.require(id);
    },

    /**
     * Ends a grant now (End now, Revoke now); a bundle's every active part together, each allowed for
     * `actor` first. Parts applied while this ran are ended too (read again until none is left).
     */
    async end(id: string, actor: Actor): Promise<AccessRequest> {
      const first = await store.require(id);
      if (first.bundle === null) return plain.end(id, actor);
      const bundle = first.bundle;
      const active = (parts: readonly StoredPart[]) =>
        parts.flatMap((p) =>
          p.request?.state === 'applied' && p.request.endedEarly === null ? [p.request] : [],
        );
      const initial = active(await partsOf(first, bundle));
      if (initial.length === 0) return plain.end(id, actor);
      for (const part of initial) await requirePart('end', actor, part, bundle);
      const detail = `${actor.id === first.granteeId ? 'ended early by the grantee' : 'revoked early by an approver'} (bundle ${bundle.name}, every part)`;
      for (let round = 0; round < 5; round += 1) {
        const parts = round === 0 ? initial : active(await partsOf(await store.require(id), bundle));
        if (parts.length === 0) break;
        for (const part of parts) {
          try {
            await lifecycle.end(part, { actor: actor.id, detail });
          } catch (error) {
            // Ended meanwhile (its own end, a concurrent End now), or it holds nothing: nothing to do.
            if (!isAppError(error, 'REQUEST_STATE_CONFLICT') && !isAppError(error, 'NOTHING_TO_GRANT'))
              throw error;
          }
        }
      }
      return store.require(id);
    },

    /**
     * Runs a failed change (or revocation) again; a part of a bundle only while the bundle's time lasts
     * and no part was ended early, so a retried part still ends with the others.
     */
    async retry(id: string, actor: Actor): Promise<AccessRequest> {
      const request = await store.require(id);
      if (request.bundle === null || request.state !== 'failed') return plain.retry(id, actor);
      const end = bundleEndOf(request);
      const parts = await partsOf(request, request.bundle);
      const endedEarly = parts.find((p) => p.request?.endedEarly)?.request?.endedEarly;
      if ((end !== null && end <= now()) || endedEarly) {
        await gate.require('retry', actor, { request });
        throw new AppError(
          'BUNDLE_ENDED',
          `${id} is part of bundle ${request.bundle.name}, whose access ${endedEarly ? `was ended early` : 'has ended'}; a retry would grant what the bundle no longer holds. Ask for the bundle again.`,
        );
      }
      return plain.retry(id, actor);
    },

    /** Asks for a later end; not for a part of a bundle, whose parts end together. */
    async extend(actor: Actor, ask: ExtensionAsk): Promise<AccessRequest> {
      const original = await store.require(ask.id);
      if (original.bundle === null) return plain.extend(actor, ask);
      throw new AppError(
        'NOTHING_TO_GRANT',
        `${original.id} is part of bundle ${original.bundle.name}, whose parts end together; one part cannot be extended. Ask for the bundle again when it ends.`,
      );
    },
  };
}
