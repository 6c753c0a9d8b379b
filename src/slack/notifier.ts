import { ErrorCode, type WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { Notifier } from '../jobs/notify-processor.js';
import type { Delivery } from '../jobs/queues.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestEvent } from '../requests/request-service.js';
import { buildApprovalMessage } from './blocks/approval-message.js';
import { buildOutcomeText } from './blocks/outcome-message.js';

/** Slack errors that a later retry can fix; every other platform error is final. */
const TRANSIENT = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

/** Turns a Web API failure into an AppError the notify job understands (retry, wait, or give up). */
export function classifySlackError(error: unknown, what: string): AppError {
  const coded = error as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string };
    statusCode?: number;
  };
  if (coded.code === ErrorCode.RateLimitedError) {
    return new AppError('SLACK_FAILED', `Slack rate limited ${what}.`, {
      cause: error,
      retryable: true,
      details: { retryAfterMs: (coded.retryAfter ?? 1) * 1000 },
    });
  }
  if (coded.code === ErrorCode.PlatformError) {
    const reason = coded.data?.error ?? 'unknown_error';
    return new AppError('SLACK_FAILED', `Slack refused ${what} (${reason}).`, {
      cause: error,
      retryable: TRANSIENT.has(reason),
      details: { slackError: reason },
    });
  }
  return new AppError('SLACK_FAILED', `Slack could not be reached for ${what}.`, {
    cause: error,
    retryable: true,
  });
}

/** Delivers request notices through the Slack Web API: message updates, thread replies, DMs. */
export function createSlackNotifier(client: WebClient): Notifier {
  const directMessage = async (userId: string, text: string): Promise<void> => {
    const opened = await client.conversations.open({ users: userId });
    const channel = opened.channel?.id;
    if (!channel)
      throw new AppError('SLACK_FAILED', `Slack opened no direct message with ${userId}.`, {
        retryable: true,
      });
    await client.chat.postMessage({ channel, text, unfurl_links: false, unfurl_media: false });
  };

  const send = async (request: AccessRequest, event: RequestEvent, delivery: Delivery): Promise<void> => {
    const approval = request.approvalMessage;
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
            text: buildOutcomeText(request, event),
            unfurl_links: false,
            unfurl_media: false,
          });
        }
        return;
      case 'requester':
        await directMessage(request.requesterId, buildOutcomeText(request, event));
        return;
      case 'grantee':
        await directMessage(request.granteeId, buildOutcomeText(request, event));
        return;
    }
  };

  return {
    async deliver(request, event, delivery) {
      try {
        await send(request, event, delivery);
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw classifySlackError(error, `the ${event} notice (${delivery}) for ${request.id}`);
      }
    },
  };
}
