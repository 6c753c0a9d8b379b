import { AppError } from '../errors.js';
import { createFollowUpJobs } from './follow-up-jobs.js';
import { deliveriesFor, FOLLOW_UPS, type Job } from './follow-ups.js';
import type {
  AccessRequest,
  ChangePlan,
  Extension,
  MessageRef,
  RequestDraft,
  RequestState,
  RevokePlan,
} from './model.js';
import type { ApproverChaseQueue, Delivery, RequestEvent, WorkQueue } from './ports.js';
import type { NoteInput, RequestWriter, TransitionInput, TransitionResult } from './request-writer.js';
import { revocationLagOf } from './revocation-lag.js';
import { STATE_WORDS } from './state-machine.js';

/** What a move writes besides the state: who, why, the fields and ledger changes, the optimistic check. */
export type MoveInput = Omit<TransitionInput, 'from' | 'to'>;

/** What a note writes (an audit entry without a state change). */
export type NoteWrite = Omit<NoteInput, 'whileIn'>;

/** A request that entered (or left) a state, in plain values, for metrics and traces. */
export interface Moved {
  readonly requestId: string;
  /** The target's name in the policy. */
  readonly target: string;
  readonly roles: readonly string[];
  readonly from: RequestState | null;
  readonly to: RequestState;
  readonly createdAt: number;
  readonly decidedAt: number | undefined;
  readonly at: number;
  /** For a revocation: when the roles were removed minus when the grant ended, in ms. */
  readonly revocationLagMs: number | undefined;
}

/** Dependencies of {@link createLifecycle}. */
export interface LifecycleDeps {
  /** The request store's writes: only the lifecycle holds the writer. */
  readonly writer: RequestWriter;
  readonly workQueue: WorkQueue;
  /** How long a request may wait for a decision, in ms (REQUEST_TTL), from when it was made. */
  readonly requestTtlMs: number;
  /**
   * Where a grant's plan is written before its first Atlas write when Redis can confirm it durably
   * (WAIT, WAITAOF: ops/redis-durability.ts); absent when the deployment offers neither.
   */
  readonly durable?: {
    readonly writer: RequestWriter;
    /** Whether anything is to be confirmed now (a replica or the append-only file to wait for). */
    readonly needed: () => boolean;
    readonly confirm: () => Promise<void>;
  };
  /** Reminders and escalation of requests waiting for a decision; absent = none. */
  readonly chase?: ApproverChaseQueue;
  /** Told every stored state change, in plain values (metrics). */
  readonly onMoved?: (moved: Moved) => void;
  /** Told when a best-effort follow-up (dropping a job) failed: it then runs later and does nothing. */
  readonly onDropFailed?: (requestId: string, job: Job, error: Error) => void;
  readonly now?: () => number;
}

/** A policy's (or break-glass) approval made with no person deciding. */
export interface AutoApproval {
  /** `policy`, or the break-glass requester. */
  readonly by: string;
  readonly detail: string;
  readonly policyVersion: string;
}

/**
 * The only code that changes a request's state, and the only caller of `notify`: each named move
 * below is one atomic write in the store, then the follow-ups FOLLOW_UPS (follow-ups.ts) gives the
 * state it enters (jobs queued or dropped, who is told). A move that finds the request elsewhere
 * writes nothing and returns the request as it stands (`ok: false`).
 */
export type Lifecycle = ReturnType<typeof createLifecycle>;

