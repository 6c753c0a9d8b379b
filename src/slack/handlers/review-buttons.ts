import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS } from '../blocks/approval-message.js';
import { parseReviewLineValue } from '../blocks/review-message.js';
import { describeClickError } from '../error-reply.js';
import { escapeMrkdwn, mention } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';
import { keepReceipt, NOT_RECEIVED, workOnReceipt } from './received.js';

/**
 * Keep and Revoke on an access review's lines. Each acks at once, checks the button's value
 * (`RV-<n>:<line>`) before it goes near Redis, resolves who clicked and lets the review service
 * authorize and record the decision once; the person is told what happened, ephemerally.
 */
export function registerReviewButtons(app: App, deps: HandlerDeps): void {
  const { directory, replier, logger } = deps;
  for (const [actionId, decision] of [
    [ACTIONS.reviewKeep, 'keep'],
    [ACTIONS.reviewRevoke, 'revoke'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action }) => {
      const reply = (text: string) => replier.reply(body.user.id, body.response_url, { text });
      const line = parseReviewLineValue(action.value);
      // Written down before the ack (nothing acknowledged is lost).
      const receiptId = line
        ? await keepReceipt(deps, {
            kind: 'action',
            userId: body.user.id,
            responseUrl: body.response_url ?? null,
            what: `${decision === 'keep' ? 'Keep' : 'Revoke'} on line ${line.n} of ${line.reviewId}`,
          })
        : undefined;
      await ack();
      if (!line) {
        logger.warn('a review button carried something that is not a review line', { actionId });
        await reply(':warning: That button does not point at a line of a Rolecall review.');
        return;
      }
      if (receiptId === undefined) {
        await reply(NOT_RECEIVED);
        return;
      }
      await deps.afterAck(() =>
        workOnReceipt(
          deps,
          receiptId,
          async () => {
            const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
            const result = await deps.reviews.decide(line.reviewId, line.n, decision, actor);
            const what = `${escapeMrkdwn(result.line.username)} · \`${escapeMrkdwn(result.line.role)}\``;
            if (result.status === 'taken') {
              await reply(
                `:information_source: Line ${line.n} of ${line.reviewId} (${what}) was already decided by ${mention(result.decision.by)}: ${result.decision.decision === 'keep' ? 'kept' : 'revoked'}.`,
              );
            } else {
              await reply(
                decision === 'keep'
                  ? `:white_check_mark: Kept ${what} (${line.reviewId} line ${line.n}); it is in the audit trail.`
                  : `:lock: Revoking ${what} now (${line.reviewId} line ${line.n}); the outcome follows in the thread.`,
              );
            }
          },
          async (error) => {
            const click = { continuity: deps.continuity, actorId: body.user.id, action: actionId };
            await reply(await describeClickError(error, click, logger));
          },
        ),
      );
    });
  }
}
