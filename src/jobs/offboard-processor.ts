import type { Job, Queue } from 'bullmq';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import { isActive } from '../grants/ledger.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { TargetRef } from '../lib/scope.js';
import { OFFBOARDED_MARK_MS, type Offboarding, type TargetOutcome } from '../offboarding/model.js';
import type { OffboardingStore } from '../offboarding/offboarding-store.js';
import type { OffboardingNotifier, OffboardingQueue } from '../offboarding/ports.js';
import { withCorrelation } from '../ops/correlation.js';
import type { DryRunLog } from '../ops/dry-run-log.js';
import type { Logger } from '../ops/logger.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestReader } from '../requests/request-reader.js';
import { jobIds } from './job-ids.js';
import { lockKeyOf, markDryRun, type ProcessorOutcome, runSlackSteps } from './processor-support.js';
import type { OffboardJob } from './queues.js';
import type { UserLock } from './user-lock.js';

/** The outcome already recorded for a target, if any. */
function outcomeOf(offboarding: Offboarding, target: TargetRef): TargetOutcome | undefined {
  return offboarding.outcomes.find((o) => o.target.kind === target.kind && o.target.id === target.id);
}

/** Dependencies of {@link createOffboardProcessor}. */
export interface OffboardDeps {
  readonly offboardings: OffboardingStore;
  /** Reads requests; every write goes through `lifecycle`. */
  readonly store: Pick<RequestReader, 'get' | 'listActive' | 'listByGrantee'>;
  readonly lifecycle: Lifecycle;
  readonly ledgers: LedgerStore;
  readonly atlas: AtlasRolesApi;
  readonly lock: UserLock;
  readonly notifier: OffboardingNotifier;
  readonly offboardJobs: Queue<OffboardJob>;
  readonly logger: Logger;
  /** ATLAS_DRY_RUN: the writes not sent; a removal's outcome then says it was not carried out. */
  readonly dryRunLog?: DryRunLog | undefined;
  readonly now?: () => number;
}

/** The offboarding queue port over BullMQ; job ids make every call idempotent. */
export function createOffboardingQueue(queue: Queue<OffboardJob>): OffboardingQueue {
  return {
    async show(id) {
      // A new id per call: each change is shown (the message is re-rendered from the store).
      await queue.add('show', { kind: 'show', offboardingId: id });
    },
    async run(id) {
      await queue.add('run', { kind: 'run', offboardingId: id }, { jobId: jobIds.offboardRun(id) });
    },
  };
}

/**
 * Offboarding in workers. `run` (once, after approval): cancels the person's requests that wait,
 * ends every active Rolecall grant they hold on the policy's targets (the usual revocation path), then
 * queues one job per target. `target`: under the person's lock, reads their roles there and removes
 * them (removeOrgUser / removeGroupUser, or the v1.0 call), its own job so a failure retries that
 * target only; the last owner of an organization is never removed (Atlas refuses, said in words).
 * `show`: posts or updates the live table.
 */
