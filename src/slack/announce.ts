import type { WebClient } from '@slack/web-api';
import { AppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Policy } from '../policy/policy.js';

/** Every approvals channel the policy names (the default and each target's), once each. */
function approvalsChannelsOf(policy: Policy): string[] {
  return [...new Set([policy.approvalsChannel, ...policy.targets.map((t) => t.approvalsChannel)])];
}

/**
 * Posts one notice in every approvals channel of the policy in force (store loss, an empty store).
 * Each channel is tried; throws only when no channel took it, so the caller can try again later.
 */
export function createApprovalsAnnouncer(
  client: WebClient,
  policy: () => Policy,
  logger: Logger,
): (text: string) => Promise<void> {
  return async (text) => {
    const channels = approvalsChannelsOf(policy());
    const results = await Promise.allSettled(
      channels.map((channel) => client.chat.postMessage({ channel, text, mrkdwn: true })),
    );
    const failed = results.filter((r) => r.status === 'rejected');
    for (const failure of failed) logger.warn('could not post a notice in an approvals channel', { failure });
    if (failed.length === channels.length) {
      throw new AppError('SLACK_FAILED', 'No approvals channel took the notice.', { retryable: true });
    }
  };
}
