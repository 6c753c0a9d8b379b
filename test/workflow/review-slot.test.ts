import { Redis } from 'ioredis';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ATLAS, deleteKeys } from '../../dev/sandbox.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { TargetRef } from '../../src/lib/scope.js';
import type { ReviewQueue } from '../../src/reviews/ports.js';
import { createReviewStarter } from '../../src/reviews/review-starter.js';
import { createReviewStore, type ReviewStore } from '../../src/reviews/review-store.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const PROJECT: TargetRef = { name: ATLAS.project.name, kind: 'project', id: ATLAS.project.id };
const ORG: TargetRef = { name: ATLAS.org.name, kind: 'org', id: ATLAS.org.id };

/** The review queue port, recording starts; `alive` says which starts still have a job. */
function recordingQueue() {
  const starts: { target: TargetRef; startedBy: string; startId: string }[] = [];
  const alive = new Set<string>();
  const reviewQueue: ReviewQueue = {
    async start(target, startedBy, startId) {
      if (startId === undefined) throw new Error('the starter names every start it queues');
      starts.push({ target, startedBy, startId });
      alive.add(startId);
    },
    async isStarting(startId) {
      return alive.has(startId);
    },
    async revokeLine() {},
    async decided() {},
    async nextDue() {
      return null;
    },
  };
  return { reviewQueue, starts, alive };
}

/** What the review worker does once a start is claimed: make the review and post its first message. */
async function post(store: ReviewStore, target: TargetRef, startedBy: string, token: string) {
  const review = await store.create({
    target,
    startedBy,
    createdAt: Date.now(),
    policy: 'test',
    counts: { people: 1, temporary: 0, standing: 1 },
    lines: [
      {
        n: 1,
        atlasUserId: 'u1',
        username: 'alice@example.com',
        role: 'GROUP_READ_ONLY',
        outsidePolicy: false,
      },
    ],
  });
  await store.attachClaim(target, token, review.id);
  await store.setMessages(review.id, [{ channelId: 'C0APPROVALS', ts: '1700000000.000100' }]);
  return review;
}

/** Issue 22: a target never gets a second review while one is open or being started, whoever asks. */
describe('one review per target (the review slot)', () => {
  const redis = new Redis(TEST_REDIS_URL);
  const prefixes: string[] = [];
  let store: ReviewStore;
  beforeEach(() => {
    const prefix = uniquePrefix('review-slot');
    prefixes.push(prefix);
    store = createReviewStore(redis, redisKeys(prefix));
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeys(TEST_REDIS_URL, prefix);
    await redis.quit();
  });

  it('starts one review of twenty asked for at once, and tells the others whose start is under way', async () => {
    const { reviewQueue, starts } = recordingQueue();
    const starter = createReviewStarter({ store, reviewQueue });
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => starter.start(PROJECT, `U0P${String(i).padStart(2, '0')}`)),
    );
    expect(starts).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'started')).toHaveLength(1);
    const others = outcomes.filter((o) => o.status === 'starting');
    expect(others).toHaveLength(19);
    expect(new Set(others.map((o) => (o.status === 'starting' ? o.startedBy : '')))).toEqual(
      new Set([starts[0]?.startedBy]),
    );
    // The worker running that start holds the same slot (a retry too); a scheduled run does not.
    expect(await starter.claim(PROJECT, 'schedule', starts[0]?.startId ?? '')).toEqual({ status: 'claimed' });
    expect(await starter.claim(PROJECT, 'schedule', 'repeat:review-x:1')).toMatchObject({
      status: 'starting',
    });
  });

  it('points to the open review once posted, and starts a new one once it is closed', async () => {
    const { reviewQueue, starts } = recordingQueue();
    const starter = createReviewStarter({ store, reviewQueue });
    expect(await starter.start(PROJECT, 'U0CAROL')).toMatchObject({ status: 'started' });
    const review = await post(store, PROJECT, 'U0CAROL', starts[0]?.startId ?? '');
    const again = await starter.start(PROJECT, 'U0BOB');
    expect(again).toMatchObject({ status: 'open', review: { id: review.id } });
    expect(await starter.claim(PROJECT, 'schedule', 'repeat:review-x:2')).toMatchObject({
      status: 'open',
      review: { id: review.id },
    });
    expect(starts).toHaveLength(1);
    expect(await store.close(review.id, Date.now(), 'test')).toBe(true);
    expect(await starter.start(PROJECT, 'U0BOB')).toMatchObject({ status: 'started' });
    expect(starts).toHaveLength(2);
  });

  it('takes over a start whose job died, never one still queued, and frees a start that was released', async () => {
    const { reviewQueue, starts, alive } = recordingQueue();
    let now = Date.now();
    const starter = createReviewStarter({ store, reviewQueue, now: () => now, graceMs: 60_000 });
    await starter.start(PROJECT, 'U0CAROL');
    now += 5 * 60_000;
    expect(await starter.start(PROJECT, 'U0BOB')).toMatchObject({ status: 'starting', startedBy: 'U0CAROL' });
    alive.clear(); // its job failed for good, or was removed
    expect(await starter.start(PROJECT, 'U0BOB')).toMatchObject({ status: 'started' });
    expect(starts.map((s) => s.startedBy)).toEqual(['U0CAROL', 'U0BOB']);
    await store.releaseClaim(PROJECT, starts[1]?.startId ?? '');
    expect(await starter.start(PROJECT, 'U0DAVE')).toMatchObject({ status: 'started' });
  });

  it('counts a review posted before the slot existed (or whose slot was lost) as open', async () => {
    const { reviewQueue, starts } = recordingQueue();
    const review = await post(store, ORG, 'U0CAROL', 'no-such-claim');
    const starter = createReviewStarter({ store, reviewQueue });
    expect(await starter.start(ORG, 'U0BOB')).toMatchObject({ status: 'open', review: { id: review.id } });
    expect(starts).toEqual([]);
    // The slot now names it, so it is freed when it closes.
    await store.close(review.id, Date.now(), 'test');
    expect(await starter.start(ORG, 'U0BOB')).toMatchObject({ status: 'started' });
  });

  it('lets Rolecall itself start a review of every target, pointing to the ones already open', async () => {
    const { reviewQueue, starts } = recordingQueue();
    const starter = createReviewStarter({ store, reviewQueue });
    await starter.start(ORG, 'U0CAROL');
    const open = await post(store, ORG, 'U0CAROL', starts[0]?.startId ?? '');
    const outcomes = await starter.startAll([PROJECT, ORG], 'system');
    expect(outcomes).toEqual([
      { status: 'started', target: PROJECT },
      expect.objectContaining({
        status: 'open',
        target: ORG,
        review: expect.objectContaining({ id: open.id }),
      }),
    ]);
    expect(starts.map((s) => [s.target.name, s.startedBy])).toEqual([
      [ORG.name, 'U0CAROL'],
      [PROJECT.name, 'system'],
    ]);
    // Asked again at once: nothing new starts.
    expect((await starter.startAll([PROJECT, ORG], 'system')).map((o) => o.status)).toEqual([
      'starting',
      'open',
    ]);
    expect(starts).toHaveLength(2);
  });
});
