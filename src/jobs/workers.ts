import { type Job, Worker } from 'bullmq';
import type { RedisClient } from '../lib/redis-client.js';
import { withCorrelation } from '../ops/correlation.js';
import type { Logger } from '../ops/logger.js';
import {
  type HomeJob,
  type NotifyJob,
  type OffboardJob,
  QUEUE_NAMES,
  type RemindJob,
  type RequestJob,
  type ReviewJob,
} from './queues.js';

/** A BullMQ processor function. */
export type Processor<T> = (job: Job<T>, token?: string) => Promise<unknown>;

/** Options for {@link createWorkers}. */
export interface WorkersOptions {
  /** Awaited before each job starts (a quiet moment for the Slack side in the same process). */
  beforeJob?: () => Promise<void>;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: RedisClient;
  prefix: string;
  logger: Logger;
  /**
   * Jobs each worker runs at once.
   * @defaultValue 4
   */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal; a worker that dies holding one is noticed after this
   * (BullMQ's stalled-job check runs at the same interval) and its job goes to another worker.
   * @defaultValue 30_000
   */
  lockDurationMs?: number;
  processors: {
    readonly enrich: Processor<RequestJob>;
    readonly apply: Processor<RequestJob>;
    readonly revoke: Processor<RequestJob>;
    readonly expire: Processor<RequestJob>;
    readonly notify: Processor<NotifyJob>;
    readonly remind: Processor<RemindJob>;
    readonly sweep: Processor<unknown>;
    readonly reconcile: Processor<unknown>;
    readonly home: Processor<HomeJob>;
    readonly review: Processor<ReviewJob>;
    readonly offboard: Processor<OffboardJob>;
  };
}

/** The running workers. */
export interface Workers {
  /**
   * Stops taking jobs and waits up to `graceMs` for the running ones; then closes without waiting,
   * leaving any job still running to BullMQ's stalled-job recovery (another worker takes it over
   * after its lock expires). Called again, it returns the first call's promise (a shutdown starts
   * it at the signal and waits for it later). @returns whether every running job finished in time.
   */
  close(graceMs?: number): Promise<boolean>;
}

/** The request, review or offboarding a job's data is about, if any. */
function correlationIdOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const fields = data as { requestId?: unknown; reviewId?: unknown; offboardingId?: unknown };
  const id = fields.requestId ?? fields.reviewId ?? fields.offboardingId;
  return typeof id === 'string' ? id : undefined;
}

/** Starts one worker per queue; attempts are logged here, their Slack side is handled in the processors. */
export function createWorkers(options: WorkersOptions): Workers {
  const { logger, processors } = options;
  const lockDuration = options.lockDurationMs ?? 30_000;
  const start = <T>(
    queue: string,
    processor: Processor<T>,
    concurrency = options.concurrency ?? 4,
  ): Worker<T> => {
    // Every log line of the job, its Atlas calls included, carries the id of what it works on.
    const correlated: Processor<T> = async (job, token) => {
      // Sharing a process with the Slack side: acks waiting for the event loop go first (bounded).
      await options.beforeJob?.();
      return withCorrelation(correlationIdOf(job.data), () => processor(job, token));
    };
    const worker = new Worker<T>(queue, correlated, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency,
      lockDuration,
      stalledInterval: lockDuration,
    });
    worker.on('failed', (job, error) => {
      logger.warn('job attempt failed', {
        queue,
        jobId: job?.id,
        attemptsMade: job?.attemptsMade,
        error: error.message,
      });
    });
    worker.on('error', (error) => logger.error('worker error', { queue, error }));
    return worker;
  };
  const workers = [
    start(QUEUE_NAMES.enrich, processors.enrich),
    start(QUEUE_NAMES.apply, processors.apply),
    start(QUEUE_NAMES.revoke, processors.revoke),
    start(QUEUE_NAMES.expire, processors.expire),
    start(QUEUE_NAMES.notify, processors.notify),
    start(QUEUE_NAMES.remind, processors.remind),
    start(QUEUE_NAMES.sweep, processors.sweep, 1),
    start(QUEUE_NAMES.reconcile, processors.reconcile, 1),
    start(QUEUE_NAMES.home, processors.home, 2),
    start(QUEUE_NAMES.review, processors.review),
    start(QUEUE_NAMES.offboard, processors.offboard),
  ];
  let closing: Promise<boolean> | undefined;
  const close = async (graceMs: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.all(workers.map((w) => w.close())).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      // A close that has begun cannot be forced (BullMQ returns the same promise), so stop waiting:
      // the connections close next, and any job still running is recovered as stalled elsewhere.
      logger.warn(
        'workers did not stop within the shutdown deadline; jobs still running are left to stalled-job recovery',
        {
          graceMs,
        },
      );
    }
    return finished;
  };
  return {
    close(graceMs = 25_000) {
      closing ??= close(graceMs);
      return closing;
    },
  };
}
