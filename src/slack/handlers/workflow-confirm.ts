import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { StepConfirmation } from '../../requests/step-confirmations.js';
import { ACTIONS } from '../blocks/actions.js';
import { buildStepConfirmSettled, describeStepConfirmation } from '../blocks/step-confirm-message.js';
import { describeErrorForSlack } from '../error-reply.js';
import { mention } from '../mrkdwn.js';
import type { EphemeralReply } from '../respond.js';
import {
  createStepConfirmFlow,
  isExecutionId,
  type MessageRef,
  STEP_SWEEP_EVERY_MS,
  type StepClickOutcome,
  type StepConfirmFlow,
  type StepToConfirm,
} from '../step-confirm-flow.js';
import type { HandlerDeps } from './handler-deps.js';

/** Asks the runner of a workflow step, and ends the steps nobody confirmed in time. */
export interface StepConfirmations {
  /** See StepConfirmFlow.ask; throws (nothing filed) when this process has no confirmation store. */
  ask(step: StepToConfirm, stepClient: WebClient): Promise<void>;
  /** Sweeps every STEP_SWEEP_EVERY_MS in this process until stop(). */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Confirm and Cancel on the DM that asks the person who ran a workflow about the on-behalf request
 * its step would file in their name (see step-confirm-flow.ts). Each click is acked at once, its
 * execution id checked before it names a Redis key; only that person may click (anyone else is
 * refused in words), and a click on something settled is told what happened. Slack documents this
 * as a custom step's function-scoped interactivity: https://docs.slack.dev/tools/bolt-js/concepts/custom-steps
 */
export function registerStepConfirmations(app: App, deps: HandlerDeps): StepConfirmations {
  const { logger } = deps;
  const store = deps.stepConfirmations;
  const flow: StepConfirmFlow = createStepConfirmFlow({
    client: app.client,
    store,
    service: deps.service,
    directory: deps.directory,
    logger,
  });

  const button = (
    actionId: string,
    work: (
      flow: StepConfirmFlow,
      confirmation: StepConfirmation,
      clicked: { userId: string; teamId?: string },
    ) => Promise<StepClickOutcome>,
  ): void => {
    app.action<BlockAction<ButtonAction>>(actionId, async ({ ack, body, action }) => {
      await ack();
      const reply = (message: EphemeralReply) => deps.replier.reply(body.user.id, body.response_url, message);
      const executionId = action.value ?? '';
      if (!isExecutionId(executionId)) {
        logger.warn('a workflow confirmation button carried no step Rolecall can look up', { actionId });
        await reply({
          text: ':warning: That button does not point at a workflow step Rolecall is waiting on.',
        });
        return;
      }
      await deps.afterAck(async () => {
        try {
          const confirmation = await store.read(executionId);
          if (!confirmation) {
            await reply({
              text: ':information_source: Rolecall no longer keeps this workflow step’s request (it ended more than 7 days ago). Run the workflow again to ask again.',
            });
            return;
          }
          if (body.user.id !== confirmation.requesterId) {
            logger.warn('refused a workflow confirmation click by someone other than who ran it', {
              executionId,
              userId: body.user.id,
            });
            await reply({
              text: `:no_entry: Only ${mention(confirmation.requesterId)}, who ran the workflow, can confirm or cancel this request.`,
            });
            return;
          }
          const teamId = body.team?.id ?? body.user.team_id;
          const outcome = await work(flow, confirmation, {
            userId: body.user.id,
            ...(teamId === undefined ? {} : { teamId }),
          });
          if (!outcome.changed) {
            await reply({
              text: `:information_source: Already settled. ${describeStepConfirmation(outcome.confirmation)}`,
            });
            return;
          }
          // The DM they clicked in shows the outcome; a reply when it cannot be updated.
          const clicked: MessageRef | null = body.container?.message_ts
            ? {
                channel: String(body.container.channel_id ?? body.channel?.id ?? ''),
                ts: String(body.container.message_ts),
              }
            : null;
          if (!(await flow.showSettled(outcome.confirmation, clicked ?? confirmation.message))) {
            await reply(buildStepConfirmSettled(outcome.confirmation));
          }
        } catch (error) {
          await reply({ text: describeErrorForSlack(error, logger) });
        }
      });
    });
  };

  button(ACTIONS.stepConfirm, async (flow, confirmation, clicked) =>
    flow.confirm(confirmation, await deps.directory.person(clicked.userId, clicked.teamId)),
  );
  button(ACTIONS.stepCancel, (flow, confirmation, clicked) => flow.cancel(confirmation, clicked.userId));

  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  return {
    async ask(step, stepClient) {
      await flow.ask(step, stepClient);
    },

    start() {
      if (timer) return;
      const sweep = flow.sweep;
      timer = setInterval(() => {
        sweeping ??= sweep()
          .catch((error: unknown) => logger.warn('workflow step confirmation sweep failed', { error }))
          .finally(() => {
            sweeping = undefined;
          });
      }, STEP_SWEEP_EVERY_MS);
      timer.unref();
    },

    async stop() {
      clearInterval(timer);
      timer = undefined;
      await sweeping;
    },
  };
}
