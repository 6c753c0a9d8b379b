import type { App, ViewStateValue } from '@slack/bolt';
import { type AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { checkReason, parseCommand, parseRoles, type RequestLine } from '../../requests/parse-command.js';
import { buildHelpMessage } from '../blocks/help-message.js';
import {
  buildRequestModal,
  REQUEST_FIELDS,
  REQUEST_MODAL,
  type RequestModalContext,
} from '../blocks/request-modal.js';
import { buildListMessage, buildReceived, buildStatusMessage } from '../blocks/status-message.js';
import { describeErrorForSlack } from '../error-reply.js';
import { decodeSlackText } from '../mrkdwn.js';
import type { HandlerDeps } from './handler-deps.js';

/** The slash command name, as in manifest.yml. */
export const COMMAND = '/atlas-access';

/** What a requester sees in the ack of a request or an extension, before anything is stored. */
export const CHECKING =
  ':hourglass_flowing_sand: Got it. Rolecall is checking your request; you will hear here in a moment.';

/** What the person who ends a grant sees at once; the outcome follows when Atlas is done. */
export function endingText(requestId: string): string {
  return `:lock: Ending ${requestId} now. You will get a message when the roles are removed.`;
}

/**
 * `/atlas-access` in all its forms, and the request modal's submission. Each acks first (Slack
 * allows 3 s), then resolves who is asking, calls the service (which authorizes) and replies through
 * the response_url, or by DM when that no longer works. Nothing here reads Atlas.
 */
export function registerAccessCommand(app: App, deps: HandlerDeps): void {
  const { logger, service, directory, replier } = deps;

  app.command(COMMAND, async ({ command, ack, client }) => {
    let parsed: ReturnType<typeof parseCommand>;
    try {
      parsed = parseCommand(decodeSlackText(command.text));
    } catch (error) {
      await ack({ response_type: 'ephemeral', text: describeErrorForSlack(error, logger) });
      return;
    }
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', ...buildHelpMessage(deps.policy()) });
      return;
    }
    // A request is answered in the ack itself (no extra call); the worker confirms it moments later.
    if (parsed.kind === 'request' || parsed.kind === 'extend' || parsed.kind === 'breakglass')
      await ack({ response_type: 'ephemeral', text: CHECKING });
    else await ack();
    const reply = (message: Parameters<typeof replier.reply>[2]) =>
      replier.reply(command.user_id, command.response_url, message);
    const run = async () => {
      try {
        const actor = await directory.person(command.user_id, command.team_id);
        switch (parsed.kind) {
          case 'modal': {
            await service.overview(actor);
            const context: RequestModalContext = {
              channelId: command.channel_id,
              responseUrl: command.response_url,
            };
            await client.views.open({
              trigger_id: command.trigger_id,
              view: buildRequestModal(deps.policy(), command.user_id, context),
            });
            return;
          }
          case 'request': {
            const { kind: _kind, ...line } = parsed;
            await service.submit(actor, {
              line,
              grantee: actor,
              sourceChannelId: command.channel_id,
              replyUrl: command.response_url,
            });
            return;
          }
          case 'breakglass': {
            const { kind: _kind, ...line } = parsed;
            await service.breakGlass(actor, {
              line,
              grantee: actor,
              sourceChannelId: command.channel_id,
              replyUrl: command.response_url,
            });
            return;
          }
          case 'extend': {
            await service.extend(actor, {
              id: parsed.id,
              durationSeconds: parsed.durationSeconds,
              reason: parsed.reason,
              sourceChannelId: command.channel_id,
              replyUrl: command.response_url,
            });
            return;
          }
          case 'end': {
            const request = await service.end(parsed.id, actor);
            await reply({ text: endingText(request.id) });
            return;
          }
          case 'cancel': {
            const request = await service.cancel(parsed.id, actor);
            await reply({ text: `:wastebasket: ${request.id} is cancelled; nothing was changed.` });
            return;
          }
          case 'status': {
            const { request, audit } = await service.status(parsed.id, actor);
            await reply(buildStatusMessage(request, audit));
            return;
          }
          case 'list':
            await reply(buildListMessage(await service.overview(actor)));
            return;
        }
      } catch (error) {
        await reply({ text: describeErrorForSlack(error, logger) });
      }
    };
    // Opening the modal skips the after-ack queue: its trigger_id is good for 3 s only.
    await (parsed.kind === 'modal' ? run() : deps.afterAck(run));
  });

  app.view(REQUEST_MODAL, async ({ ack, view, body }) => {
    const form = readRequestForm(view.state.values);
    if ('errors' in form) {
      await ack({ response_action: 'errors', errors: form.errors });
      return;
    }
    try {
      service.check(form.line);
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({ response_action: 'errors', errors: { [fieldFor(error)]: error.message.slice(0, 150) } });
      return;
    }
    await ack();
    const context = parseContext(view.private_metadata);
    const reply = (message: Parameters<typeof replier.reply>[2]) =>
      replier.reply(body.user.id, context.responseUrl, message);
    await deps.afterAck(async () => {
      try {
        const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
        const grantee = form.granteeId === actor.id ? actor : await directory.person(form.granteeId);
        const request = await service.submit(actor, {
          line: form.line,
          grantee,
          sourceChannelId: context.channelId,
          replyUrl: context.responseUrl,
        });
        await reply(buildReceived(request));
      } catch (error) {
        await reply({ text: describeErrorForSlack(error, logger) });
      }
    });
  });
}

