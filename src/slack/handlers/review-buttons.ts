import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { ACTIONS } from '../blocks/actions.js';
import { parseReviewLineValue } from '../blocks/review-message.js';
import { escapeMrkdwn, mention } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';
import { handleClick } from './received.js';

/**
 * Keep and Revoke on an access review's lines. Each acks at once, checks the button's value
 * (`RV-<n>:<line>`) before it goes near Redis, resolves who clicked and lets the review service
 * authorize and record the decision once; the person is told what happened, ephemerally.
 */
export function registerReviewButtons(app: App, deps: HandlerDeps): void {
  for (const [actionId, decision] of [
    [ACTIONS.reviewKeep, 'keep'],
    [ACTIONS.reviewRevoke, 'revoke'],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, ({ ack, body, action }) =>
      handleClick(
        deps,
        {
          ack: () => ack(),
          body,
          actionId,
          target: parseReviewLineValue(action.value),
          what: (line) => `${decision === 'keep' ? 'Keep' : 'Revoke'} on line ${line.n} of ${line.reviewId}`,
          notOurs: ':warning: That button does not point at a line of a Rolecall review.',
        },
        async (line, actor) => {
          const result = await deps.reviews.decide(line.reviewId, line.n, decision, actor);
          const team = result.line.team;
          const what = `${escapeMrkdwn(result.line.username)} · \`${escapeMrkdwn(result.line.role)}\`${team ? ` through \`${escapeMrkdwn(team.item)}\`` : ''}`;
          if (result.status === 'taken') {
            return {
              text: `:information_source: Line ${line.n} of ${line.reviewId} (${what}) was already decided by ${mention(result.decision.by)}: ${result.decision.decision === 'keep' ? 'kept' : 'revoked'}.`,
            };
          }
          return {
            text:
              decision === 'keep'
                ? `:white_check_mark: Kept ${what} (${line.reviewId} line ${line.n}); it is in the audit trail.`
                : team
                  ? `:lock: Removing ${escapeMrkdwn(result.line.username)} from \`${escapeMrkdwn(team.item)}\` now (${line.reviewId} line ${line.n}); the outcome follows in the thread.`
                  : `:lock: Revoking ${what} now (${line.reviewId} line ${line.n}); the outcome follows in the thread.`,
          };
        },
      ),
    );
  }
}
