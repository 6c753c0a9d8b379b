import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { parseId } from '../../lib/ids.js';
import { ACTIONS } from '../blocks/approval-message.js';
import { describeClickError } from '../error-reply.js';
import { escapeMrkdwn } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';
import { keepReceipt, NOT_RECEIVED, workOnReceipt } from './received.js';

/** An offboarding id as its buttons carry it; undefined for anything else. */
function asOffboardingId(value: unknown): string | undefined {
  return typeof value === 'string' ? parseId('OB', value) : undefined;
}

/** Approve and Deny on an offboarding: ack, check the value, resolve who clicked, let the service decide. */
export function registerOffboardingButtons(app: App, deps: HandlerDeps): void {
  const { directory, replier, logger } = deps;
  for (const [actionId, approve] of [
    [ACTIONS.offboardApprove, true],
    [ACTIONS.offboardDeny, false],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action }) => {
      const reply = (text: string) => replier.reply(body.user.id, body.response_url, { text });
      const id = asOffboardingId(action.value);
      // Written down before the ack (nothing acknowledged is lost).
      const receiptId = id
        ? await keepReceipt(deps, {
            kind: 'action',
            userId: body.user.id,
            responseUrl: body.response_url ?? null,
            what: `${approve ? 'Approve' : 'Deny'} on offboarding ${id}`,
          })
        : undefined;
      await ack();
      if (!id) {
        await reply(':warning: That button does not point at a Rolecall offboarding.');
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
            const offboarding = await deps.offboarding.decide(id, approve, actor);
            await reply(
              approve
                ? `:gear: Approved: Rolecall is removing ${escapeMrkdwn(offboarding.email)} from every target now; the table on the message follows along.`
                : `:no_entry: You denied offboarding ${id}; nothing was changed.`,
            );
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
