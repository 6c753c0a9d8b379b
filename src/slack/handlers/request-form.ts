import type { App } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Person } from '../../access/actions.js';
import { type AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { checkTicketAllowed } from '../../policy/ticket-check.js';
import { checkReason, checkTicket, parseRoles, type RequestLine } from '../../requests/parse-command.js';
import { resolveStart } from '../../requests/scheduled-start.js';
import { ACTIONS } from '../blocks/actions.js';
import { isBundleChoice } from '../blocks/bundle-choice.js';
import {
  buildRequestModal,
  PERMANENT,
  REQUEST_FIELDS,
  REQUEST_MODAL,
  type RequestModalContext,
  targetOptions,
} from '../blocks/request-modal.js';
import { buildReceived } from '../blocks/status-message.js';
import { describeErrorForSlack } from '../error-reply.js';
import { buildBundleForm, submitBundleForm } from './bundle-form.js';
import { readFields, type Values } from './form-fields.js';
import type { HandlerDeps } from './handler-deps.js';
import { keepReceipt, NOT_RECEIVED, workOnReceipt } from './received.js';

/** Callback id of the global shortcut "Request Atlas access" (manifest.yml `shortcuts`). */
export const REQUEST_SHORTCUT = 'request_access';

/**
 * Opens the request modal after checking the person may use Rolecall at all (the trigger_id is good
 * for 3 s, so callers run this outside the after-ack queue).
 */
export async function openRequestModal(
  deps: HandlerDeps,
  client: WebClient,
  triggerId: string,
  actor: Person,
  context: RequestModalContext,
): Promise<void> {
  await deps.service.overview(actor);
  await client.views.open({
    trigger_id: triggerId,
    view: buildRequestModal(deps.policy(), actor.id, context),
  });
}

/** The target and roles chosen so far in an open request modal. */
function chosenIn(values: Values): { target: string | undefined; roles: string[] } {
  return {
    target: values[REQUEST_FIELDS.target]?.value?.selected_option?.value ?? undefined,
    roles: (values[REQUEST_FIELDS.roles]?.value?.selected_options ?? []).map((o) => o.value),
  };
}

/**
 * The request form, however it is opened (`/atlas-access`, the Home tab's Request access, the global
 * shortcut): picking a target or roles updates it in place (views.update) with what the policy says
 * there; above 100 targets the menu loads as people type; the submission is checked field by field
 * (`response_action: errors`) and then filed like the one-line form.
 */
export function registerRequestForm(app: App, deps: HandlerDeps): void {
  const { logger, service, directory, replier } = deps;

  const openFor = async (
    userId: string,
    teamId: string | undefined,
    triggerId: string,
    client: WebClient,
  ): Promise<void> => {
    try {
      const actor = await directory.person(userId, teamId);
      await openRequestModal(deps, client, triggerId, actor, { channelId: null, responseUrl: null });
    } catch (error) {
      await replier.reply(userId, null, { text: describeErrorForSlack(error, logger) });
    }
  };

  app.shortcut(REQUEST_SHORTCUT, async ({ ack, shortcut, client }) => {
    await ack();
    await openFor(shortcut.user.id, shortcut.team?.id ?? undefined, shortcut.trigger_id, client);
  });

  app.action(ACTIONS.homeRequest, async ({ ack, body, client }) => {
    await ack();
    if (body.type !== 'block_actions') return;
    await openFor(body.user.id, body.team?.id ?? body.user.team_id, body.trigger_id, client);
  });

  // Picking a target or roles: the form shows what the policy says about them. Picks can overlap
  // (reading current roles takes a moment): the latest pick of a view wins, older ones give way.
  const latestPick = new Map<string, number>();
  const update = async ({ body, client }: { body: unknown; client: WebClient }) => {
    const payload = body as {
      user: { id: string; team_id?: string };
      team?: { id?: string } | null;
      actions?: { action_ts?: string }[];
      view?: { id: string; hash?: string; private_metadata: string; state: { values: Values } };
    };
    const view = payload.view;
    if (!view) return;
    const { target, roles } = chosenIn(view.state.values);
    if (target === undefined) return;
    const pickedAt = Number(payload.actions?.[0]?.action_ts ?? Date.now() / 1000);
    if ((latestPick.get(view.id) ?? 0) > pickedAt) return;
    latestPick.set(view.id, pickedAt);
    if (latestPick.size > 1_000) latestPick.delete(latestPick.keys().next().value ?? '');
    try {
      const actor = await directory.person(payload.user.id, payload.team?.id ?? payload.user.team_id);
      const context = parseContext(view.private_metadata);
      const next = isBundleChoice(target)
        ? await buildBundleForm(deps, actor, target, context)
        : buildRequestModal(deps.policy(), actor.id, context, {
            ...(await service.guide(actor, target, roles)),
            chosenRoles: roles,
          });
      if (latestPick.get(view.id) !== pickedAt) return;
      try {
        await client.views.update({
          view_id: view.id,
          ...(view.hash ? { hash: view.hash } : {}),
          view: next,
        });
      } catch (error) {
        // An older pick's update landed first: this one is the latest, so it replaces it.
        if ((error as { data?: { error?: string } }).data?.error !== 'hash_conflict') throw error;
        if (latestPick.get(view.id) === pickedAt) await client.views.update({ view_id: view.id, view: next });
      }
    } catch (error) {
      await replier.reply(payload.user.id, null, { text: describeErrorForSlack(error, logger) });
    }
  };
  for (const block_id of [REQUEST_FIELDS.target, REQUEST_FIELDS.roles]) {
    app.action({ block_id, action_id: 'value' }, async (args) => {
      await args.ack();
      await update({ body: args.body, client: args.client });
    });
  }

  app.options<'block_suggestion'>(
    { block_id: REQUEST_FIELDS.target, action_id: 'value' },
    async ({ ack, options }) => {
      await ack({ options: targetOptions(deps.policy(), options.value ?? '') });
    },
  );

  app.view(REQUEST_MODAL, async ({ ack, view, body }) => {
    const choice = chosenIn(view.state.values).target;
    if (isBundleChoice(choice)) {
      const teamId = body.team?.id ?? body.user.team_id;
      const context = parseContext(view.private_metadata);
      await submitBundleForm(deps, {
        ack,
        values: view.state.values,
        choice,
        userId: body.user.id,
        teamId,
        context,
      });
      return;
    }
    const form = readRequestForm(view.state.values, body.user.id);
    if ('errors' in form) {
      await ack({ response_action: 'errors', errors: form.errors });
      return;
    }
    try {
      const target = service.checkLine(form.line);
      checkTicketAllowed(target, form.line.roles, form.line.ticket, { source: 'form' });
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({ response_action: 'errors', errors: { [fieldFor(error)]: error.message.slice(0, 150) } });
      return;
    }
    const context = parseContext(view.private_metadata);
    // Written down before the form closes (nothing acknowledged is lost); crossed out when it is filed.
    const receiptId = await keepReceipt(deps, {
      kind: 'submission',
      userId: body.user.id,
      responseUrl: context.responseUrl,
      what: `the request form: ${form.line.roles.join(', ')} on ${form.line.target}`,
    });
    if (receiptId === undefined) {
      await ack({
        response_action: 'errors',
        errors: { [REQUEST_FIELDS.reason]: NOT_RECEIVED.slice(0, 150) },
      });
      return;
    }
    await ack();
    const reply = (message: Parameters<typeof replier.reply>[2]) =>
      replier.reply(body.user.id, context.responseUrl, message);
    await deps.afterAck(() =>
      workOnReceipt(
        deps,
        receiptId,
        async () => {
          const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
          const grantee = form.granteeId === actor.id ? actor : await directory.person(form.granteeId);
          const request = await service.submit(actor, {
            line: form.line,
            grantee,
            sourceChannelId: context.channelId,
            replyUrl: context.responseUrl,
            receiptId,
          });
          await reply(buildReceived(request));
        },
        async (error) => {
          await reply({ text: describeErrorForSlack(error, logger) });
        },
      ),
    );
  });
}

type FormResult = { line: RequestLine; granteeId: string } | { errors: Record<string, string> };

/**
 * Reads and checks the request modal's inputs; field errors are keyed by block id, as Slack wants.
 * "Who needs access" is shown only to people who may ask for others: without it, it is the person.
 */
export function readRequestForm(values: Values, userId: string): FormResult {
  const { value, errors, attempt } = readFields(values);
  const target = value(REQUEST_FIELDS.target)?.selected_option?.value;
  if (!target) errors[REQUEST_FIELDS.target] = 'Choose an organization or project.';
  const granteeId =
    values[REQUEST_FIELDS.grantee] === undefined ? userId : value(REQUEST_FIELDS.grantee)?.selected_user;
  if (!granteeId) errors[REQUEST_FIELDS.grantee] = 'Choose who needs access.';
  const roles =
    values[REQUEST_FIELDS.roles] === undefined
      ? undefined
      : attempt(REQUEST_FIELDS.roles, () =>
          parseRoles((value(REQUEST_FIELDS.roles)?.selected_options ?? []).map((o) => o.value).join(',')),
        );
  if (values[REQUEST_FIELDS.roles] === undefined && target) {
    errors[REQUEST_FIELDS.target] = 'Choose the target again: its roles did not load.';
  }
  const chosen = value(REQUEST_FIELDS.duration)?.selected_option?.value;
  const typed = value(REQUEST_FIELDS.duration)?.value?.trim();
  const durationText = chosen ?? typed ?? '';
  const durationSeconds =
    durationText === '' || durationText === PERMANENT ? undefined : parseDuration(durationText);
  if (values[REQUEST_FIELDS.duration] !== undefined && durationText === '') {
    errors[REQUEST_FIELDS.duration] = 'Choose how long you need it.';
  } else if (durationText !== '' && durationText !== PERMANENT && durationSeconds === undefined) {
    errors[REQUEST_FIELDS.duration] = 'Use a number and a unit: 30m, 4h, 2d.';
  }
  const reason = attempt(REQUEST_FIELDS.reason, () => checkReason(value(REQUEST_FIELDS.reason)?.value ?? ''));
  const ticket = attempt(REQUEST_FIELDS.ticket, () => checkTicket(value(REQUEST_FIELDS.ticket)?.value ?? ''));
  // Slack's date and time picker answers an instant (seconds), chosen in the person's own time zone.
  const picked = value(REQUEST_FIELDS.start)?.selected_date_time;
  const start =
    typeof picked === 'number'
      ? attempt(REQUEST_FIELDS.start, () => {
          const at = picked * 1000;
          resolveStart({ kind: 'instant', at }, null, Date.now(), 'leave Start later empty');
          return { kind: 'instant' as const, at };
        })
      : undefined;
  if (Object.keys(errors).length > 0 || !target || !granteeId || !roles || reason === undefined)
    return { errors };
  return {
    line: {
      ...roles,
      target,
      durationSeconds,
      reason,
      ...(ticket === undefined ? {} : { ticket }),
      ...(start === undefined ? {} : { start }),
    },
    granteeId,
  };
}

function fieldFor(error: AppError): string {
  switch (error.code) {
    case 'DURATION_INVALID':
      return REQUEST_FIELDS.duration;
    case 'TARGET_UNKNOWN':
      return REQUEST_FIELDS.target;
    case 'TICKET_INVALID':
      return REQUEST_FIELDS.ticket;
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
