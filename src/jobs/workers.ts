import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../ops/logger.js';
import { type NotifyJob, QUEUE_NAMES, type RequestJob } from './queues.js';

/** A BullMQ processor function. */
export type Processor<T> = (job: Job<T>) => Promise<unknown>;

/** Options for {@link createWorkers}. */
export interface WorkersOptions {
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: Redis;
  prefix: string;
  logger: Logger;
  /**
   * Jobs each worker runs at once.
   * @defaultValue 4
   */
  concurrency?: number;
  processors: {
    readonly apply: Processor<RequestJob>;
    readonly revoke: Processor<RequestJob>;
    readonly notify: Processor<NotifyJob>;
  };
}

/** The running workers. */
export interface Workers {
  close(): Promise<void>;
}

/** Starts one worker per queue; attempts are logged here, their Slack side is handled in the processors. */
export function createWorkers(options: WorkersOptions): Workers {
  const { logger, processors } = options;
  const start = <T>(queue: string, processor: Processor<T>): Worker<T> => {
    const worker = new Worker<T>(queue, processor, {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency ?? 4,
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
    start(QUEUE_NAMES.apply, processors.apply),
    start(QUEUE_NAMES.revoke, processors.revoke),
    start(QUEUE_NAMES.notify, processors.notify),
  ];
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
