import { type DefaultJobOptions, Queue, type Telemetry, type WorkerOptions } from 'bullmq';
import type { RedisClient } from '../lib/redis-client.js';
import type { TargetRef } from '../lib/scope.js';
import type { Delivery, RequestEvent } from '../requests/ports.js';

/** Data of an apply, revoke or expire job: the request is the only input, everything else is read fresh. */
export interface RequestJob {
  readonly requestId: string;
}

/** Data of a notify job: one notice, to one place. */
export interface NotifyJob {
  readonly requestId: string;
  readonly event: RequestEvent;
  readonly delivery: Delivery;
  /** What tells repeats of one event apart (for `waiting`, the expected wait in seconds). */
  readonly round?: string;
}

/** Data of a reminder: the end it warns about (a grant extended since has another end and is skipped). */
export interface RemindJob {
  readonly requestId: string;
  /** ms since epoch. */
  readonly endsAt: number;
}

/**
 * Data of an approvers job, for a request waiting for a decision: `remind` its approvers (round 1-4),
 * or `escalate` it to its fallback approvers. Each reads the request again and does nothing unless it
 * is still pending.
 */
export type ApproversJob =
  | { readonly kind: 'remind'; readonly requestId: string; readonly round: number }
  | { readonly kind: 'escalate'; readonly requestId: string };

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

/**
 * Data of a database access job, for the grantee of a `db:` grant: `reveal` sets a new password and
 * shows it in the modal `viewId` (the job carries no password, ever: it is made in the worker and
 * goes only to that modal); `address` puts their IP address or CIDR block on the project's access list.
 */
export type DatabaseJob =
  | { readonly kind: 'reveal'; readonly requestId: string; readonly userId: string; readonly viewId: string }
  | {
      readonly kind: 'address';
      readonly requestId: string;
      readonly userId: string;
      readonly address: string;
    };

const DAY_SECONDS = 24 * 3600;

/**
 * How many entries each queue's BullMQ event stream keeps. BullMQ trims on most writes, but not on
 * every one (delayed jobs promoted in a burst add thousands untrimmed), so the sweeper also trims.
 */
export const EVENTS_MAX_LEN = 100;

/** One queue of {@link QUEUES}: its jobs' data, how they are retried and kept, how its worker runs them. */
export interface QueueSpec<T> {
  /** Every job's default options, given the base retry delay (`backoffMs` of {@link createQueues}). */
  readonly jobOptions: (backoffMs: number) => DefaultJobOptions;
  /**
   * The worker's own options, over the shared ones (connection, prefix, lock): a fixed concurrency
   * (otherwise the configured one), a rate limiter.
   */
  readonly worker?: Pick<WorkerOptions, 'concurrency' | 'limiter'>;
  /** Never set: carries the type of the queue's job data. */
  readonly data?: T;
}

/** A queue spec whose job data is `T`. */
function defineQueue<T>(spec: Omit<QueueSpec<T>, 'data'>): QueueSpec<T> {
  return spec;
}

/** Retries waiting `delay`, then twice as long each time. */
function exponential(delay: number) {
  return { type: 'exponential', delay } as const;
}

// A request's jobs: the request's state machine refuses duplicate work (and every notice is queued
// once, by the transition that won), so a finished job has nothing left to guard: completed ones
// go at once; failed ones stay for inspection, at most 30 days and 1,000 per queue.
const finished = {
  removeOnComplete: true,
  removeOnFail: { age: 30 * DAY_SECONDS, count: 1_000 },
};
// Reviews and offboardings keep theirs (30 days done, 90 days failed): their deterministic ids
// deduplicate clicks and targets.
const keep = { removeOnComplete: { age: 30 * DAY_SECONDS }, removeOnFail: { age: 90 * DAY_SECONDS } };
const periodic = { attempts: 1, removeOnComplete: 100, removeOnFail: 100 };

/**
 * Every queue, by name (its BullMQ name under the Redis prefix): the one place a queue is added.
 * {@link createQueues} makes one queue per entry and `createWorkers` one worker per entry.
 */
