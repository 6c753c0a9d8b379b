import type { Redis } from 'ioredis';
import { waitUntil } from '../../dev/http-util.js';
import type { PEOPLE, Sandbox } from '../../dev/sandbox.js';
import { offboardingIdIn, reviewIdsIn } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import type { Offboarding } from '../../src/offboarding/model.js';
import { createOffboardingStore } from '../../src/offboarding/offboarding-store.js';
import { type AccessReview, messageCountOf } from '../../src/reviews/model.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { ephemeralAfter } from './grant-flow.js';

/** A sandbox person (PEOPLE.alice …). */
type Person = (typeof PEOPLE)[keyof typeof PEOPLE];

/**
 * Reading and clicking access reviews the way a test needs to: the store, a review once every
 * message is posted, a message of it, and a click on one line's button. `sandbox` and `redis` are
 * read at each call, so a suite can start a new sandbox per test.
 */
export function reviewFlow(sandbox: () => Sandbox, redis: () => Redis) {
  const reviews = () => createReviewStore(redis(), redisKeys(sandbox().config.redis.prefix));
  /** The review once posted (all its messages known). */
  const posted = (id: string, timeoutMs = 10_000) =>
    waitUntil(
      async () => {
        const review = await reviews().get(id);
        return review && review.messages.length === messageCountOf(review) ? review : undefined;
      },
      timeoutMs,
      `${id} to be posted`,
    );
  /** The id of the `nth` (from 1) review posted in the approvals channel, read from its first message. */
  const postedId = (nth = 1, timeoutMs = 10_000) =>
    waitUntil(() => reviewIdsIn(sandbox().slack)[nth - 1], timeoutMs, `review ${nth} to be posted`);
  /** The `nth` review posted in the approvals channel, once all its messages are posted. */
  const postedNth = async (nth = 1, timeoutMs = 10_000) => posted(await postedId(nth, timeoutMs), timeoutMs);
  const messageOf = (review: AccessReview, index = 0): SimulatedMessage => {
    const ref = review.messages[index];
    const message = ref ? sandbox().slack.message(ref.channelId, ref.ts) : undefined;
    if (!message) throw new Error(`${review.id} has no message ${index}`);
    return message;
  };
  /** Clicks `action` (review_keep, review_revoke) on line `n`, as `person`. */
  const clickLine = async (person: Person, review: AccessReview, n: number, action: string) => {
    const message = messageOf(review, Math.floor((n - 1) / 20));
    const block = ((message.blocks ?? []) as { block_id?: string }[]).find(
      (b) => b.block_id === `review:${review.id}:${n}`,
    );
    if (!block) throw new Error(`line ${n} has no buttons`);
    return sandbox().driver.clickButton(person, { ...message, blocks: [block] }, action);
  };
  return { reviews, posted, postedId, postedNth, messageOf, clickLine };
}

/** The same for offboardings: the store, one once its message is posted, and that message. */
export function offboardingFlow(sandbox: () => Sandbox, redis: () => Redis) {
  const stored = () => createOffboardingStore(redis(), redisKeys(sandbox().config.redis.prefix));
  const messageOf = (offboarding: Offboarding): SimulatedMessage => {
    const ref = offboarding.message;
    const message = ref ? sandbox().slack.message(ref.channelId, ref.ts) : undefined;
    if (!message) throw new Error(`${offboarding.id} has no message`);
    return message;
  };
  const posted = (id: string) =>
    waitUntil(async () => {
      const found = await stored().get(id);
      return found?.message ? found : undefined;
    }, 5_000);
  /** The id Rolecall gave `person`'s offboarding, from its reply (`Offboarding *OB-…*`) after event `since`. */
  const askedId = async (person: Person, since = 0) =>
    offboardingIdIn(await ephemeralAfter(sandbox(), person, since, /Offboarding \*OB-[0-9A-Z]+\*/));
  return { stored, messageOf, posted, askedId };
}
