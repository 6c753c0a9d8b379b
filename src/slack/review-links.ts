import type { WebClient } from '@slack/web-api';
import type { Logger } from '../ops/logger.js';
import type { ReviewStartOutcome } from '../reviews/review-starter.js';
import type { ReviewLinks } from './blocks/review-start-message.js';

/**
 * Links to the open reviews among `outcomes` (their first message), from chat.getPermalink (no scope
 * needed). Best effort: a review Slack gives no link for is named without one, never held back.
 */
export async function linkOpenReviews(
  client: WebClient,
  outcomes: readonly ReviewStartOutcome[],
  logger: Logger,
): Promise<ReviewLinks> {
  const links = new Map<string, string>();
  await Promise.all(
    outcomes.map(async (outcome) => {
      const first = outcome.status === 'open' ? outcome.review.messages[0] : undefined;
      if (outcome.status !== 'open' || !first) return;
      try {
        const answer = await client.chat.getPermalink({ channel: first.channelId, message_ts: first.ts });
        // Only a plain https link goes into the reply's `<url|text>`.
        if (answer.permalink && /^https:\/\/[^\s|<>]+$/.test(answer.permalink)) {
          links.set(outcome.review.id, answer.permalink);
        }
      } catch (error) {
        logger.warn('no link to the open review', {
          reviewId: outcome.review.id,
          error: (error as Error).message,
        });
      }
    }),
  );
  return links;
}
