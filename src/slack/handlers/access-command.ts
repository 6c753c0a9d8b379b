import type { App } from '@slack/bolt';
import { parseAccessCommand } from '../../requests/parse-bundle.js';
import { buildBundleFiled } from '../blocks/bundle-block.js';
import { buildHelpMessage } from '../blocks/help-message.js';
import { buildReviewStatus } from '../blocks/review-message.js';
import { buildReviewAllReply, buildReviewStartReply } from '../blocks/review-start-message.js';
import { buildListMessage, buildStatusMessage } from '../blocks/status-message.js';
import { labelDryRun } from '../dry-run-label.js';
import { describeErrorForSlack } from '../error-reply.js';
import { decodeSlackText, escapeMrkdwn } from '../mrkdwn.js';
import { linkOpenReviews } from '../review-links.js';
import type { HandlerDeps } from './handler-deps.js';
import { keepReceipt, NOT_RECEIVED, workOnReceipt } from './received.js';
import { openRequestModal } from './request-form.js';

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

  app.command(COMMAND, async ({ command, ack: ackCommand, client }) => {
    // ATLAS_DRY_RUN: the ack's message says so too, like every message sent through the Web API.
    const ack: typeof ackCommand = (response) =>
      ackCommand(deps.dryRun && typeof response === 'object' ? labelDryRun(response) : response);
    let parsed: ReturnType<typeof parseAccessCommand>;
    try {
      parsed = parseAccessCommand(decodeSlackText(command.text));
    } catch (error) {
      await ack({ response_type: 'ephemeral', text: describeErrorForSlack(error, logger) });
      return;
    }
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', ...buildHelpMessage(deps.policy()) });
      return;
    }
    const files =
      parsed.kind === 'request' ||
      parsed.kind === 'extend' ||
      parsed.kind === 'breakglass' ||
      parsed.kind === 'bundle';
    // Written down before the ack, so a process that dies after it still ends in an answer (the
    // sweeper's). Opening the modal changes nothing, and its trigger_id cannot wait.
    const receiptId =
      parsed.kind === 'modal'
        ? undefined
        : await keepReceipt(deps, {
            kind: files ? 'submission' : 'action',
            userId: command.user_id,
            responseUrl: command.response_url,
            what: `${COMMAND} ${decodeSlackText(command.text)}`,
          });
    if (parsed.kind !== 'modal' && receiptId === undefined) {
      await ack({ response_type: 'ephemeral', text: NOT_RECEIVED });
      return;
    }
    // A request is answered in the ack itself (no extra call); the worker confirms it moments later.
    if (files) await ack({ response_type: 'ephemeral', text: CHECKING });
    else await ack();
    const reply = (message: Parameters<typeof replier.reply>[2]) =>
      replier.reply(command.user_id, command.response_url, message);
    const run = () =>
      workOnReceipt(
        deps,
        receiptId,
        async () => {
          const actor = await directory.person(command.user_id, command.team_id);
          switch (parsed.kind) {
            case 'modal': {
              await openRequestModal(deps, client, command.trigger_id, actor, {
                channelId: command.channel_id,
                responseUrl: command.response_url,
              });
              return;
            }
            case 'request':
            case 'breakglass': {
              const { kind, ...line } = parsed;
              const submission = {
                line,
                grantee: actor,
                sourceChannelId: command.channel_id,
                replyUrl: command.response_url,
                ...(receiptId === undefined ? {} : { receiptId }),
              };
              await (kind === 'request'
                ? service.submit(actor, submission)
                : service.breakGlass(actor, submission));
              return;
            }
            case 'bundle': {
              const { kind: _, ...line } = parsed;
              const parts = await service.submitBundle(actor, {
                line,
                grantee: actor,
                sourceChannelId: command.channel_id,
                replyUrl: command.response_url,
                ...(receiptId === undefined ? {} : { receiptId }),
              });
              await reply(buildBundleFiled(parts));
              return;
            }
            case 'extend': {
              await service.extend(actor, {
                id: parsed.id,
                durationSeconds: parsed.durationSeconds,
                reason: parsed.reason,
                sourceChannelId: command.channel_id,
                replyUrl: command.response_url,
                ...(receiptId === undefined ? {} : { receiptId }),
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
            case 'nudge': {
              const request = await service.nudge(parsed.id, actor);
              await reply({
                text: `:bell: The approvers of ${request.id} were reminded; a request can be nudged once.`,
              });
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
            case 'review': {
              // Started, or the review already open (or being started): the reply says which.
              const outcome = await deps.reviews.start(actor, parsed.target);
              const links = await linkOpenReviews(client, [outcome], logger);
              await reply(buildReviewStartReply(outcome, links, Date.now()));
              return;
            }
            case 'review-all': {
              const result = await deps.reviews.startAll(actor);
              const links = await linkOpenReviews(client, result.outcomes, logger);
              await reply(buildReviewAllReply(result, links, Date.now()));
              return;
            }
            case 'review-status':
              await reply(buildReviewStatus(await deps.reviews.status(actor, parsed.target)));
              return;
            case 'offboard': {
              const offboarding = await deps.offboarding.ask(actor, parsed.email, parsed.reason);
              await reply({
                text: `:outbox_tray: Offboarding *${offboarding.id}* of ${escapeMrkdwn(offboarding.email)} is waiting for approval in <#${offboarding.channelId}>.`,
              });
              return;
            }
          }
        },
        async (error) => {
          await reply({ text: describeErrorForSlack(error, logger) });
        },
      );
    // Opening the modal skips the after-ack queue: its trigger_id is good for 3 s only.
    await (parsed.kind === 'modal' ? run() : deps.afterAck(run));
  });
}
