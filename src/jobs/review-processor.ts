import { type Job, type Queue, UnrecoverableError } from 'bullmq';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import { holdersOf, isActive, type Ledger } from '../grants/ledger.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import { isTeamItem, rolesAmong } from '../lib/access-items.js';
import { formatDuration } from '../lib/duration.js';
import type { TargetRef } from '../lib/scope.js';
import { withCorrelation } from '../ops/correlation.js';
import type { DryRunLog } from '../ops/dry-run-log.js';
import type { Logger } from '../ops/logger.js';
import { expandGroups, type Policy, targetOf } from '../policy/policy.js';
import {
  type AccessReview,
  classifyMembers,
  LINES_PER_MESSAGE,
  type LineDecision,
  messageCountOf,
  messageIndexOf,
  type ReviewLine,
  tally,
} from '../reviews/model.js';
import type { ReviewNotifier } from '../reviews/ports.js';
import { createReviewStarter } from '../reviews/review-starter.js';
import type { ReviewStore } from '../reviews/review-store.js';
import { jobIds } from './job-ids.js';
import { lockKeyOf, markDryRun, type ProcessorOutcome, runSlackSteps } from './processor-support.js';
import type { ReviewJob } from './queues.js';
import { createReviewQueue } from './review-queue.js';
import { leaveTeamOfLine, readTeamContext } from './review-teams.js';
import type { UserLock } from './user-lock.js';

export { createReviewQueue, schedulerIdOf, syncReviewSchedules } from './review-queue.js';

/** Dependencies of {@link createReviewProcessor}. */
export interface ReviewDeps {
  readonly reviews: ReviewStore;
  readonly ledgers: LedgerStore;
  readonly atlas: AtlasRolesApi;
  /**
   * The organization that owns a project (the client's cached lookup): a project review then shows
   * the roles people hold there through teams. Without it, only their own roles.
   */
  readonly orgOfProject?: ((groupId: string) => Promise<string>) | undefined;
  readonly lock: UserLock;
  readonly notifier: ReviewNotifier;
  readonly policy: () => Policy;
  readonly reviewJobs: Queue<ReviewJob>;
  readonly logger: Logger;
  /** How long a review may stay undecided before the approvers hear it is overdue, in ms. */
  readonly reviewTtlMs: number;
  /** ATLAS_DRY_RUN: the writes not sent; a revocation's outcome then says it was not carried out. */
  readonly dryRunLog?: DryRunLog | undefined;
  readonly now?: () => number;
}

/**
 * Access reviews in workers: `start` lists the target's members from Atlas (every page), sorts each
 * (person, role) into held through a Rolecall grant or standing, stores the review and posts it;
 * `revoke` removes one standing role under the person's lock (and the person from the project when
 * it was their last role; for a role held through a team, the person from the team instead, never a
 * role of their own: review-teams.ts), records the outcome once, tells the thread and the person; `decided`
 * shows a decision and closes the review when nothing is left; `overdue` reminds the approvers.
 */
