import { type Job, type Telemetry, Worker } from 'bullmq';
import type { RedisClient } from '../lib/redis-client.js';
import { withCorrelation } from '../ops/correlation.js';
import type { Logger } from '../ops/logger.js';
import { type JobData, perQueue, QUEUES, type QueueName } from './queues.js';

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
  /** One processor per queue of QUEUES. */
  processors: Processors;
  /** BullMQ's telemetry (ops/tracing.ts): each job runs in the trace it was added in. @defaultValue none */
  telemetry?: Telemetry | undefined;
}

/** One processor per queue of {@link QUEUES}, each typed by its queue's job data. */
export type Processors = { readonly [N in QueueName]: Processor<JobData[N]> };

/** The running workers. */
export interface Workers {
  /** Each queue's worker, by queue name (to inspect their options). */
  readonly byQueue: { readonly [N in QueueName]: Worker<JobData[N]> };
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

/**
 * Starts one worker per queue of QUEUES, with the options its entry declares; attempts are logged
 * here, their Slack side is handled in the processors.
 */
export function createWorkers(options: WorkersOptions): Workers {
  const { logger, processors } = options;
  const lockDuration = options.lockDurationMs ?? 30_000;
  const start = (queue: QueueName): Worker => {
    // One queue's processor is called with that queue's jobs only: its data type is the queue's.
    const processor = processors[queue] as Processor<unknown>;
    // Every log line of the job, its Atlas calls included, carries the id of what it works on.
    const correlated: Processor<unknown> = async (job, token) => {
      // Sharing a process with the Slack side: acks waiting for the event loop go first (bounded).
      await options.beforeJob?.();
      return withCorrelation(correlationIdOf(job.data), () => processor(job, token));
    };
    const own = QUEUES[queue].worker;
    const worker = new Worker(queue, correlated, {
      connection: options.connection,
      prefix: options.prefix,
      ...own,
      concurrency: own?.concurrency ?? options.concurrency ?? 4,
      lockDuration,
      stalledInterval: lockDuration,
      ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
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
  const byQueue = perQueue<Workers['byQueue']>(start);
  const workers = Object.values<Worker>(byQueue);
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
    byQueue,
    close(graceMs = 25_000) {
      closing ??= close(graceMs);
      return closing;
    },
  };
}
