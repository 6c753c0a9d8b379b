import type { WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { buildPasswordModal, buildPasswordRefusedModal } from './blocks/database-modals.js';
import { describeErrorForSlack } from './error-reply.js';
import { escapeMrkdwn, slackDate } from './mrkdwn.js';

/** A password to show (see jobs/database-processor.ts `PasswordShown`). */
interface Shown {
  readonly requestId: string;
  readonly username: string;
  readonly password: string;
  readonly endsAt: number | null;
}

/** An address added for a grant (see jobs/database-processor.ts `AddressAdded`). */
interface Added {
  readonly requestId: string;
  readonly cidr: string;
  readonly targetName: string;
  readonly until: number | null;
}

/**
 * The Slack side of the grantee's database steps, for the workers (adapter of `DatabaseNotifier`,
 * jobs/database-processor.ts): the password goes into the one modal the grantee opened
 * (views.update) and nowhere else; addresses are told by DM. `client` must not log request or
 * response bodies (compose/slack-clients.ts gives it a logger without debug lines).
 */
export function createSlackDatabaseNotifier(client: WebClient, options: { readonly logger: Logger }) {
  const { logger } = options;

  const directMessage = async (userId: string, text: string): Promise<void> => {
    const opened = await client.conversations.open({ users: userId });
    const channel = opened.channel?.id;
    if (!channel) {
      throw new AppError('SLACK_FAILED', `Slack opened no direct message with ${userId}.`, {
        retryable: true,
      });
    }
    await client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false });
  };

  return {
    async showPassword(viewId: string, shown: Shown): Promise<void> {
      await client.views.update({ view_id: viewId, view: buildPasswordModal(shown) });
    },

    async showPasswordRefused(viewId: string, requestId: string, error: unknown): Promise<void> {
      await client.views.update({
        view_id: viewId,
        view: buildPasswordRefusedModal(requestId, describeErrorForSlack(error, logger)),
      });
    },

    async addressAdded(userId: string, added: Added): Promise<void> {
      const where = `the IP access list of *${escapeMrkdwn(added.targetName)}*`;
      await directMessage(
        userId,
        added.until === null
          ? `:globe_with_meridians: ${added.cidr} goes on ${where} when ${added.requestId} is applied, until it ends.`
          : `:globe_with_meridians: ${added.cidr} is on ${where} until ${slackDate(added.until)} (${added.requestId}).`,
      );
    },

    async addressRefused(userId: string, requestId: string, address: string, error: unknown): Promise<void> {
      await directMessage(
        userId,
        `Your address \`${escapeMrkdwn(address.slice(0, 60))}\` was not added for ${requestId}. ${describeErrorForSlack(error, logger)}`,
      );
    },
  };
}
