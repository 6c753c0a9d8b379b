import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { parseId } from '../../lib/ids.js';
import { ACTIONS } from '../blocks/approval-message.js';
import { describeClickError } from '../error-reply.js';
import { escapeMrkdwn } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';

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
      await ack();
      const reply = (text: string) => replier.reply(body.user.id, body.response_url, { text });
      const id = asOffboardingId(action.value);
      if (!id) {
        await reply(':warning: That button does not point at a Rolecall offboarding.');
        return;
      }
      await deps.afterAck(async () => {
        try {
          const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
          const offboarding = await deps.offboarding.decide(id, approve, actor);
          await reply(
            approve
              ? `:gear: Approved: Rolecall is removing ${escapeMrkdwn(offboarding.email)} from every target now; the table on the message follows along.`
              : `:no_entry: You denied offboarding ${id}; nothing was changed.`,
          );
        } catch (error) {
          const click = { continuity: deps.continuity, actorId: body.user.id, action: actionId };
          await reply(await describeClickError(error, click, logger));
        }
      });
    });
  }
}
