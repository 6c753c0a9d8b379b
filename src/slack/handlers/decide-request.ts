import type {
  AllMiddlewareArgs,
  App,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
} from '@slack/bolt';
import type { Actor } from '../../access/actions.js';
import { AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { parseId } from '../../lib/ids.js';
import { checkReason } from '../../requests/parse-command.js';
import { STATE_WORDS } from '../../requests/state-machine.js';
import { ACTIONS } from '../blocks/actions.js';
import { buildDetails } from '../blocks/approval-message.js';
import { buildDenyModal, buildNoticeModal, DENY_MODAL, DENY_REASON } from '../blocks/deny-modal.js';
import {
  buildExtendModal,
  EXTEND_FIELDS,
  EXTEND_MODAL,
  type ExtendModalContext,
} from '../blocks/extend-modal.js';
import { buildReceived } from '../blocks/status-message.js';
import { labelDryRun } from '../dry-run-label.js';
import { describeClickError } from '../error-reply.js';
import { escapeMrkdwn, formatRoles, slackDate } from '../mrkdwn.js';
import type { EphemeralReply } from '../respond.js';
import { endingText } from './access-command.js';
import type { HandlerDeps } from './handler-deps.js';
import { handleClick } from './received.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** What one button does once the click is acked, the request id checked and the actor known. */
type ButtonWork = (id: string, actor: Actor, args: ButtonArgs) => Promise<EphemeralReply | undefined>;

/**
 * Every button on Rolecall's messages (Approve, Deny, Retry, Cancel, Not me, Details, Acknowledge,
 * End now, Revoke now, Extend) and the Deny and Extend modals. Each acks at once, checks that the button's value
 * is a request id before it goes near Redis, resolves the actor and lets the service authorize.
 */
export function registerDecisionHandlers(app: App, deps: HandlerDeps): void {
  const { service, logger, directory, replier } = deps;
  // A view sent as an ack's answer never passes the Web API client, so it is labelled here.
  const notice = (title: string, text: string) => {
    const view = buildNoticeModal(title, text);
    return deps.dryRun ? (labelDryRun({ view }).view as typeof view) : view;
  };

  /**
   * Registers a button. One that opens a modal (`opensModal`) skips the after-ack queue: its
   * trigger_id is good for 3 s only, so it must not wait behind a burst of other work.
   */
  const button = (
    actionId: string,
    label: string,
    work: ButtonWork,
    options: { opensModal?: boolean } = {},
  ): void => {
    app.action<BlockAction<ButtonAction>>(actionId, (args) =>
      handleClick(
        deps,
        {
          ack: () => args.ack(),
          body: args.body,
          actionId,
          target: parseId('AR', args.action.value),
          what: (id) => `${label} on ${id}`,
          notOurs: ':warning: That button does not point at a Rolecall request.',
          ...(options.opensModal ? { opensModal: true } : {}),
        },
        (id, actor) => work(id, actor, args),
      ),
    );
  };

  button(ACTIONS.approve, 'Approve', async (id, actor) => {
    await service.approve(id, actor);
    return undefined;
  });

  button(
    ACTIONS.deny,
    'Deny',
    async (id, actor, { client, body }) => {
      const request = await service.checkCanDecide(id, actor);
      await client.views.open({ trigger_id: body.trigger_id, view: buildDenyModal(request.id) });
      return undefined;
    },
    { opensModal: true },
  );

  button(ACTIONS.retry, 'Retry', async (id, actor) => {
    await service.retry(id, actor);
    return undefined;
  });

  button(ACTIONS.cancel, 'Cancel', async (id, actor) => {
    const request = await service.cancel(id, actor);
    return { text: `:wastebasket: ${request.id} is cancelled; nothing was changed.`, replaceOriginal: true };
  });

  button(ACTIONS.cancelScheduled, 'Cancel before start', async (id, actor) => {
    const request = await service.cancel(id, actor);
    return { text: `:wastebasket: ${request.id} is cancelled before its start; nothing was applied.` };
  });

  button(ACTIONS.notMe, 'Not me', async (id, actor) => {
    const request = await service.cancel(id, actor);
    return {
      text: `:wastebasket: ${request.id} is cancelled: nothing was changed, and the approvers and the person who asked can see that you said it was not you.`,
      replaceOriginal: true,
    };
  });

  button(ACTIONS.acknowledge, 'Acknowledge', async (id, actor) => {
    const request = await service.acknowledge(id, actor);
    return { text: `:eyes: You acknowledged the break-glass grant ${request.id}; it is in the audit trail.` };
  });

  button(ACTIONS.details, 'Details', async (id, actor) => {
    const { request, approver } = await service.viewDetails(id, actor);
    return buildDetails(request, { approver });
  });

  const endGrant: ButtonWork = async (id, actor) => ({ text: endingText((await service.end(id, actor)).id) });
  button(ACTIONS.end, 'End now', endGrant);
  button(ACTIONS.revokeNow, 'Revoke now', endGrant);

  button(
    ACTIONS.extend,
    'Extend',
    async (id, actor, { client, body }) => {
      const { request } = await service.status(id, actor);
      if (request.state !== 'applied' || request.endedEarly !== null) {
        return {
          text: `:information_source: ${request.id} ${request.state === 'applied' ? 'is ending now' : `is ${STATE_WORDS[request.state].label}`}; there is nothing to extend.`,
        };
      }
      const end = request.grant?.revokeAt;
      const endsText = end
        ? `${request.id} (${formatRoles(request.grant?.held ?? request.roles)} on *${escapeMrkdwn(request.target.name)}*) ends ${slackDate(end)}.`
        : `${request.id} on *${escapeMrkdwn(request.target.name)}*.`;
      await client.views.open({
        trigger_id: body.trigger_id,
        view: buildExtendModal({ requestId: request.id, responseUrl: body.response_url ?? null }, endsText),
      });
      return undefined;
    },
    { opensModal: true },
  );

  app.view(EXTEND_MODAL, async ({ ack, view, body }) => {
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
    const context = parseExtendContext(view.private_metadata);
    if (durationSeconds === undefined || Object.keys(errors).length > 0 || context === undefined) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    try {
      const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
      const request = await service.extend(actor, {
        id: context.requestId,
        durationSeconds,
        reason,
        sourceChannelId: null,
        replyUrl: context.responseUrl,
      });
      await ack();
      await replier.reply(body.user.id, context.responseUrl, buildReceived(request));
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
        view: notice(
          'Not extended',
          await describeClickError(
            error,
            { continuity: deps.continuity, actorId: body.user.id, action: 'extend' },
            logger,
          ),
        ),
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
      const id = parseId('AR', view.private_metadata);
      if (id === undefined)
        throw new AppError('REQUEST_NOT_FOUND', 'This form does not point at a Rolecall request.');
      const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
      await service.deny(id, actor, reason);
      await ack();
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({
        response_action: 'update',
        view: notice(
          'Not denied',
          await describeClickError(
            error,
            { continuity: deps.continuity, actorId: body.user.id, action: 'deny' },
            logger,
          ),
        ),
      });
    }
  });
}

/** The Extend modal's metadata, or undefined when it is not a request id and a string URL. */
function parseExtendContext(metadata: string): ExtendModalContext | undefined {
  try {
    const parsed = JSON.parse(metadata) as Partial<ExtendModalContext>;
    const requestId = parseId('AR', typeof parsed.requestId === 'string' ? parsed.requestId : undefined);
    if (requestId === undefined) return undefined;
    return { requestId, responseUrl: typeof parsed.responseUrl === 'string' ? parsed.responseUrl : null };
  } catch {
    return undefined;
  }
}
