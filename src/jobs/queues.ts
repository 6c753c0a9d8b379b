import { Queue } from 'bullmq';
import type { RedisClient } from '../lib/redis-client.js';
import type { TargetRef } from '../lib/scope.js';
import type { RequestEvent } from '../requests/request-service.js';

/** Queue names under QUEUE_PREFIX. */
export const QUEUE_NAMES = {
  enrich: 'enrich',
  apply: 'apply',
  revoke: 'revoke',
  expire: 'expire',
  notify: 'notify',
  remind: 'remind',
  sweep: 'sweep',
  reconcile: 'reconcile',
  home: 'home',
  review: 'review',
  offboard: 'offboard',
} as const;

/** Where a notice about a request goes. */
export type Delivery =
  | 'approval-message'
  | 'thread'
  | 'requester'
  | 'grantee'
  /** The Workflow Builder step that made the request: completed with its outcome. */
  | 'workflow';

/** Data of an apply, revoke or expire job: the request is the only input, everything else is read fresh. */
export interface RequestJob {
  readonly requestId: string;
}

/** Data of a notify job: one notice, to one place. */
export interface NotifyJob {
  readonly requestId: string;
  readonly event: RequestEvent;
  readonly delivery: Delivery;
}

/** Data of a reminder: the end it warns about (a grant extended since has another end and is skipped). */
export interface RemindJob {
  readonly requestId: string;
  /** ms since epoch. */
  readonly endsAt: number;
}

/**
 * Data of a Home tab job: `requestId` fans out to the people whose Home it changes (who asked, who
 * it is for, who decided, and, when the pending requests changed, every recent viewer); `userId`
 * republishes one person's Home.
 */
export type HomeJob =
  | { readonly requestId: string; readonly event: RequestEvent }
  | { readonly userId: string };

/** Job data that remembers which of its Slack steps are done (`done`), across retries. */
export type WithDoneSteps = { readonly done?: readonly string[] };

/** Data of a review job: start one on a target, or work on one of its lines. */
export type ReviewJob = (
  | {
      readonly kind: 'start';
      readonly target: TargetRef;
      readonly startedBy: string;
      readonly reviewId?: string;
    }
  | { readonly kind: 'revoke'; readonly reviewId: string; readonly n: number }
  | { readonly kind: 'decided'; readonly reviewId: string; readonly n: number }
  | { readonly kind: 'overdue'; readonly reviewId: string }
) &
  WithDoneSteps;

/** Data of an offboarding job: show its message, clean up and plan, or remove the person from one target. */
export type OffboardJob = (
  | { readonly kind: 'show' | 'run'; readonly offboardingId: string }
  | { readonly kind: 'target'; readonly offboardingId: string; readonly target: TargetRef }
) &
  WithDoneSteps;

/** The BullMQ queues. */
export interface Queues {
  readonly enrich: Queue<RequestJob>;
  readonly apply: Queue<RequestJob>;
  readonly revoke: Queue<RequestJob>;
  readonly expire: Queue<RequestJob>;
  readonly notify: Queue<NotifyJob>;
  readonly remind: Queue<RemindJob>;
  readonly sweep: Queue<Record<string, never>>;
  readonly reconcile: Queue<Record<string, never>>;
  readonly home: Queue<HomeJob>;
  readonly review: Queue<ReviewJob>;
  readonly offboard: Queue<OffboardJob>;
  /** Every queue above, for gauges and shutdown. */
  readonly all: readonly Queue[];
  close(): Promise<void>;
}

const DAY_SECONDS = 24 * 3600;

/**
 * How many entries each queue's BullMQ event stream keeps. BullMQ trims on most writes, but not on
 * every one (delayed jobs promoted in a burst add thousands untrimmed), so the sweeper also trims.
 */
export const EVENTS_MAX_LEN = 100;

/**
 * Creates the queues on a fail-fast connection, so a Redis outage surfaces as an error, not a hang.
 * A request's finished jobs are removed (failed ones kept, bounded); reviews and offboardings keep
 * theirs (30 days done, 90 days failed), since their deterministic ids deduplicate clicks and targets.
 */
export function createQueues(
  connection: RedisClient,
  prefix: string,
  options: { backoffMs?: number } = {},
): Queues {
  const keep = { removeOnComplete: { age: 30 * DAY_SECONDS }, removeOnFail: { age: 90 * DAY_SECONDS } };
  // A request's jobs: the request's state machine refuses duplicate work (and every notice is queued
  // once, by the transition that won), so a finished job has nothing left to guard: completed ones
  // go at once; failed ones stay for inspection, at most 30 days and 1,000 per queue.
  const finished = {
    removeOnComplete: true,
    removeOnFail: { age: 30 * DAY_SECONDS, count: 1_000 },
  };
  const base = options.backoffMs ?? 2_000;
  // Nothing reads BullMQ's event streams (no QueueEvents): keep them short instead of 10,000 a queue.
  const streams = { events: { maxLen: EVENTS_MAX_LEN } };
  const enrich = new Queue<RequestJob>(QUEUE_NAMES.enrich, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: base }, ...finished },
  });
  const apply = new Queue<RequestJob>(QUEUE_NAMES.apply, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: base }, ...finished },
  });
  const revoke = new Queue<RequestJob>(QUEUE_NAMES.revoke, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 8, backoff: { type: 'exponential', delay: base * 2 }, ...finished },
  });
  const expire = new Queue<RequestJob>(QUEUE_NAMES.expire, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 10, backoff: { type: 'exponential', delay: base }, ...finished },
  });
  const notify = new Queue<NotifyJob>(QUEUE_NAMES.notify, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 12, backoff: { type: 'exponential', delay: base }, ...finished },
  });
  const remind = new Queue<RemindJob>(QUEUE_NAMES.remind, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: base }, ...finished },
  });
  const periodic = { attempts: 1, removeOnComplete: 100, removeOnFail: 100 };
  const sweep = new Queue<Record<string, never>>(QUEUE_NAMES.sweep, {
    connection,
    prefix,
    streams,
    defaultJobOptions: periodic,
  });
  const reconcile = new Queue<Record<string, never>>(QUEUE_NAMES.reconcile, {
    connection,
    prefix,
    streams,
    defaultJobOptions: periodic,
  });
  // A Home tab is a view: nothing is lost when a refresh is dropped, and ids must free up at once so
  // the next change can be queued (they carry a one-second bucket: at most one refresh a second).
  const home = new Queue<HomeJob>(QUEUE_NAMES.home, {
    connection,
    prefix,
    streams,
    defaultJobOptions: {
      attempts: 3,
      backoff: { type: 'exponential', delay: base },
      removeOnComplete: true,
      removeOnFail: true,
    },
  });
  // Reviews and offboarding change Atlas: retried like a revocation, kept like the request jobs.
  const review = new Queue<ReviewJob>(QUEUE_NAMES.review, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 8, backoff: { type: 'exponential', delay: base * 2 }, ...keep },
  });
  const offboard = new Queue<OffboardJob>(QUEUE_NAMES.offboard, {
    connection,
    prefix,
    streams,
    defaultJobOptions: { attempts: 8, backoff: { type: 'exponential', delay: base * 2 }, ...keep },
  });
  const all = [enrich, apply, revoke, expire, notify, remind, sweep, reconcile, home, review, offboard];
  return {
    enrich,
    apply,
    revoke,
    expire,
    notify,
    remind,
    sweep,
    reconcile,
    home,
    review,
    offboard,
    all,
    async close() {
      await Promise.all(all.map((q) => q.close()));
    },
  };
}