export function createOffboardProcessor(deps: OffboardDeps) {
  const now = deps.now ?? Date.now;

  // One at a time per offboarding, so its message is posted once and then only updated.
  const show = (id: string) =>
    deps.lock.run(`offboarding:${id}`, async () => {
      const offboarding = await deps.offboardings.require(id);
      const message = await deps.notifier.show(offboarding);
      if (offboarding.message === null) await deps.offboardings.setMessage(id, message);
    });

  /** Queues the removal jobs: organizations first; projects once every organization has an outcome. */
  const queueTargets = async (offboarding: Offboarding) => {
    const orgs = offboarding.targets.filter((t) => t.kind === 'org');
    const orgsDone = orgs.every((t) => outcomeOf(offboarding, t) !== undefined);
    const next = orgsDone ? offboarding.targets.filter((t) => t.kind === 'project') : orgs;
    await deps.offboardJobs.addBulk(
      next.map((target) => ({
        name: 'target',
        data: { kind: 'target' as const, offboardingId: offboarding.id, target },
        opts: { jobId: jobIds.offboardTarget(offboarding.id, target) },
      })),
    );
  };

  const run = async (offboarding: Offboarding): Promise<ProcessorOutcome> => {
    if (offboarding.state !== 'approved') return { skipped: offboarding.state };
    // Set at approval already; again here in case that process stopped in between.
    await deps.offboardings.markOffboarded(offboarding.email, offboarding.id, OFFBOARDED_MARK_MS);
    const cancelled: string[] = [];
    // Their requests by email (Slack often deactivates a leaver first), and by Slack id when Slack
    // still knows them: only that finds failed ones. Slack never holds the offboarding back.
    const theirs = new Map<string, AccessRequest>();
    for (const request of await deps.store.listActive(now(), 10_000)) {
      if (request.granteeEmail.toLowerCase() === offboarding.email) theirs.set(request.id, request);
    }
    let slackId: string | null = null;
    try {
      slackId = await deps.notifier.userIdOf(offboarding.email);
    } catch (error) {
      deps.logger.warn(
        'offboarding: Slack could not look the person up; cancelling their requests by email only',
        {
          offboardingId: offboarding.id,
          error,
        },
      );
    }
    if (slackId) {
      for (const request of await deps.store.listByGrantee(slackId, 200)) theirs.set(request.id, request);
    }
    for (const request of theirs.values()) {
      {
        // A failed request would keep its Retry button, a scheduled one its start: cancel them too.
        const scheduled = request.state === 'approved' && request.startsAt !== null;
        if (
          request.state !== 'pending' &&
          request.state !== 'submitted' &&
          request.state !== 'failed' &&
          !scheduled
        )
          continue;
        const result = await deps.lifecycle.withdrawn(
          request.id,
          scheduled ? ['approved'] : ['pending', 'submitted', 'failed'],
          `cancelled by offboarding ${offboarding.id}`,
          `offboarded (${offboarding.id})`,
        );
        if (result.ok) cancelled.push(request.id);
      }
    }
    const ended: string[] = [];
    for (const target of offboarding.targets) {
      const ledger = await deps.ledgers.read(offboarding.email, target);
      const holding = [...new Set(ledger.holders.filter((h) => isActive(h, now())).map((h) => h.requestId))];
      for (const requestId of holding) {
        const request = await deps.store.get(requestId);
        if (!request) continue;
        try {
          await deps.lifecycle.end(request, {
            actor: 'system',
            detail: `ended by offboarding ${offboarding.id}`,
          });
          ended.push(requestId);
        } catch (error) {
          // Ending already, or ended: nothing to do.
          if (!isAppError(error, 'REQUEST_STATE_CONFLICT') && !isAppError(error, 'NOTHING_TO_GRANT'))
            throw error;
        }
      }
    }
    await deps.offboardings.recordCleanup(offboarding.id, cancelled, ended);
    await queueTargets(offboarding);
    await deps.offboardJobs.add('show', { kind: 'show', offboardingId: offboarding.id });
    return {
      done: `${cancelled.length} cancelled, ${ended.length} ended, ${offboarding.targets.length} target(s) queued`,
    };
  };

  /** Removing someone from an organization takes them out of its projects: say so when that may be why. */
  const notAMember = (offboarding: Offboarding, target: TargetRef): TargetOutcome => ({
    target,
    before: null,
    outcome: 'not a member',
    detail:
      target.kind === 'project' &&
      offboarding.outcomes.some((o) => o.outcome === 'removed' && o.target.kind === 'org')
        ? 'was not a member (any more: removal from an organization takes its projects with it)'
        : 'was not a member',
  });

  /** Atlas no longer has the organization or project: nobody is in it, there is nothing to remove. */
  const targetGone = (target: TargetRef): TargetOutcome => ({
    target,
    before: null,
    outcome: 'not a member',
    detail: `${target.kind === 'org' ? 'the organization' : 'the project'} no longer exists in Atlas; nothing to remove`,
  });

  /** Removes the person from one target; the outcome in words. */
  const remove = async (offboarding: Offboarding, target: TargetRef): Promise<TargetOutcome> => {
    const scope = { kind: target.kind, id: target.id };
    return deps.lock.run(lockKeyOf(deps.atlas, target, offboarding.email), async () => {
      let userId: string;
      let before: readonly string[];
      try {
        const read = await deps.atlas.readUser(offboarding.email, scope);
        userId = read.userId;
        before = read.roles;
      } catch (error) {
        if (isAppError(error, 'ATLAS_USER_NOT_FOUND') || isAppError(error, 'ATLAS_NOT_A_MEMBER')) {
          return notAMember(offboarding, target);
        }
        if (isAppError(error, 'ATLAS_TARGET_GONE')) return targetGone(target);
        throw error;
      }
      if (before.length === 0) return notAMember(offboarding, target);
      if (target.kind === 'project') {
        await deps.atlas.members.removeFromProject(target.id, userId);
        return { target, before, outcome: 'removed', detail: 'removed from the project' };
      }
      if (!deps.atlas.members.removeFromOrg) {
        return {
          target,
          before,
          outcome: 'failed',
          detail: 'this Atlas API cannot remove someone from an organization; remove them in the Atlas UI',
        };
      }
      try {
        await deps.atlas.members.removeFromOrg(target.id, userId);
      } catch (error) {
        if (isAppError(error, 'ATLAS_LAST_OWNER'))
          return { target, before, outcome: 'refused', detail: error.message };
        throw error;
      }
      return { target, before, outcome: 'removed', detail: 'removed from the organization and its projects' };
    });
  };

  /**
   * Finishes the offboarding once every target has an outcome; the job that finished it posts the
   * summary. The table is shown after the state is stored, so Slack never holds the state back.
   */
  const finishIfDone = async (job: Job<OffboardJob>, id: string) => {
    const offboarding = await deps.offboardings.require(id);
    const finished =
      offboarding.outcomes.length >= offboarding.targets.length &&
      (await deps.offboardings.finish(id, now(), job.id ?? `${job.name}-${job.timestamp}`));
    const count = (outcome: TargetOutcome['outcome']) =>
      offboarding.outcomes.filter((o) => o.outcome === outcome).length;
    await runSlackSteps(job, deps.logger, [
      ['shown', () => show(id)],
      [
        'summary',
        async () => {
          if (!finished) return;
          await deps.notifier.thread(
            offboarding,
            `:white_check_mark: Offboarding ${id} of ${offboarding.email} is done: removed from ${count('removed')} target(s), not a member of ${count('not a member')}, refused on ${count('refused')}, failed on ${count('failed')}; ${offboarding.cancelled.length} request(s) cancelled, ${offboarding.ended.length} grant(s) ended.`,
          );
        },
      ],
    ]);
  };

  const target = async (job: Job<OffboardJob>, id: string, ref: TargetRef): Promise<ProcessorOutcome> => {
    let offboarding = await deps.offboardings.require(id);
    if (offboarding.state === 'pending' || offboarding.state === 'denied')
      return { skipped: offboarding.state };
    let outcome = outcomeOf(offboarding, ref);
    if (outcome === undefined) {
      if (offboarding.state !== 'approved') return { skipped: offboarding.state };
      try {
        const key = `${id}:${ref.kind}:${ref.id}`;
        deps.dryRunLog?.take(key);
        outcome = await withCorrelation(key, () => remove(offboarding, ref));
        const dryRun = deps.dryRunLog?.take(key);
        if (dryRun) outcome = { ...outcome, detail: markDryRun(outcome.detail, dryRun) };
      } catch (error) {
        const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (!isAppError(error) || (error.retryable && !last)) throw error;
        // Deleted between the read and the removal: nothing left to remove either.
        outcome =
          error.code === 'ATLAS_TARGET_GONE'
            ? targetGone(ref)
            : { target: ref, before: null, outcome: 'failed', detail: error.message };
      }
      await deps.offboardings.recordOutcome(id, outcome);
      offboarding = await deps.offboardings.require(id);
    }
    // Every step below is idempotent, so a retry after a Slack failure finishes the job's work.
    await queueTargets(offboarding);
    await finishIfDone(job, id);
    return { done: `${ref.name}: ${outcome.outcome}` };
  };

  return async (job: Job<OffboardJob>): Promise<ProcessorOutcome> => {
    const data = job.data;
    switch (data.kind) {
      case 'show':
        await show(data.offboardingId);
        return { done: 'shown' };
      case 'run':
        return run(await deps.offboardings.require(data.offboardingId));
      case 'target':
        return target(job, data.offboardingId, data.target);
    }
  };
}
