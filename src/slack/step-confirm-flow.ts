import type { WebClient } from '@slack/web-api';
import type { Actor } from '../access/actions.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { Directory } from '../requests/ports.js';
import type { RequestService } from '../requests/request-service.js';
import type {
  StepConfirmation,
  StepConfirmationPatch,
  StepConfirmationState,
  StepConfirmationStore,
  StepRequestLine,
} from '../requests/step-confirmations.js';
import {
  buildStepConfirmRequest,
  buildStepConfirmSettled,
  describeStepError,
} from './blocks/step-confirm-message.js';
import { describeErrorForSlack } from './error-reply.js';
import { classifySlackError } from './notifier.js';

/** How long the person who ran a workflow has to confirm its step's on-behalf request: 1 hour. */
export const STEP_CONFIRM_WITHIN_MS = 3_600_000;
/** How often each Slack-side process ends steps past their deadline (or still to be told): 5 s. */
export const STEP_SWEEP_EVERY_MS = 5_000;
/** How long a settled confirmation is kept, to tell a late click what happened: 7 days. */
const KEEP_MS = 7 * 24 * 3_600_000;
/** How long one process holds a due confirmation before another may take it over. */
const LEASE_MS = 60_000;
/** After Slack failed to end a step, the next try comes this much later. */
const RETRY_MS = 10_000;
/** Slack's function_execution_id (`Fx…`), checked before it names a Redis key. */
const EXECUTION_ID = /^Fx[A-Za-z0-9]{1,64}$/;
const EVERY_STATE: readonly StepConfirmationState[] = [
  'pending',
  'filing',
  'filed',
  'refused',
  'cancelled',
  'expired',
];

/** True when `value` looks like Slack's function_execution_id. */
export function isExecutionId(value: string): boolean {
  return EXECUTION_ID.test(value);
}

/** A step's on-behalf request, before its runner is asked. */
export interface StepToConfirm {
  readonly executionId: string;
  /** Who ran the workflow (Slack's interactor). */
  readonly requesterId: string;
  readonly granteeId: string;
  /** The workspace the workflow ran in, when Slack says. */
  readonly teamId: string | null;
  readonly line: StepRequestLine;
}

/** What a click did: changed it (the DM shows the outcome), or found it settled already. */
export interface StepClickOutcome {
  readonly changed: boolean;
  readonly confirmation: StepConfirmation;
}

/** A message in Slack: where it is. */
export interface MessageRef {
  readonly channel: string;
  readonly ts: string;
}

/** The life of a step's on-behalf request, from the ask to the step's end. */
export interface StepConfirmFlow {
  /**
   * Stores the request as waiting and DMs its runner with Confirm / Cancel through `stepClient`, the
   * step's own client (Slack then ties the buttons to the step); a second delivery asks nothing.
   */
  ask(step: StepToConfirm, stepClient: WebClient): Promise<void>;
  /** The runner confirmed: files it now, or says it is settled (expired, cancelled, filed). */
  confirm(confirmation: StepConfirmation, actor: Actor): Promise<StepClickOutcome>;
  /** The runner cancelled: nothing is filed and the step ends with an error. */
  cancel(confirmation: StepConfirmation, by: string): Promise<StepClickOutcome>;
  /** Shows what happened in the DM that asked (no more buttons); false when Slack would not. */
  showSettled(confirmation: StepConfirmation, where?: MessageRef | null): Promise<boolean>;
  /** Ends what is due: unconfirmed past the deadline, a Confirm whose process stopped, a step still to end. */
  sweep(): Promise<void>;
}

/** Dependencies of {@link createStepConfirmFlow}. */
export interface StepConfirmFlowDeps {
  /** The bot's client: ends steps (functions.completeError) and updates the DM. */
  readonly client: WebClient;
  readonly store: StepConfirmationStore;
  readonly service: RequestService;
  readonly directory: Directory;
  readonly logger: Logger;
}

/**
 * Confirm files through the service exactly as the step would have (the policy in force at the
 * click, onBehalf, Not me for the grantee); Cancel and the deadline end the step with an error.
 * Every change is one Redis script, and anything owed (a deadline, a step to end) sits in a due set
 * that every Slack-side process sweeps, so a restart or a Slack failure loses nothing.
 */
