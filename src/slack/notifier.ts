import type { WebClient } from '@slack/web-api';
import type { Notifier } from '../jobs/notify-processor.js';
import type { Delivery } from '../jobs/queues.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent } from '../requests/request-service.js';
import { buildApprovalMessage } from './blocks/approval-message.js';
import { buildOutcomeText } from './blocks/outcome-message.js';

/** Delivers request notices through the Slack Web API: message updates, thread replies, DMs. */
export function createSlackNotifier(client: WebClient): Notifier {
  const directMessage = async (userId: string, text: string): Promise<void> => {
    const opened = await client.conversations.open({ users: userId });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`conversations.open returned no channel for ${userId}`);
    await client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false });
  };

  return {
    async deliver(request: AccessRequest, event: RequestEvent, delivery: Delivery) {
      const approval = request.approvalMessage;
      const text = buildOutcomeText(request, event);
      switch (delivery) {
        case 'approval-message':
          if (approval)
            await client.chat.update({
              channel: approval.channelId,
              ts: approval.ts,
              ...buildApprovalMessage(request),
            });
          return;
        case 'thread':
          if (approval) {
            await client.chat.postMessage({
              channel: approval.channelId,
              thread_ts: approval.ts,
              text,
              unfurl_links: false,
              unfurl_media: false,
            });
          }
          return;
        case 'requester':
          await directMessage(request.requesterId, text);
          return;
        case 'grantee':
          await directMessage(request.granteeId, text);
          return;
      }
    },
  };
}