type FormResult = { line: RequestLine; granteeId: string } | { errors: Record<string, string> };

/** Reads and checks the request modal's inputs; field errors are keyed by block id, as Slack wants. */
export function readRequestForm(values: Record<string, Record<string, ViewStateValue>>): FormResult {
  const value = (block: string) => values[block]?.value;
  const errors: Record<string, string> = {};
  const attempt = <T>(block: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      errors[block] = error instanceof Error ? error.message.slice(0, 150) : 'Invalid value';
      return undefined;
    }
  };
  const target = value(REQUEST_FIELDS.target)?.selected_option?.value;
  if (!target) errors[REQUEST_FIELDS.target] = 'Choose an organization or project.';
  const granteeId = value(REQUEST_FIELDS.grantee)?.selected_user;
  if (!granteeId) errors[REQUEST_FIELDS.grantee] = 'Choose who needs access.';
  const roles = attempt(REQUEST_FIELDS.roles, () =>
    parseRoles((value(REQUEST_FIELDS.roles)?.selected_options ?? []).map((o) => o.value).join(',')),
  );
  const durationText = value(REQUEST_FIELDS.duration)?.value?.trim() ?? '';
  const durationSeconds = durationText === '' ? undefined : parseDuration(durationText);
  if (durationText !== '' && durationSeconds === undefined) {
    errors[REQUEST_FIELDS.duration] = 'Use a number and a unit: 30m, 4h, 2d.';
  }
  const reason = attempt(REQUEST_FIELDS.reason, () => checkReason(value(REQUEST_FIELDS.reason)?.value ?? ''));
  if (Object.keys(errors).length > 0 || !target || !granteeId || !roles || reason === undefined)
    return { errors };
  return { line: { ...roles, target, durationSeconds, reason }, granteeId };
}

function fieldFor(error: AppError): string {
  switch (error.code) {
    case 'DURATION_INVALID':
      return REQUEST_FIELDS.duration;
    case 'TARGET_UNKNOWN':
      return REQUEST_FIELDS.target;
    default:
      return REQUEST_FIELDS.roles;
  }
}

function parseContext(metadata: string): RequestModalContext {
  try {
    const parsed = JSON.parse(metadata) as Partial<RequestModalContext>;
    return {
      channelId: typeof parsed.channelId === 'string' ? parsed.channelId : null,
      responseUrl: typeof parsed.responseUrl === 'string' ? parsed.responseUrl : null,
    };
  } catch {
    return { channelId: null, responseUrl: null };
  }
}