export function createStepConfirmFlow(deps: StepConfirmFlowDeps): StepConfirmFlow {
  const { client, store, service, directory, logger } = deps;

  /** Ends the step with the reason; done once Slack took it (or says the step has ended already). */
  const completeWithError = async (confirmation: StepConfirmation): Promise<void> => {
    try {
      await client.functions.completeError({
        function_execution_id: confirmation.executionId,
        error: describeStepError(confirmation),
      });
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error;
      const ended = code === 'execution_not_in_running_state' || code === 'function_execution_not_found';
      const slackError = classifySlackError(error, `the end of workflow step ${confirmation.executionId}`);
      if (!ended && slackError.retryable) {
        logger.warn('could not end a workflow step; trying again shortly', {
          executionId: confirmation.executionId,
          error,
        });
        const at = Date.now();
        await store.move(confirmation.executionId, { from: EVERY_STATE, due: at + RETRY_MS, now: at });
        return;
      }
      if (!ended) {
        logger.error('Slack refused to end a workflow step; giving up', {
          executionId: confirmation.executionId,
          error: slackError.message,
        });
      }
    }
    await store.finish(confirmation.executionId);
  };

  const showSettled: StepConfirmFlow['showSettled'] = async (confirmation, where = confirmation.message) => {
    if (!where) return false;
    try {
      await client.chat.update({
        channel: where.channel,
        ts: where.ts,
        ...buildStepConfirmSettled(confirmation),
      });
      return true;
    } catch (error) {
      logger.warn('could not update the message that asked to confirm a workflow step', {
        executionId: confirmation.executionId,
        error,
      });
      return false;
    }
  };

  /** Files a confirmed (`filing`) request as `actor`; returns how it stands after. */
  const file = async (confirmation: StepConfirmation, actor: Actor): Promise<StepConfirmation> => {
    const { executionId, line } = confirmation;
    const settle = async (to: 'filed' | 'refused', patch: StepConfirmationPatch, due: number | 'drop') =>
      (await store.move(executionId, { from: ['filing'], to, patch, due, now: Date.now() })).confirmation ??
      confirmation;
    try {
      const request = await service.submit(actor, {
        line: { ...line, durationSeconds: line.durationSeconds ?? undefined },
        grantee: await directory.person(confirmation.granteeId),
        sourceChannelId: null,
        replyUrl: null,
        workflowExecutionId: executionId,
      });
      logger.info('filed a workflow step’s request its runner confirmed', {
        executionId,
        requestId: request.id,
      });
      return await settle('filed', { changedAt: Date.now(), requestId: request.id }, 'drop');
    } catch (error) {
      // Filed by an earlier try (a Confirm whose process stopped half-way): that request ends the step.
      if (isAppError(error) && error.details.duplicate === true) {
        return settle('filed', { changedAt: Date.now() }, 'drop');
      }
      const failure = isAppError(error) ? error.message : describeErrorForSlack(error, logger);
      const refused = await settle('refused', { changedAt: Date.now(), failure }, Date.now() + LEASE_MS);
      if (refused.state === 'refused') await completeWithError(refused);
      return refused;
    }
  };

  /** Unconfirmed past its deadline: expired, the DM says so, the step ends; else how it stands. */
  const expire = async (executionId: string): Promise<StepConfirmation | undefined> => {
    const now = Date.now();
    const moved = await store.move(executionId, {
      from: ['pending'],
      to: 'expired',
      patch: { changedAt: now },
      due: now + LEASE_MS,
      deadline: 'after',
      now,
    });
    if (!moved.ok || !moved.confirmation) return moved.confirmation;
    logger.info('a workflow step’s request was not confirmed in time; ending the step', { executionId });
    await showSettled(moved.confirmation);
    await completeWithError(moved.confirmation);
    return moved.confirmation;
  };

  /** Does what is owed for one due execution. */
  const resolve = async (executionId: string): Promise<void> => {
    const confirmation = await store.read(executionId);
    if (!confirmation) {
      await store.finish(executionId);
      return;
    }
    switch (confirmation.state) {
      case 'filed':
        await store.finish(executionId);
        return;
      case 'pending': {
        const current = await expire(executionId);
        // Not past its deadline after all: due again then.
        if (current?.state === 'pending') {
          await store.move(executionId, { from: ['pending'], due: current.deadline, now: Date.now() });
        }
        return;
      }
      case 'filing': {
        logger.warn('resuming a workflow step confirmed in a process that stopped before filing it', {
          executionId,
        });
        const filed = await file(
          confirmation,
          await directory.person(confirmation.decidedBy ?? '', confirmation.teamId ?? undefined),
        );
        if (filed.state === 'filed') await showSettled(filed);
        return;
      }
      default:
        await completeWithError(confirmation);
    }
  };

  /** Moves a pending confirmation on a click; `ok: false` with how it stands when it is settled. */
  const decide = (confirmation: StepConfirmation, to: 'filing' | 'cancelled', by: string) => {
    const now = Date.now();
    return store.move(confirmation.executionId, {
      from: ['pending'],
      to,
      patch: { changedAt: now, decidedBy: by },
      due: now + LEASE_MS,
      // A Confirm counts only before the deadline; a Cancel files nothing either way.
      ...(to === 'filing' ? { deadline: 'before' as const } : {}),
      now,
    });
  };

  return {
    async ask(step, stepClient) {
      if (!isExecutionId(step.executionId)) {
        throw new AppError(
          'COMMAND_INVALID',
          'Slack sent a workflow step execution id Rolecall does not recognise.',
        );
      }
      const now = Date.now();
      const asked = { ...step, askedAt: now, deadline: now + STEP_CONFIRM_WITHIN_MS };
      if (!(await store.open(asked, KEEP_MS))) {
        logger.info('workflow step delivered again; its runner was asked already', {
          executionId: step.executionId,
        });
        return;
      }
      const pending = await store.read(step.executionId);
      if (!pending) throw new AppError('STORAGE_UNAVAILABLE', 'Rolecall could not keep the step’s request.');
      try {
        const opened = await stepClient.conversations.open({ users: step.requesterId });
        const channel = opened.channel?.id;
        if (!channel) throw new Error(`Slack opened no direct message with ${step.requesterId}`);
        const posted = await stepClient.chat.postMessage({
          channel,
          ...buildStepConfirmRequest(pending),
          unfurl_links: false,
          unfurl_media: false,
        });
        if (posted.ts) {
          const message = { channel, ts: posted.ts };
          await store.move(step.executionId, {
            from: EVERY_STATE,
            patch: { message },
            due: 'keep',
            now: Date.now(),
          });
        }
        logger.info('asked the person who ran a workflow to confirm its on-behalf request', {
          executionId: step.executionId,
          requesterId: step.requesterId,
          granteeId: step.granteeId,
        });
      } catch (error) {
        // Nobody can confirm what nobody was asked: nothing is filed and the step ends saying why.
        const code = (error as { data?: { error?: string } }).data?.error ?? (error as Error).message;
        logger.warn('could not ask the person who ran a workflow to confirm its step', {
          executionId: step.executionId,
          error,
        });
        const at = Date.now();
        const moved = await store.move(step.executionId, {
          from: ['pending'],
          to: 'refused',
          patch: {
            changedAt: at,
            failure: `Rolecall could not ask the person who ran the workflow to confirm the request in a direct message (Slack said: ${code}); nothing was filed.`,
          },
          due: at + LEASE_MS,
          now: at,
        });
        if (moved.ok && moved.confirmation) await completeWithError(moved.confirmation);
      }
    },

    async confirm(confirmation, actor) {
      const moved = await decide(confirmation, 'filing', actor.id);
      if (!moved.ok) {
        // Past its deadline but not swept yet: it expires now (the DM says so).
        const current =
          moved.confirmation?.state === 'pending'
            ? await expire(confirmation.executionId)
            : moved.confirmation;
        return { changed: false, confirmation: current ?? confirmation };
      }
      return { changed: true, confirmation: await file(moved.confirmation ?? confirmation, actor) };
    },

    async cancel(confirmation, by) {
      const moved = await decide(confirmation, 'cancelled', by);
      if (!moved.ok || !moved.confirmation) {
        return { changed: false, confirmation: moved.confirmation ?? confirmation };
      }
      logger.info('the person who ran a workflow cancelled its on-behalf request', {
        executionId: confirmation.executionId,
      });
      await completeWithError(moved.confirmation);
      return { changed: true, confirmation: moved.confirmation };
    },

    showSettled,

    async sweep() {
      const now = Date.now();
      for (const executionId of await store.claimDue(now, now + LEASE_MS, 50)) {
        await resolve(executionId).catch((error: unknown) =>
          logger.warn('could not settle a due workflow step confirmation', { executionId, error }),
        );
      }
    },
  };
}
