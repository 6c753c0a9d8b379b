import type { WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { OffboardingNotifier } from '../offboarding/ports.js';
import { buildOffboardingMessage } from './blocks/offboarding-message.js';
import { classifySlackError } from './notifier.js';

/** Offboardings in Slack: one message in the approvals channel, kept up to date; replies in its thread. */
export function createSlackOffboardingNotifier(client: WebClient): OffboardingNotifier {
  const slack = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw classifySlackError(error, what);
    }
  };
  return {
    async show(offboarding) {
      const message = buildOffboardingMessage(offboarding);
      if (offboarding.message) {
        const ref = offboarding.message;
        await slack(`offboarding ${offboarding.id}`, () =>
          client.chat.update({ channel: ref.channelId, ts: ref.ts, ...message }),
        );
        return ref;
      }
      const posted = await slack(`offboarding ${offboarding.id}`, () =>
        client.chat.postMessage({
          channel: offboarding.channelId,
          ...message,
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      if (!posted.channel || !posted.ts) {
        throw new AppError(
          'SLACK_FAILED',
          `Slack did not say where offboarding ${offboarding.id} was posted.`,
          {
            retryable: true,
          },
        );
      }
      return { channelId: posted.channel, ts: posted.ts };
    },
    async thread(offboarding, text) {
      const ref = offboarding.message;
      if (!ref) return;
      await slack(`a reply on offboarding ${offboarding.id}`, () =>
        client.chat.postMessage({ channel: ref.channelId, thread_ts: ref.ts, text, unfurl_links: false }),
      );
    },
    async userIdOf(email) {
      try {
        return (await client.users.lookupByEmail({ email })).user?.id ?? null;
      } catch (error) {
        if ((error as { data?: { error?: string } }).data?.error === 'users_not_found') return null;
        throw classifySlackError(error, 'looking the person up');
      }
    },
  };
}
