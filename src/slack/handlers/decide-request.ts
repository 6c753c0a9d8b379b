import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { checkReason } from '../../requests/parse-command.js';
import { ACTIONS } from '../blocks/approval-message.js';
import { buildDenyModal, buildNoticeModal, DENY_MODAL, DENY_REASON } from '../blocks/deny-modal.js';
import {
  buildExtendModal,
  EXTEND_FIELDS,
  EXTEND_MODAL,
  type ExtendModalContext,
} from '../blocks/extend-modal.js';
import { describeErrorForSlack } from '../error-reply.js';
import { type EphemeralReply, postToResponseUrl } from '../respond.js';
import { endingText } from './access-command.js';
import { type HandlerDeps, submitExtension } from './submit-request.js';

/**
 * Approve, Deny and Retry on the approval message, the deny-reason modal, Cancel on the confirmation,
 * and for grants: Extend (modal) and End now for the grantee, Revoke now for approvers.
 */
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

  const endGrant = async ({
    ack,
    body,
    action,
    respond,
  }: {
    ack: () => Promise<void>;
    body: BlockAction<ButtonAction>;
    action: ButtonAction;
    respond: (message: {
      response_type: 'ephemeral';
      replace_original: boolean;
      text: string;
    }) => Promise<unknown>;
  }) => {
    await ack();
    try {
      const request = await service.end(action.value ?? '', body.user.id);
      await respond({ response_type: 'ephemeral', replace_original: false, text: endingText(request.id) });
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  };
  app.action<BlockAction<ButtonAction>>(ACTIONS.end, endGrant);
  app.action<BlockAction<ButtonAction>>(ACTIONS.revokeNow, endGrant);

  app.action<BlockAction<ButtonAction>>(ACTIONS.extend, async ({ ack, body, action, respond, client }) => {
    await ack();
    try {
      const { request } = await service.status(action.value ?? '', body.user.id);
      const end = request.grant?.revokeAt;
      const endsText = end
        ? `${request.id} (${request.roles.join(', ')} on ${request.target.name}) ends ${new Date(end).toUTCString()}.`
        : `${request.id} on ${request.target.name}.`;
      await client.views.open({
        trigger_id: body.trigger_id,
        view: buildExtendModal({ requestId: request.id, responseUrl: body.response_url ?? null }, endsText),
      });
    } catch (error) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: describeErrorForSlack(error, logger),
      });
    }
  });

  app.view(EXTEND_MODAL, async ({ ack, view, body, client }) => {
    const values = view.state.values;
    const durationText = values[EXTEND_FIELDS.duration]?.value?.value?.trim() ?? '';
    const durationSeconds = parseDuration(durationText);
    const errors: Record<string, string> = {};
    if (durationSeconds === undefined)
      errors[EXTEND_FIELDS.duration] = 'Use a number and a unit: 30m, 4h, 2d.';
    let reason = '';
    try {
      reason = checkReason(values[EXTEND_FIELDS.reason]?.value?.value ?? '');
    } catch (error) {
      errors[EXTEND_FIELDS.reason] = (error as Error).message.slice(0, 150);
    }
    if (durationSeconds === undefined || Object.keys(errors).length > 0) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    const context = parseExtendContext(view.private_metadata);
    const reply = async (message: EphemeralReply) => {
      if (context.responseUrl) {
        await postToResponseUrl(context.responseUrl, message);
        return;
      }
      const dm = await client.conversations.open({ users: body.user.id });
      if (dm.channel?.id) await client.chat.postMessage({ channel: dm.channel.id, ...message });
    };
    try {
      const { confirmation } = await submitExtension(deps, client, {
        id: context.requestId,
        actorId: body.user.id,
        durationSeconds,
        reason,
        sourceChannelId: null,
      });
      await ack();
      await reply(confirmation);
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.code === 'DURATION_INVALID') {
        await ack({
          response_action: 'errors',
          errors: { [EXTEND_FIELDS.duration]: error.message.slice(0, 150) },
        });
        return;
      }
      await ack({
        response_action: 'update',
        view: buildNoticeModal('Not extended', describeErrorForSlack(error, logger)),
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

function parseExtendContext(metadata: string): ExtendModalContext {
  try {
    const parsed = JSON.parse(metadata) as Partial<ExtendModalContext>;
    if (typeof parsed.requestId !== 'string') throw new Error('no request id');
    return { requestId: parsed.requestId, responseUrl: parsed.responseUrl ?? null };
  } catch (cause) {
    throw new AppError('INTERNAL', 'The Extend form lost track of its request; open it again.', { cause });
  }
}
