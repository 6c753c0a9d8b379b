import type { Actor } from '../access/actions.js';
import { AppError } from '../errors.js';
import { requirementsAt } from '../policy/policy.js';
import { countApproval, deciderCheck } from './approval-count.js';
import type { AccessRequest, RequestPatch } from './model.js';
import { nudgeApprovers } from './nudge.js';
import { approverOnCallNote } from './on-call-approver.js';
import { requireGrant } from './request-reader.js';
import { notStartedError, waitsForStart } from './scheduled-start.js';
import type { RequestServiceDeps } from './service-deps.js';
import { conflictError, STATE_WORDS } from './state-machine.js';

/**
 * Deciding and acting on stored requests: approve, deny, cancel, acknowledge, retry, end. Each asks the
 * decision point under the policy in force (a refusal is recorded and thrown in words), then makes
 * one lifecycle move.
 */
export function createDecisions(deps: RequestServiceDeps) {
  const { store, lifecycle, gate } = deps;
  const now = deps.now ?? Date.now;

  const checkCanDecide = async (id: string, actor: Actor, action: 'approve' | 'deny') => {
    const request = await store.require(id);
    await gate.require(action, actor, { request });
    if (request.state !== 'pending') throw conflictError(request);
    return request;
  };

  return {
    /** Throws unless `actor` may decide on the request now; returns it. */
    checkCanDecide: (id: string, actor: Actor) => checkCanDecide(id, actor, 'deny'),

    /**
     * Counts an approval. The Nth distinct approval by people who may decide now is the one atomic
     * pending -> approved; each approval before it is an audited note. A concurrent approval changes
     * `approvals`, so the loser reads again.
     */
    async approve(id: string, actor: Actor): Promise<AccessRequest> {
      const first = await store.require(id);
      // An extension is checked against the end it would give its grant now, under today's policy.
      const extended = first.extends === null ? undefined : await store.get(first.extends);
      const endsAt = extended?.grant?.revokeAt ?? null;
      const { target, members, policy } = await gate.require('approve', actor, {
        request: first,
        grantee: await deps.directory.person(first.granteeId),
        ...(endsAt === null ? {} : { extendFrom: { endsAt, at: now() } }),
      });
      if (!target) throw conflictError(first);
      // Once escalated (escalate:), its fallback approvers decide too.
      const needs = requirementsAt(target, first, now());
      // Only approvals by people who may decide now count: someone removed from the approvers (or
      // their group) since their click no longer does.
      const stillDecides = deciderCheck(first, needs, members);
      // onCallApproves: approver: an approver on call now approves alone (asked once, before the rounds).
      const alone = stillDecides(actor.id)
        ? await approverOnCallNote(deps, target, first.roles, actor)
        : null;
      for (let round = 0; round < 20; round += 1) {
        const request = round === 0 ? first : await store.require(id);
        if (request.state !== 'pending') throw conflictError(request);
        const count = countApproval(
          request,
          actor.id,
          { needed: needs.approvals, stillDecides, alone },
          now(),
        );
        // A click by someone who approved already finishes a request that needs fewer approvals now.
        if (count.mine && !count.complete) {
          throw new AppError(
            'REQUEST_STATE_CONFLICT',
            `You have already approved ${id}; it needs ${needs.approvals} approvals from different people (${count.counted.length} so far).`,
          );
        }
        const write = {
          actor: actor.id,
          detail: count.detail,
          expect: { approvals: request.approvals },
          policyVersion: policy.version,
        };
        const { approvals } = count;
        const result = count.complete
          ? await lifecycle.approve(id, {
              ...write,
              patch: {
                approvals,
                decision: count.approval,
                ...boundAt(request, needs.maxDurationSeconds, now()),
              },
            })
          : await lifecycle.approval(id, { ...write, patch: { approvals } }, approvals.length);
        if (result.ok) return result.request;
      }
      throw new AppError('STORAGE_UNAVAILABLE', `Too many approvals of ${id} at once; press Approve again.`, {
        retryable: true,
      });
    },

    /** pending -> denied, with the approver's reason. */
    async deny(id: string, actor: Actor, reason: string): Promise<AccessRequest> {
      await checkCanDecide(id, actor, 'deny');
      const result = await lifecycle.deny(id, {
        actor: actor.id,
        detail: reason,
        patch: { decision: { by: actor.id, at: now(), note: reason } },
        policyVersion: deps.policy().version,
      });
      if (!result.ok) throw conflictError(result.current);
      return result.request;
    },

    /** An approver acknowledges a break-glass grant (recorded in the audit). */
    async acknowledge(id: string, actor: Actor): Promise<AccessRequest> {
      const request = await store.require(id);
      await gate.require('acknowledge', actor, { request });
      if (!request.breakGlass) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${id} is not a break-glass grant; there is nothing to acknowledge.`,
        );
      }
      if (request.acknowledged !== null) {
        throw new AppError('REQUEST_STATE_CONFLICT', `${id} was already acknowledged.`, {
          details: { decidedBy: request.acknowledged.by },
        });
      }
      const result = await lifecycle.acknowledge(id, {
        actor: actor.id,
        detail: 'break-glass acknowledged',
        expect: { acknowledged: null },
        patch: { acknowledged: { by: actor.id, at: now(), note: null } },
        policyVersion: deps.policy().version,
      });
      if (!result.ok) throw new AppError('REQUEST_STATE_CONFLICT', `${id} was already acknowledged.`);
      return result.request;
    },

    /** An approver runs a failed change (or revocation) again, at once. */
    async retry(id: string, actor: Actor): Promise<AccessRequest> {
      const request = await store.require(id);
      const grantee = request.state === 'failed' ? await deps.directory.person(request.granteeId) : undefined;
      await gate.require('retry', actor, grantee ? { request, grantee } : { request });
      if (request.state !== 'failed' && request.state !== 'revoke_failed') {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${request.id} ${STATE_WORDS[request.state].after}; there is nothing to retry.`,
          { details: { state: request.state } },
        );
      }
      if (request.state === 'failed') {
        const result = await lifecycle.retry(id, actor.id, request.attempt + 1);
        if (!result.ok) throw conflictError(result.current);
        return result.request;
      }
      // The next try is already scheduled under this attempt: run it now instead of later, and reset
      // the escalation clock so the approver hears how it went. One click wins.
      const trouble = request.revokeTrouble;
      const running = new AppError(
        'REQUEST_STATE_CONFLICT',
        `A try of ${id}'s revocation is already running.`,
      );
      // A try that is due (pressed a moment ago, or its time came) is running: one at a time.
      if (trouble !== null && trouble.nextTryAt <= now()) throw running;
      const result = await lifecycle.retryRevocation(id, {
        actor: actor.id,
        detail: 'retry of the revocation requested',
        expect: { revokeTrouble: trouble },
        patch: { revokeTrouble: trouble ? { ...trouble, escalatedAt: 0, nextTryAt: now() } : null },
      });
      if (!result.ok) {
        if (result.current.state === 'revoke_failed') throw running;
        throw new AppError('REQUEST_STATE_CONFLICT', `${id} ${STATE_WORDS[result.current.state].after}.`);
      }
      return result.request;
    },

    /** The requester reminds the approvers of their pending request now, once (nudge.ts). */
    nudge: (id: string, actor: Actor) => nudgeApprovers(deps, id, actor),

    /**
     * The requester, or the grantee ("Not me"), withdraws a request not decided yet; a grant approved
     * ahead of its start may be cancelled until then by them or by an approver of every role.
     */
    async cancel(id: string, actor: Actor): Promise<AccessRequest> {
      const request = await store.require(id);
      await gate.require('cancel', actor, { request });
      const scheduled = waitsForStart(request, now());
      if (request.state !== 'pending' && request.state !== 'submitted' && !scheduled) {
        throw conflictError(request);
      }
      const who =
        actor.id === request.requesterId
          ? 'the requester'
          : actor.id === request.granteeId
            ? 'the grantee: not me'
            : 'an approver';
      const result = await lifecycle.cancel(
        id,
        {
          actor: actor.id,
          detail: scheduled
            ? `cancelled before its start by ${who.replace(': not me', '')}`
            : `cancelled by ${who}`,
          patch: { decision: { by: actor.id, at: now(), note: null } },
        },
        scheduled,
      );
      if (!result.ok) throw conflictError(result.current);
      return result.request;
    },

    /** The grantee (End now) or an approver of the target (Revoke now) ends an active grant at once. */
    async end(id: string, actor: Actor): Promise<AccessRequest> {
      const request = await requireGrant(store, id);
      await gate.require('end', actor, { request });
      if (waitsForStart(request, now())) throw notStartedError(request, 'end');
      return lifecycle.end(request, {
        actor: actor.id,
        detail:
          actor.id === request.granteeId ? 'ended early by the grantee' : 'revoked early by an approver',
      });
    },
  };
}

/**
 * For an extension being approved: its bound tightened to now + the maxDuration of today's policy,
 * so the write that moves the end checks that too (a policy made stricter since it was asked).
 */
function boundAt(request: AccessRequest, maxSeconds: number | undefined, at: number): RequestPatch {
  if (request.extends === null || maxSeconds === undefined) return {};
  const ceiling = at + maxSeconds * 1000;
  return { endsNoLaterThan: Math.min(request.endsNoLaterThan ?? ceiling, ceiling) };
}
