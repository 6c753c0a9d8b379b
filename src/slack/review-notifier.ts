import type { WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { TargetRef } from '../lib/scope.js';
import type { ReviewNotifier } from '../reviews/ports.js';
import { buildReviewMessage } from './blocks/review-message.js';
import { mentionPrincipals } from './mrkdwn.js';
import { classifySlackError } from './notifier.js';

/** Options for {@link createSlackReviewNotifier}. */
export interface SlackReviewNotifierOptions {
  /** The target's approvals channel under the current policy. */
  readonly channelOf: (target: TargetRef) => string;
}

/**
 * Reviews in Slack: the first message in the target's approvals channel, the other chunks of lines
 * and every outcome in its thread, a DM to the person a revocation concerns (users.lookupByEmail).
 */
export function createSlackReviewNotifier(
  client: WebClient,
  options: SlackReviewNotifierOptions,
): ReviewNotifier {
  const slack = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw classifySlackError(error, what);
    }
  };
  return {
    async post(review, decisions, index) {
      const channel = options.channelOf(review.target);
      const first = review.messages[0];
      const posted = await slack(`review ${review.id} message ${index + 1}`, () =>
        client.chat.postMessage({
          channel: first?.channelId ?? channel,
          ...(index > 0 && first ? { thread_ts: first.ts } : {}),
          ...buildReviewMessage(review, decisions, index),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      if (!posted.channel || !posted.ts) {
        throw new AppError('SLACK_FAILED', `Slack did not say where review ${review.id} was posted.`, {
          retryable: true,
        });
      }
      return { channelId: posted.channel, ts: posted.ts };
    },
    async startFailed(target, text) {
      await slack(`the failed review of ${target.name}`, () =>
        client.chat.postMessage({ channel: options.channelOf(target), text, unfurl_links: false }),
      );
    },
    async update(review, decisions, index) {
      const message = review.messages[index];
      if (!message) return;
      await slack(`review ${review.id} message ${index + 1}`, () =>
        client.chat.update({
          channel: message.channelId,
          ts: message.ts,
          ...buildReviewMessage(review, decisions, index),
        }),
      );
    },
    async thread(review, text, approvers = []) {
      const first = review.messages[0];
      if (!first) return;
      const who = approvers.length > 0 ? ` ${mentionPrincipals(approvers)}` : '';
      await slack(`a reply on review ${review.id}`, () =>
        client.chat.postMessage({
          channel: first.channelId,
          thread_ts: first.ts,
          text: `${text}${who}`,
          unfurl_links: false,
        }),
      );
    },
    async tellPerson(email, text) {
      let userId: string | undefined;
      try {
        userId = (await client.users.lookupByEmail({ email })).user?.id;
      } catch (error) {
        // Not in this workspace (or no longer): there is nobody to tell.
        if ((error as { data?: { error?: string } }).data?.error === 'users_not_found') return;
        throw classifySlackError(error, 'looking the person up');
      }
      if (!userId) return;
      const opened = await slack('a direct message', () => client.conversations.open({ users: userId }));
      const channel = opened.channel?.id;
      if (!channel) return;
      await slack('a direct message', () => client.chat.postMessage({ channel, text, unfurl_links: false }));
    },
  };
}