export const QUEUES = {
  enrich: defineQueue<RequestJob>({
    jobOptions: (base) => ({ attempts: 5, backoff: exponential(base), ...finished }),
  }),
  apply: defineQueue<RequestJob>({
    jobOptions: (base) => ({ attempts: 5, backoff: exponential(base), ...finished }),
  }),
  revoke: defineQueue<RequestJob>({
    jobOptions: (base) => ({ attempts: 8, backoff: exponential(base * 2), ...finished }),
  }),
  expire: defineQueue<RequestJob>({
    jobOptions: (base) => ({ attempts: 10, backoff: exponential(base), ...finished }),
  }),
  notify: defineQueue<NotifyJob>({
    jobOptions: (base) => ({ attempts: 12, backoff: exponential(base), ...finished }),
  }),
  remind: defineQueue<RemindJob>({
    jobOptions: (base) => ({ attempts: 5, backoff: exponential(base), ...finished }),
  }),
  // Kept like reviews (30 days, past REQUEST_TTL): their ids keep a request's reminders and escalation
  // from running twice when it is scheduled again (a crash re-posting it, a retry).
  approvers: defineQueue<ApproversJob>({
    jobOptions: (base) => ({ attempts: 5, backoff: exponential(base), ...keep }),
  }),
  sweep: defineQueue<Record<string, never>>({ jobOptions: () => periodic, worker: { concurrency: 1 } }),
  reconcile: defineQueue<Record<string, never>>({ jobOptions: () => periodic, worker: { concurrency: 1 } }),
  // A Home tab is a view: nothing is lost when a refresh is dropped, and ids must free up at once so
  // the next change can be queued (they carry a one-second bucket: at most one refresh a second).
  home: defineQueue<HomeJob>({
    jobOptions: (base) => ({
      attempts: 3,
      backoff: exponential(base),
      removeOnComplete: true,
      removeOnFail: true,
    }),
    worker: { concurrency: 2 },
  }),
  // Reviews and offboarding change Atlas: retried like a revocation, kept longer than the request jobs.
  review: defineQueue<ReviewJob>({
    jobOptions: (base) => ({ attempts: 8, backoff: exponential(base * 2), ...keep }),
  }),
  offboard: defineQueue<OffboardJob>({
    jobOptions: (base) => ({ attempts: 8, backoff: exponential(base * 2), ...keep }),
  }),
  // A person waits on each one (a modal, a DM): two tries, then their words; nothing kept after,
  // done or failed (a reveal's job holds no secret, but nothing in it is worth keeping either).
  database: defineQueue<DatabaseJob>({
    jobOptions: (base) => ({
      attempts: 2,
      backoff: exponential(base),
      removeOnComplete: true,
      removeOnFail: true,
    }),
    worker: { concurrency: 2 },
  }),
} as const;

/**
 * A job scheduler's jobs carry no trace context (tracing on, ops/tracing.ts): each run starts a trace
 * of its own, instead of every run for the scheduler's life joining the trace that created it.
 */
export const UNTRACED_SCHEDULE = { telemetry: { omitContext: true } } as const;

/** The name of a queue in {@link QUEUES}. */
export type QueueName = keyof typeof QUEUES;

/** The data of each queue's jobs, read from {@link QUEUES}. */
export type JobData = { [N in QueueName]: (typeof QUEUES)[N] extends QueueSpec<infer T> ? T : never };

/** Every queue name, in the table's order. */
export const QUEUE_NAMES = Object.keys(QUEUES) as QueueName[];

/**
 * Builds one value per queue of {@link QUEUES}, in the table's order; `R` says each one's type
 * (a mapped type over {@link JobData}, such as a queue or a worker per queue).
 */
export function perQueue<R extends { [N in QueueName]: unknown }>(make: (name: QueueName) => unknown): R {
  // TypeScript cannot check a value built per key against that key's type (BullMQ's generic defaults
  // defeat the correlated-union check), so the caller's `R` is asserted here, once: `make(name)`
  // must build the value of `R[name]`.
  return Object.fromEntries(QUEUE_NAMES.map((name) => [name, make(name)])) as R;
}

/** The BullMQ queues: one per entry of {@link QUEUES}. */
export type Queues = { readonly [N in QueueName]: Queue<JobData[N]> } & {
  /** Every queue above, for gauges and shutdown. */
  readonly all: readonly Queue[];
  close(): Promise<void>;
};

/**
 * Creates the queues of {@link QUEUES} on a fail-fast connection, so a Redis outage surfaces as an
 * error, not a hang.
 */
export function createQueues(
  connection: RedisClient,
  prefix: string,
  options: { backoffMs?: number; telemetry?: Telemetry | undefined } = {},
): Queues {
  const base = options.backoffMs ?? 2_000;
  // Nothing reads BullMQ's event streams (no QueueEvents): keep them short instead of 10,000 a queue.
  const streams = { events: { maxLen: EVENTS_MAX_LEN } };
  // Tracing on (ops/tracing.ts): each job carries the trace context it was added in.
  const telemetry = options.telemetry === undefined ? {} : { telemetry: options.telemetry };
  const queues = perQueue<{ [N in QueueName]: Queue<JobData[N]> }>(
    (name) =>
      new Queue(name, {
        connection,
        prefix,
        streams,
        defaultJobOptions: QUEUES[name].jobOptions(base),
        ...telemetry,
      }),
  );
  const all: Queue[] = QUEUE_NAMES.map((name) => queues[name]);
  return {
    ...queues,
    all,
    async close() {
      await Promise.all(all.map((q) => q.close()));
    },
  };
}
