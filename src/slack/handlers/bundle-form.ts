import type { AckFn, ViewResponseAction } from '@slack/bolt';
import type { ModalView } from '@slack/types';
import type { Person } from '../../access/actions.js';
import { isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import type { BundleLine } from '../../requests/parse-bundle.js';
import { checkReason, checkTicket } from '../../requests/parse-command.js';
import { buildBundleFiled } from '../blocks/bundle-block.js';
import { BUNDLE_CHOICE } from '../blocks/bundle-choice.js';
import { buildBundleModal } from '../blocks/bundle-modal.js';
import { PERMANENT, REQUEST_FIELDS, type RequestModalContext } from '../blocks/request-modal.js';
import { describeErrorForSlack } from '../error-reply.js';
import { readFields, type Values } from './form-fields.js';
import type { HandlerDeps } from './handler-deps.js';
import { keepReceipt, NOT_RECEIVED, workOnReceipt } from './received.js';

/** What a view submission's ack takes: nothing (close the form) or errors on its fields. */
type FormAck = AckFn<void> | AckFn<ViewResponseAction>;

/** The request form for a bundle chosen in its target menu (`bundle:NAME`), for `actor`. */
export async function buildBundleForm(
  deps: HandlerDeps,
  actor: Person,
  choice: string,
  context: RequestModalContext,
): Promise<ModalView> {
  const guide = await deps.service.bundleGuide(actor, choice.slice(BUNDLE_CHOICE.length));
  return buildBundleModal(deps.policy(), context, guide);
}

/** Reads the bundle form's inputs; field errors are keyed by block id, as Slack wants. */
export function readBundleForm(
  values: Values,
  choice: string,
): BundleLine | { errors: Record<string, string> } {
  const { value, errors, attempt } = readFields(values);
  const chosen = value(REQUEST_FIELDS.duration)?.selected_option?.value ?? '';
  const durationSeconds = chosen === '' || chosen === PERMANENT ? undefined : parseDuration(chosen);
  if (chosen === '') errors[REQUEST_FIELDS.duration] = 'Choose how long you need it.';
  const reason = attempt(REQUEST_FIELDS.reason, () => checkReason(value(REQUEST_FIELDS.reason)?.value ?? ''));
  const ticket = attempt(REQUEST_FIELDS.ticket, () => checkTicket(value(REQUEST_FIELDS.ticket)?.value ?? ''));
  if (Object.keys(errors).length > 0 || reason === undefined) return { errors };
  return {
    name: choice.slice(BUNDLE_CHOICE.length),
    durationSeconds,
    reason,
    ...(ticket === undefined ? {} : { ticket }),
  };
}

/**
 * The request form submitted with a bundle chosen: checked field by field (`response_action: errors`,
 * naming the part), written down as a receipt, then filed like `/atlas-access request bundle:NAME`.
 */
export async function submitBundleForm(
  deps: HandlerDeps,
  submitted: {
    readonly ack: FormAck;
    readonly values: Values;
    readonly choice: string;
    readonly userId: string;
    readonly teamId: string | undefined;
    readonly context: RequestModalContext;
  },
): Promise<void> {
  const { ack, userId, context } = submitted;
  const line = readBundleForm(submitted.values, submitted.choice);
  if ('errors' in line) {
    await ack({ response_action: 'errors', errors: line.errors });
    return;
  }
  try {
    deps.service.checkBundleLine(line);
  } catch (error) {
    if (!isAppError(error)) throw error;
    const field =
      error.code === 'DURATION_INVALID'
        ? REQUEST_FIELDS.duration
        : error.code === 'TICKET_INVALID'
          ? REQUEST_FIELDS.ticket
          : REQUEST_FIELDS.target;
    await ack({ response_action: 'errors', errors: { [field]: error.message.slice(0, 150) } });
    return;
  }
  const receiptId = await keepReceipt(deps, {
    kind: 'submission',
    userId,
    responseUrl: context.responseUrl,
    what: `the request form: bundle:${line.name}`,
  });
  if (receiptId === undefined) {
    await ack({ response_action: 'errors', errors: { [REQUEST_FIELDS.reason]: NOT_RECEIVED.slice(0, 150) } });
    return;
  }
  await ack();
  const reply = (message: Parameters<HandlerDeps['replier']['reply']>[2]) =>
    deps.replier.reply(userId, context.responseUrl, message);
  await deps.afterAck(() =>
    workOnReceipt(
      deps,
      receiptId,
      async () => {
        const actor = await deps.directory.person(userId, submitted.teamId);
        const parts = await deps.service.submitBundle(actor, {
          line,
          grantee: actor,
          sourceChannelId: context.channelId,
          replyUrl: context.responseUrl,
          receiptId,
        });
        await reply(buildBundleFiled(parts));
      },
      async (error) => {
        await reply({ text: describeErrorForSlack(error, deps.logger) });
      },
    ),
  );
}
