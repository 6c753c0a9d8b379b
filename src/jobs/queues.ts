import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RequestEvent } from '../requests/request-service.js';

/** Queue names under QUEUE_PREFIX. */
export const QUEUE_NAMES = { apply: 'apply', revoke: 'revoke', notify: 'notify' } as const;

/** Where a notice about a request goes. */
export type Delivery = 'approval-message' | 'thread' | 'requester' | 'grantee';

/** Data of an apply or revoke job: the request is the only input, everything else is read fresh. */
export interface RequestJob {
  readonly requestId: string;
}

/** Data of a notify job: one notice, to one place. */
export interface NotifyJob {
  readonly requestId: string;
  readonly event: RequestEvent;
  readonly delivery: Delivery;
}

/** The three BullMQ queues. */
export interface Queues {
  readonly apply: Queue<RequestJob>;
  readonly revoke: Queue<RequestJob>;
  readonly notify: Queue<NotifyJob>;
  close(): Promise<void>;
}

/** Creates the queues on a fail-fast connection, so a Redis outage surfaces as an error, not a hang. */
export function createQueues(connection: Redis, prefix: string): Queues {
  const apply = new Queue<RequestJob>(QUEUE_NAMES.apply, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 30 * 24 * 3600 },
      removeOnFail: { age: 90 * 24 * 3600 },
    },
  });
  const revoke = new Queue<RequestJob>(QUEUE_NAMES.revoke, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 8,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: 30 * 24 * 3600 },
      removeOnFail: { age: 90 * 24 * 3600 },
    },
  });
  const notify = new Queue<NotifyJob>(QUEUE_NAMES.notify, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 12,
      backoff: { type: 'exponential', delay: 2_000 },
      removeOnComplete: { age: 30 * 24 * 3600 },
      removeOnFail: { age: 90 * 24 * 3600 },
    },
  });
  return {
    apply,
    revoke,
    notify,
    async close() {
      await Promise.all([apply.close(), revoke.close(), notify.close()]);
    },
  };
}
