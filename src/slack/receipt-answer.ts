import type { Receipt } from '../requests/receipts.js';
import { escapeMrkdwn } from './mrkdwn.js';
import { classifySlackError } from './notifier.js';
import type { Replier } from './respond.js';

/**
 * What a person hears when the process that acknowledged what they sent stopped before its work was
 * done: a submission was not filed (it is stored atomically or not at all), an action may or may not
 * have been carried out. Said where they asked while the response_url works, else by DM; throws when
 * Slack refuses, so the sweeper tries again.
 */
export function createOrphanedReceiptAnswer(replier: Replier): (receipt: Receipt) => Promise<void> {
  return async (receipt) => {
    const what = escapeMrkdwn(receipt.what);
    const text =
      receipt.kind === 'submission'
        ? `:warning: Rolecall stopped before it could file what you sent (“${what}”); nothing was filed. Please send it again.`
        : `:warning: Rolecall stopped while working on what you sent (“${what}”); it may not have been carried out. Check the message or \`/atlas-access list\`, and try again if nothing changed.`;
    try {
      await replier.deliver(receipt.userId, receipt.responseUrl, { text });
    } catch (error) {
      throw classifySlackError(error, 'the answer to an acknowledged delivery');
    }
  };
}
