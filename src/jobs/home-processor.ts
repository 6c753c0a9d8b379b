import type { Job } from 'bullmq';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import type { HomeTab, RequestEvent } from '../requests/ports.js';
import type { RequestReader } from '../requests/request-reader.js';
import { jobIds } from './job-ids.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { HomeJob, Queues } from './queues.js';

/** Dependencies of {@link createHomeProcessor}. */
export interface HomeDeps {
  readonly store: RequestReader;
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly queues: Pick<Queues, 'home'>;
  readonly home: HomeTab;
  readonly logger: Logger;
  /** How long someone counts as a Home viewer after opening it, in ms. */
  readonly viewerMs: number;
  /**
   * At most this many viewers (the most recent) refreshed for a change of the pending requests; the
   * people a request concerns are refreshed whatever their number. @defaultValue 200
   */
  readonly maxViewers?: number;
}

/** Events after which the pending requests (every approver's "Waiting for you") look different. */
const PENDING_CHANGES: readonly RequestEvent[] = [
  'pending',
  'approval',
  'approved',
  'denied',
  'expired',
  'cancelled',
];

/**
 * Keeps Home tabs current: a request's change fans out to the people whose Home it concerns and who
 * have opened it lately; each then gets one refresh a second at most (the publisher skips a view
 * that has not changed). A Home tab is a view, so a refresh that fails is dropped after its attempts.
 */
export function createHomeProcessor(deps: HomeDeps) {
  return async (job: Job<HomeJob>): Promise<ProcessorOutcome> => {
    if ('userId' in job.data) {
      await deps.home.publish(job.data.userId);
      return { done: 'published' };
    }
    const request = await deps.store.get(job.data.requestId);
    if (!request) return { skipped: 'request no longer stored' };
    const since = Date.now() - deps.viewerMs;
    // Forget people who have not opened their Home for a while; the next opening adds them back.
    await deps.redis.zremrangebyscore(deps.keys.homeViewers, '-inf', since);
    const concerned = [
      ...new Set([
        request.requesterId,
        request.granteeId,
        ...request.approvals.map((a) => a.by),
        ...(request.decision ? [request.decision.by] : []),
        ...(request.endedEarly ? [request.endedEarly.by] : []),
      ]),
    ];
    const scores = concerned.length > 0 ? await deps.redis.zmscore(deps.keys.homeViewers, ...concerned) : [];
    const viewing = concerned.filter((_, i) => scores[i] !== null && Number(scores[i]) >= since);
    // Everyone's "Waiting for you" may have changed: the most recent viewers, up to a cap.
    const everyone = PENDING_CHANGES.includes(job.data.event)
      ? await deps.redis.zrevrangebyscore(
          deps.keys.homeViewers,
          '+inf',
          since,
          'LIMIT',
          0,
          deps.maxViewers ?? 200,
        )
      : [];
    const users = [...new Set([...viewing, ...everyone])];
    const bucket = Math.floor(Date.now() / 1000);
    await deps.queues.home.addBulk(
      users.map((userId) => ({
        name: 'refresh',
        data: { userId },
        opts: { jobId: jobIds.homeUser(userId, bucket), delay: 500 },
      })),
    );
    return { done: `${users.length} home tab(s)` };
  };
}