/** Creates the lifecycle over the store's writer and the work queue. */
export function createLifecycle(deps: LifecycleDeps) {
  const { writer: store, workQueue } = deps;
  const now = deps.now ?? Date.now;

  const tell = (request: AccessRequest, event: RequestEvent, round?: string, dms: readonly Delivery[] = []) =>
    workQueue.notify(request, event, [...deliveriesFor(event, request), ...dms], round);

  const { queue, drop } = createFollowUpJobs(deps);

  /** Runs what follows entering `request.state` (or told as `as`); `quiet` sends no notice. */
  const followUp = async (
    request: AccessRequest,
    from: RequestState | null,
    options: { readonly as?: RequestEvent; readonly quiet?: boolean; readonly at?: number } = {},
  ): Promise<void> => {
    const next = FOLLOW_UPS[request.state];
    // A decided request's expiry would only find nothing to do (~0.7 KB each until REQUEST_TTL).
    if (from === 'pending' || from === 'submitted') for (const job of next.drop) drop(request, job);
    // Cancelled before its scheduled start: its apply would only find nothing to do.
    if (from === 'approved' && request.state === 'cancelled') drop(request, 'apply');
    for (const job of next.queue) await queue(request, job, options.at);
    const event = options.as ?? next.tell;
    if (event !== null && !options.quiet) await tell(request, event);
  };

  const observe = (request: AccessRequest, from: RequestState | null, at: number) =>
    deps.onMoved?.({
      requestId: request.id,
      target: request.target.name,
      roles: request.roles,
      from,
      to: request.state,
      createdAt: request.createdAt,
      decidedAt: request.decision?.at,
      at,
      revocationLagMs:
        request.state === 'revoked' && request.revocation
          ? revocationLagOf(request, request.revocation.revokedAt)
          : undefined,
    });

  /** One state change: the write, then its follow-ups. */
  const move = async (
    id: string,
    from: RequestState | readonly RequestState[],
    to: RequestState,
    input: MoveInput,
    options: { readonly as?: RequestEvent; readonly quiet?: boolean; readonly at?: number } = {},
  ): Promise<TransitionResult> => {
    const result = await store.transition(id, { ...input, from, to });
    if (!result.ok) return result;
    if (result.from !== to) observe(result.request, result.from, result.request.updatedAt);
    await followUp(result.request, result.from, options);
    return result;
  };

  /** A note with its notice. */
  const noted = async (
    id: string,
    whileIn: readonly RequestState[],
    input: NoteWrite,
    event: RequestEvent | null,
    round?: string,
    dms?: readonly Delivery[],
  ): Promise<TransitionResult> => {
    const result = await store.note(id, { ...input, whileIn });
    if (result.ok && event !== null) await tell(result.request, event, round, dms);
    return result;
  };

  /** What follows `pending`: approved at once when `auto` says so, else the expiry and the approvers' message. */
  const post = async (pending: AccessRequest, auto: AutoApproval | null): Promise<AccessRequest> => {
    if (auto !== null) {
      const approved = await move(
        pending.id,
        'pending',
        'approved',
        {
          actor: auto.by,
          detail: auto.detail,
          patch: { decision: { by: auto.by, at: now(), note: auto.detail } },
          policyVersion: auto.policyVersion,
        },
        // Its approval message is posted now, showing who approved it.
        { as: 'pending' },
      );
      if (approved.ok) return approved.request;
    }
    // The expiry first: a decision right after the notice drops it, never before it exists.
    await followUp(pending, null);
    return pending;
  };

  return {
    /** Stores a new request as `submitted` (under `id`, when issued already); a worker reads Atlas next. */
    async submitted(draft: RequestDraft, actor: string, receiptId?: string, id?: string) {
      const request = await store.create(draft, actor, 'submitted', receiptId, id);
      observe(request, null, request.createdAt);
      await followUp(request, null);
      return request;
    },
    /**
     * Stores an extension request as `pending` (it needs no Atlas reading); {@link post} follows once
     * its grant's extension slot is handed over to it.
     */
    async extensionFiled(draft: RequestDraft, actor: string, receiptId?: string): Promise<AccessRequest> {
      const request = await store.create(draft, actor, 'pending', receiptId);
      observe(request, null, request.createdAt);
      return request;
    },
    /** A new request id, for a request {@link submitted} later (a bundle's parts name each other). */
    issueId: () => store.issueId(),
    /** Claims a Workflow Builder execution for a new request: false when it filed one already. */
    claimWorkflow: (executionId: string) => store.claimWorkflow(executionId),
    /** submitted -> pending, checked against Atlas; then {@link post}. */
    async checked(id: string, input: MoveInput, auto: AutoApproval | null): Promise<TransitionResult> {
      const result = await store.transition(id, { ...input, from: 'submitted', to: 'pending' });
      if (!result.ok) return result;
      observe(result.request, result.from, result.request.updatedAt);
      return { ...result, request: await post(result.request, auto) };
    },
    /**
     * What follows `pending`: approved at once by `auto`, else the expiry and the approvers' message. A
     * request a crash left in `pending` is finished the same way (the same jobs, the same notices).
     */
    post,
    /** submitted -> refused: the Atlas reading showed it cannot go ahead. */
    refused: (id: string, input: MoveInput) => move(id, 'submitted', 'refused', input),
    /** pending -> approved by the last approval needed. */
    approve: (id: string, input: MoveInput) => move(id, 'pending', 'approved', input),
    /** An approval of several needed, noted while pending. */
    approval: (id: string, input: NoteWrite, count: number) =>
      noted(id, ['pending'], input, 'approval', String(count)),
    /** pending -> denied. */
    deny: (id: string, input: MoveInput) => move(id, 'pending', 'denied', input),
    /**
     * The requester or the grantee ("Not me") withdraws a request not decided yet, or (`scheduled`)
     * one approved that waits for its start; a start that comes first wins (one atomic write each).
     */
    cancel: (id: string, input: MoveInput, scheduled = false) =>
      move(
        id,
        scheduled ? ['pending', 'submitted', 'approved'] : ['pending', 'submitted'],
        'cancelled',
        input,
      ),
    /** Rolecall withdraws a request that can no longer go ahead (offboarded, its grant ended, not postable). */
    withdrawn: (id: string, from: readonly RequestState[], why: string, note = why) =>
      move(id, from, 'cancelled', {
        actor: 'system',
        detail: why,
        patch: { decision: { by: 'system', at: now(), note } },
      }),
    /** Nobody decided in time; a request expired already is told again (the job's retry). */
    async expire(id: string): Promise<TransitionResult> {
      const result = await move(id, ['pending', 'submitted'], 'expired', {
        actor: 'system',
        detail: 'nobody decided in time',
      });
      if (!result.ok && result.current.state === 'expired') await tell(result.current, 'expired');
      return result;
    },
    /** An approver acknowledges a break-glass grant. */
    acknowledge: (id: string, input: NoteWrite) =>
      noted(
        id,
        ['approved', 'applying', 'applied', 'revoking', 'revoked', 'revoke_failed', 'failed'],
        input,
        'acknowledged',
      ),
    /** failed -> approved: an approver runs the change again, as attempt `attempt`. */
    retry: (id: string, actor: string, attempt: number) =>
      move(id, 'failed', 'approved', {
        actor,
        detail: `retry ${attempt}`,
        patch: { attempt, failure: null },
      }),
    /** The next try of a failed revocation, now (an approver pressed Retry). */
    async retryRevocation(id: string, input: NoteWrite): Promise<TransitionResult> {
      const result = await noted(id, ['revoke_failed'], input, null);
      if (result.ok) await queue(result.request, 'revoke', now());
      return result;
    },
    /** ready -> working for an Atlas step (approved -> applying, applied | revoke_failed -> revoking). */
    started: (id: string, from: RequestState, to: 'applying' | 'revoking', input: MoveInput) =>
      move(id, from, to, input),
    /** Stores the grant's plan before its first Atlas write, durably when Redis can confirm it. */
    async planned(
      id: string,
      plan: ChangePlan,
      changed: boolean,
      writes: boolean,
    ): Promise<TransitionResult | null> {
      const durable = deps.durable;
      if (durable?.needed() && writes) {
        // Written again on its own connection even when unchanged, so WAIT covers this very plan: a
        // failover after the Atlas write finds it, and the retry converges instead of forgetting it.
        const saved = await durable.writer.patch(id, ['applying'], { plan });
        if (saved.ok) await durable.confirm();
        return saved;
      }
      return changed ? store.patch(id, ['applying'], { plan }) : null;
    },
    /** Stores a revocation's plan before its first Atlas write. */
    revokePlanned: (id: string, plan: RevokePlan) => store.patch(id, ['revoking'], { revokePlan: plan }),
    /** Keeps the approval message Slack just posted, to update it from then on. */
    messagePosted: (id: string, message: MessageRef) =>
      store.patch(id, ['pending', 'approved', 'applying', 'applied', 'denied', 'expired', 'cancelled'], {
        approvalMessage: message,
      }),
    /**
     * applying -> applied. A grant with an end has its revocation queued before the write (a crash
     * in between still ends it on time), then the reminder.
     */
    async applied(
      request: AccessRequest,
      input: MoveInput,
      revokeAt: number | null,
    ): Promise<TransitionResult> {
      if (revokeAt !== null) await queue(request, 'revoke', revokeAt);
      return move(request.id, 'applying', 'applied', input, revokeAt === null ? {} : { at: revokeAt });
    },
    /** Moves an active grant's end for an approved extension (the write only; see {@link extensionApplied}). */
    extend: (originalId: string, input: NoteWrite) =>
      store.note(originalId, { ...input, whileIn: ['applied'] }),
    /** applying -> applied for an extension: the grant's revocation and reminder move to its new end first. */
    async extensionApplied(
      request: AccessRequest,
      original: AccessRequest,
      extension: Extension,
      input: MoveInput,
    ): Promise<TransitionResult> {
      await queue(original, 'revoke', extension.to);
      await queue(original, 'remind', extension.to);
      // Its own follow-ups are an applied grant's: no reminder (it holds nothing itself), the notice.
      const done = await move(request.id, 'applying', 'applied', input);
      if (done.ok) await tell(original, 'extended', request.id);
      return done;
    },
    /** applying -> failed (or revoking -> revoke_failed without a later try: see {@link revokeFailed}). */
    failed: (id: string, input: MoveInput) => move(id, 'applying', 'failed', input),
    /** revoking -> revoked. */
    revoked: (id: string, input: MoveInput) => move(id, 'revoking', 'revoked', input),
    /** revoking -> revoke_failed with the next try queued; approvers hear of it when `escalate`. */
    revokeFailed: (id: string, input: MoveInput, escalate: boolean) =>
      move(id, 'revoking', 'revoke_failed', input, { quiet: !escalate }),
    /** Roles removed in Atlas by hand: noted (with the ledger released) and told in the thread. */
    async drifted(id: string, input: NoteWrite): Promise<TransitionResult> {
      const result = await store.note(id, { ...input, whileIn: ['applied', 'revoking', 'revoke_failed'] });
      if (result.ok) await tell(result.request, 'drift', String(result.request.drift.length));
      return result;
    },
    /** Audits what happened to a database grant (a password shown, an address added); no state change. */
    databaseNoted: (id: string, input: NoteInput) => store.note(id, input),
    /**
     * Tells the thread an approved grant waits `seconds` for Atlas's rate limit (revocations go
     * first); once per attempt.
     */
    waiting: (request: AccessRequest, seconds: number) =>
      tell(request, 'waiting', String(Math.ceil(seconds))),
    /** Audits a reminder, escalation or nudge of a pending request; tells its thread and DMs (`dms`). */
    chased: (id: string, input: NoteWrite, event: RequestEvent, round: string, dms: readonly Delivery[]) =>
      noted(id, ['pending'], input, event, round, dms),
    /** Tells the grantee their grant ends soon (REMIND_BEFORE). */
    remind: (request: AccessRequest, endsAt: number) => tell(request, 'reminder', String(endsAt)),
    /** Tells again the outcome of a step a job found done already (the notices are deduplicated). */
    retell: (request: AccessRequest, event: RequestEvent) => tell(request, event),
    /**
     * Ends an applied grant now (End now, Revoke now, offboarding): its end moves to now in one audited
     * note (in the ending index, so reconciliation catches a lost job), its revocation runs at once and
     * its reminder is dropped. Throws REQUEST_STATE_CONFLICT when it is not an active grant any more,
     * NOTHING_TO_GRANT when it holds no role.
     */
    async end(
      request: AccessRequest,
      by: { readonly actor: string; readonly detail: string },
    ): Promise<AccessRequest> {
      const nothingToEnd = (r: AccessRequest) =>
        new AppError(
          'REQUEST_STATE_CONFLICT',
          `${r.id} ${r.state === 'applied' ? 'is already ending' : STATE_WORDS[r.state].after}; there is nothing to end.`,
          { details: { state: r.state } },
        );
      if (request.state !== 'applied' || request.endedEarly !== null) throw nothingToEnd(request);
      const grant = request.grant;
      if (grant === null || grant.held.length === 0) {
        throw new AppError(
          'NOTHING_TO_GRANT',
          `${request.id} holds no role through Rolecall; there is nothing to end.`,
        );
      }
      const at = now();
      const result = await store.note(request.id, {
        whileIn: ['applied'],
        actor: by.actor,
        detail: by.detail,
        expect: { grant, endedEarly: null },
        patch: { endedEarly: { by: by.actor, at }, grant: { ...grant, revokeAt: at } },
        // Its holders end now too (no grant made meanwhile joins them and outlives both, should the
        // revocation fail), and the ending index, so reconciliation catches a lost job.
        ledger: {
          email: request.granteeEmail,
          target: request.target,
          ops: grant.held.map((role) => ({ op: 'end' as const, role, requestId: request.id, at })),
          ending: { requestId: request.id, at },
        },
      });
      if (!result.ok) throw nothingToEnd(result.current);
      await queue(request, 'revoke', at);
      if (grant.revokeAt !== null) await workQueue.forgetReminder(request.id, grant.revokeAt);
      return result.request;
    },
  };
}
