import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { parseId } from '../../lib/ids.js';
import { ACTIONS } from '../blocks/actions.js';
import { escapeMrkdwn } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';
import { handleClick } from './received.js';

/** An offboarding id as its buttons carry it; undefined for anything else. */
function asOffboardingId(value: unknown): string | undefined {
  return typeof value === 'string' ? parseId('OB', value) : undefined;
}

/** Approve and Deny on an offboarding: ack, check the value, resolve who clicked, let the service decide. */
export function registerOffboardingButtons(app: App, deps: HandlerDeps): void {
  for (const [actionId, approve] of [
    [ACTIONS.offboardApprove, true],
    [ACTIONS.offboardDeny, false],
  ] as const) {
    app.action<BlockAction<ButtonAction>>(actionId, ({ ack, body, action }) =>
      handleClick(
        deps,
        {
          ack: () => ack(),
          body,
          actionId,
          target: asOffboardingId(action.value),
          what: (id) => `${approve ? 'Approve' : 'Deny'} on offboarding ${id}`,
          notOurs: ':warning: That button does not point at a Rolecall offboarding.',
        },
        async (id, actor) => {
          const offboarding = await deps.offboarding.decide(id, approve, actor);
          return {
            text: approve
              ? `:gear: Approved: Rolecall is removing ${escapeMrkdwn(offboarding.email)} from every target now; the table on the message follows along.`
              : `:no_entry: You denied offboarding ${id}; nothing was changed.`,
          };
        },
      ),
    );
  }
}