export function createReviewProcessor(deps: ReviewDeps) {
  const now = deps.now ?? Date.now;
  const starter = createReviewStarter({
    store: deps.reviews,
    reviewQueue: createReviewQueue(deps.reviewJobs),
    now,
  });

  /** Closes the review once every line is decided and done; the job that closed it says so. */
  const closeIfDone = async (job: Job<ReviewJob>, review: AccessReview): Promise<void> => {
    const decisions = await deps.reviews.decisions(review.id);
    const counts = tally(review, decisions);
    if (counts.undecided > 0 || counts.running > 0) return;
    if (!(await deps.reviews.close(review.id, now(), job.id ?? `${job.name}-${job.timestamp}`))) return;
    const closed = (await deps.reviews.get(review.id)) ?? { ...review, closedAt: now() };
    await runSlackSteps(job, deps.logger, [
      ['closed-shown', () => deps.notifier.update(closed, decisions, 0)],
      [
        'closed-thread',
        () =>
          deps.notifier.thread(
            closed,
            `:white_check_mark: Review ${review.id} of *${review.target.name}* is closed: ${counts.kept} kept, ${counts.revoked} revoked, ${counts.failed} failed. Signed-off list: \`npm run -s audit -- --review ${review.id} --format csv > ${review.id}.csv\``,
          ),
      ],
    ]);
  };

  /** Shows a decided line on its message, and the summary on the first one. */
  const showLine = async (review: AccessReview, decisions: ReadonlyMap<number, LineDecision>, n: number) => {
    const index = messageIndexOf(n);
    await deps.notifier.update(review, decisions, index);
    if (index !== 0) await deps.notifier.update(review, decisions, 0);
  };

  const start = async (job: Job<ReviewJob>, data: Extract<ReviewJob, { kind: 'start' }>) => {
    const policy = deps.policy();
    // Every start holds the target's review slot under its job id (a person's start claimed it when
    // it was asked for; a scheduled run claims it here), so a target never has two reviews open.
    const token = job.id ?? `${job.name}-${job.timestamp}`;
    const target = targetOf(policy, data.target);
    if (!target) {
      await deps.reviews.releaseClaim(data.target, token);
      return { skipped: `${data.target.name} is no longer in the policy` };
    }
    const ref: TargetRef = { name: target.name, kind: target.kind, id: target.id };
    const claimed = await starter.claim(ref, data.startedBy, token);
    if (claimed.status !== 'claimed') {
      const why =
        claimed.status === 'open'
          ? `${claimed.review.id} of ${target.name} is still open`
          : `a review of ${target.name} is already being started`;
      deps.logger.info('access review not started: the target has one open', {
        target: target.name,
        startedBy: data.startedBy,
        reviewId: claimed.status === 'open' ? claimed.review.id : undefined,
      });
      return { skipped: why };
    }
    let review: AccessReview | undefined;
    try {
      review = data.reviewId ? await deps.reviews.get(data.reviewId) : undefined;
      if (!review) {
        const members = await deps.atlas.members.listMembers({ kind: target.kind, id: target.id });
        const ledgers = new Map<string, Ledger>(
          await Promise.all(
            members.map(async (m) => [m.username, await deps.ledgers.read(m.username, target)] as const),
          ),
        );
        const teams = await readTeamContext(deps, policy, ref);
        const { lines, counts } = classifyMembers(target.roles, members, ledgers, now(), teams.context);
        review = await deps.reviews.create({
          target: ref,
          startedBy: data.startedBy,
          createdAt: now(),
          policy: policy.version,
          counts,
          lines,
          ...(teams.note === undefined ? {} : { teamsNote: teams.note }),
        });
        await deps.reviews.attachClaim(ref, token, review.id);
        // A retry after a crash posts this review, not a second one.
        await job.updateData({ ...data, reviewId: review.id });
      }
      // One message at a time, each remembered once posted: a retry posts only what is missing.
      const messages = [...review.messages];
      while (messages.length < messageCountOf(review)) {
        messages.push(await deps.notifier.post({ ...review, messages }, new Map(), messages.length));
        await deps.reviews.setMessages(review.id, messages);
      }
      review = { ...review, messages };
    } catch (error) {
      const retryable = isAppError(error) ? error.retryable : true;
      if (retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      // The target is free again before anyone is told to try again.
      await deps.reviews.releaseClaim(ref, token);
      await startFailed(target, data, review, error);
      throw new UnrecoverableError(isAppError(error) ? error.message : String(error));
    }
    if (review.lines.length === 0) {
      await closeIfDone(job, review);
    } else {
      await deps.reviewJobs.add(
        'overdue',
        { kind: 'overdue', reviewId: review.id },
        { jobId: jobIds.reviewOverdue(review.id), delay: deps.reviewTtlMs },
      );
    }
    return { done: `${review.id}: ${review.lines.length} standing role(s)` };
  };

  /** A review that cannot start is said in the approvals channel; one nobody saw is forgotten. */
  const startFailed = async (
    target: TargetRef,
    data: Extract<ReviewJob, { kind: 'start' }>,
    review: AccessReview | undefined,
    error: unknown,
  ) => {
    deps.logger.error('access review could not start', { target: target.name, reviewId: review?.id, error });
    if (review && review.messages.length === 0) await deps.reviews.discard(review.id);
    // Lines that never reached Slack can never be decided: close it, so it is not open forever.
    if (review && review.messages.length > 0) await deps.reviews.close(review.id, now(), 'start-failed');
    const why = isAppError(error) ? error.message : 'an unexpected error (the details are in the logs)';
    const partly = review && review.messages.length > 0;
    const schedule = data.startedBy === 'schedule';
    const text = isAppError(error, 'ATLAS_TARGET_GONE')
      ? `:x: The access review of *${target.name}* could not start: ${why} Remove *${target.name}* from the policy, or correct its id${schedule ? '; until then each scheduled review says this again' : ''}.`
      : partly
        ? `:x: Review ${review.id} of *${target.name}* could not be posted completely (${why}); lines after ${review.messages.length * LINES_PER_MESSAGE} are missing, so it is closed with them undecided. Start a new one with \`/atlas-access review ${target.name}\`.`
        : `:x: The access review of *${target.name}* could not start: ${why} ${schedule ? 'The schedule stays; an approver can also' : 'An approver can'} try again with \`/atlas-access review ${target.name}\`.`;
    await deps.notifier.startFailed(target, text).catch((cause: unknown) => {
      deps.logger.error('could not say that the review failed', { target: target.name, error: cause });
    });
  };

  /** Removes one standing role; returns the outcome in words. */
  const removeRole = async (
    review: AccessReview,
    line: ReviewLine,
  ): Promise<Pick<LineDecision, 'outcome' | 'detail'>> => {
    const { team } = line;
    if (team) return leaveTeamOfLine({ ...deps, now }, deps.policy(), review.target, { ...line, team });
    const scope = { kind: review.target.kind, id: review.target.id };
    return deps.lock.run(lockKeyOf(deps.atlas, review.target, line.username), async () => {
      let current: readonly string[];
      let userId = line.atlasUserId;
      try {
        const read = await deps.atlas.readUser(line.username, scope);
        current = read.roles;
        userId = read.userId;
      } catch (error) {
        if (isAppError(error, 'ATLAS_USER_NOT_FOUND') || isAppError(error, 'ATLAS_NOT_A_MEMBER')) {
          return { outcome: 'gone', detail: `${line.username} is no longer on ${review.target.name}` };
        }
        throw error;
      }
      if (!current.includes(line.role)) {
        return { outcome: 'gone', detail: `${line.username} no longer holds ${line.role}` };
      }
      const ledger = await deps.ledgers.read(line.username, review.target);
      const holder = holdersOf(ledger, line.role).find((h) => isActive(h, now()));
      if (holder) {
        return {
          outcome: 'failed',
          detail: `${line.role} is now held through ${holder.requestId}, a Rolecall grant; end that grant instead`,
        };
      }
      const next = current.filter((role) => role !== line.role);
      // A team membership (`team:NAME` on an organization) is left through the client's team call;
      // the person's organization roles stay. Their last role is judged on roles alone: teams are no role.
      if (isTeamItem(line.role)) {
        await deps.atlas.setRoles(scope, userId, current, next);
        return {
          outcome: 'revoked',
          detail: `removed ${line.username} from ${line.role}; their organization roles are untouched`,
        };
      }
      if (rolesAmong(next).length > 0) {
        await deps.atlas.setRoles(scope, userId, current, next);
        return { outcome: 'revoked', detail: `removed ${line.role} from ${line.username}` };
      }
      if (review.target.kind === 'project') {
        await deps.atlas.members.removeFromProject(review.target.id, userId);
        return {
          outcome: 'left',
          detail: `removed ${line.username} from the project: ${line.role} was their last role there`,
        };
      }
      if (!deps.atlas.members.removeFromOrg) {
        return {
          outcome: 'failed',
          detail: `${line.role} is ${line.username}'s last role in the organization, and this Atlas API cannot remove someone from an organization`,
        };
      }
      await deps.atlas.members.removeFromOrg(review.target.id, userId);
      return {
        outcome: 'left',
        detail: `removed ${line.username} from the organization: ${line.role} was their last role there`,
      };
    });
  };

  const revoke = async (job: Job<ReviewJob>, data: Extract<ReviewJob, { kind: 'revoke' }>) => {
    const review = await deps.reviews.require(data.reviewId);
    const line = review.lines.find((l) => l.n === data.n);
    const decision = (await deps.reviews.decisions(review.id)).get(data.n);
    if (!line || decision?.decision !== 'revoke') return { skipped: 'nothing to revoke' };
    if (decision.outcome === undefined) {
      let outcome: Pick<LineDecision, 'outcome' | 'detail'>;
      try {
        // Keyed by the line, so concurrent revocations of one review keep their own dry-run writes.
        const key = `${review.id}:${line.n}`;
        deps.dryRunLog?.take(key);
        outcome = await withCorrelation(key, () => removeRole(review, line));
        const dryRun = deps.dryRunLog?.take(key);
        if (dryRun) outcome = { ...outcome, detail: markDryRun(outcome.detail ?? '', dryRun) };
      } catch (error) {
        const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (!isAppError(error) || (error.retryable && !last)) throw error;
        // Atlas no longer has the organization or project: nothing is left there to revoke.
        outcome =
          error.code === 'ATLAS_TARGET_GONE'
            ? {
                outcome: 'gone',
                detail: `${review.target.name} no longer exists in Atlas; nothing to revoke`,
              }
            : { outcome: 'failed', detail: error.message };
      }
      await deps.reviews.recordOutcome(review.id, line.n, outcome);
    }
    // From here on Atlas is done and the outcome stored: Slack is told, once, and never holds it back.
    const decisions = await deps.reviews.decisions(review.id);
    const recorded = decisions.get(line.n);
    const outcome = recorded?.outcome ?? 'failed';
    const detail = recorded?.detail ?? '';
    await runSlackSteps(job, deps.logger, [
      ['shown', () => showLine(review, decisions, line.n)],
      [
        'thread',
        () =>
          deps.notifier.thread(
            review,
            outcome === 'failed'
              ? `:x: ${review.id} line ${line.n}: could not ${line.team ? `remove ${line.username} from ${line.team.item}` : `revoke ${line.role} from ${line.username}`}: ${detail}.`
              : `:lock: ${review.id} line ${line.n}: ${detail}.`,
          ),
      ],
      [
        'told',
        async () => {
          if (outcome !== 'revoked' && outcome !== 'left') return;
          await deps.notifier.tellPerson(
            line.username,
            line.team || isTeamItem(line.role)
              ? `:lock: An access review of *${review.target.name}* (${review.id}) removed you from ${line.team?.item ?? line.role}${line.team ? `, through which you held ${line.role} there` : ''}. Ask with /atlas-access when you need it again.`
              : `:lock: An access review of *${review.target.name}* (${review.id}) revoked your standing ${line.role} there${outcome === 'left' ? '; it was your last role, so you are no longer a member' : ''}. Ask with /atlas-access when you need it again.`,
          );
        },
      ],
    ]);
    await closeIfDone(job, review);
    return { done: `${review.id}:${line.n} ${outcome}` };
  };

  const overdue = async (review: AccessReview) => {
    if (review.closedAt !== null) return { skipped: 'closed' };
    const counts = tally(review, await deps.reviews.decisions(review.id));
    if (counts.undecided === 0) return { skipped: 'decided' };
    const target = targetOf(deps.policy(), review.target);
    const approvers = target ? expandGroups(deps.policy(), target.approvers) : [];
    await deps.notifier.thread(
      review,
      `:alarm_clock: Review ${review.id} is overdue: ${counts.undecided} line(s) still undecided after ${formatDuration(deps.reviewTtlMs / 1000)}.`,
      approvers,
    );
    return { done: 'overdue reminder' };
  };

  return async (job: Job<ReviewJob>): Promise<ProcessorOutcome> => {
    const data = job.data;
    switch (data.kind) {
      case 'start':
        return start(job, data);
      case 'revoke':
        return revoke(job, data);
      case 'decided': {
        const review = await deps.reviews.require(data.reviewId);
        const decisions = await deps.reviews.decisions(review.id);
        await runSlackSteps(job, deps.logger, [['shown', () => showLine(review, decisions, data.n)]]);
        await closeIfDone(job, review);
        return { done: `${review.id}:${data.n} shown` };
      }
      case 'overdue':
        return overdue(await deps.reviews.require(data.reviewId));
    }
  };
}
