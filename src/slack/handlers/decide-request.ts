import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { isAppError } from '../../errors.js';
import { checkReason } from '../../requests/parse-command.js';
import { ACTIONS } from '../blocks/approval-message.js';
import { buildDenyModal, buildNoticeModal, DENY_MODAL, DENY_REASON } from '../blocks/deny-modal.js';
import { describeErrorForSlack } from '../error-reply.js';
import type { HandlerDeps } from './submit-request.js';

/** Approve, Deny and Retry on the approval message, the deny-reason modal, and Cancel on the confirmation. */
export function registerDecisionHandlers(app: App, deps: HandlerDeps): void {
  const { service, logger } = deps;

  app.action<BlockAction<ButtonAction>>(ACTIONS.approve, async ({ ack, body, action, respond }) => {
    await ack();
    try {
      await service.approve(action.value ?? '', body.user.id);
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.deny, async ({ ack, body, action, respond, client }) => {
    await ack();
    try {
      const request = await service.checkCanDecide(action.value ?? '', body.user.id);
      await client.views.open({ trigger_id: body.trigger_id, view: buildDenyModal(request.id) });
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.retry, async ({ ack, body, action, respond }) => {
    await ack();
    try {
      await service.retry(action.value ?? '', body.user.id);
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  });

  app.action<BlockAction<ButtonAction>>(ACTIONS.cancel, async ({ ack, body, action, respond }) => {
    await ack();
    try {
      const request = await service.cancel(action.value ?? '', body.user.id);
      await respond({
        response_type: 'ephemeral',
        replace_original: true,
        text: `:wastebasket: ${request.id} is cancelled; nothing was changed.`,
      });
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  });

  app.view(DENY_MODAL, async ({ ack, view, body }) => {
    let reason: string;
    try {
      reason = checkReason(view.state.values[DENY_REASON]?.value?.value ?? '');
    } catch (error) {
      await ack({
        response_action: 'errors',
        errors: { [DENY_REASON]: (error as Error).message.slice(0, 150) },
      });
      return;
    }
    try {
      await service.deny(view.private_metadata, body.user.id, reason);
      await ack();
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({
        response_action: 'update',
        view: buildNoticeModal('Not denied', describeErrorForSlack(error, logger)),
      });
    }
  });
}
