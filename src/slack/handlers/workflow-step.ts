import type { App } from '@slack/bolt';
import { AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { checkReason, parseRoles } from '../../requests/parse-command.js';
import { describeErrorForSlack } from '../error-reply.js';
import type { HandlerDeps } from './handler-deps.js';
import { registerStepConfirmations, type StepConfirmations } from './workflow-confirm.js';

/** Callback id of the Workflow Builder custom step (manifest.yml `functions`). */
export const REQUEST_FUNCTION = 'request_atlas_access';

/** The step's inputs as Slack sends them (manifest `input_parameters`). */
interface StepInputs {
  readonly target?: unknown;
  readonly roles?: unknown;
  readonly duration?: unknown;
  readonly reason?: unknown;
  /** `slack#/types/interactivity`: Slack's own record of who started the workflow. */
  readonly interactivity?: { readonly interactor?: { readonly id?: unknown } } | null;
  readonly user?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
const USER_ID = /^[UW][A-Z0-9]+$/;

/**
 * The Workflow Builder step "Request Atlas access" (`function_executed`, Bolt's app.function): files
 * the request exactly as the form would, under the same policy checks. The requester is the person
 * Slack says started the workflow (the `interactivity` input's interactor), never a user id the
 * workflow's author typed; `user`, when set to someone else, makes it a request on their behalf
 * (`onBehalf` applies, and they get Not me), filed only once the person who ran the workflow
 * confirms it (see workflow-confirm.ts): the author chose it, not them. A refusal ends the step at
 * once (`fail`, the reason in words); otherwise a worker completes it with `request_id` and `state`
 * at the request's final decision (applied, denied, expired, cancelled, failed), from whichever
 * process sees it, across restarts. An execution Slack delivers twice files (or asks) once.
 * Source: https://docs.slack.dev/workflows/workflow-steps (custom steps need an org-ready app).
 */
export function registerWorkflowStep(app: App, deps: HandlerDeps): StepConfirmations {
  const confirmations = registerStepConfirmations(app, deps);
  app.function(REQUEST_FUNCTION, async ({ inputs, fail, event, client, context }) => {
    const given = inputs as StepInputs;
    try {
      const requesterId = text(given.interactivity?.interactor?.id);
      if (!USER_ID.test(requesterId)) {
        throw new AppError(
          'COMMAND_INVALID',
          'The step needs its "Who runs the workflow" input set to the workflow’s interactivity, so Rolecall knows who asks.',
        );
      }
      const granteeId = text(given.user) || requesterId;
      if (!USER_ID.test(granteeId)) {
        throw new AppError('COMMAND_INVALID', 'The step’s "Person who needs access" is not a Slack user.');
      }
      const roles = parseRoles(text(given.roles));
      const durationText = text(given.duration);
      const durationSeconds = durationText === '' ? undefined : parseDuration(durationText);
      if (durationText !== '' && durationSeconds === undefined) {
        throw new AppError('DURATION_INVALID', `"${durationText}" is not a duration: use 30m, 4h or 2d.`);
      }
      const line = {
        ...roles,
        target: text(given.target),
        durationSeconds,
        reason: checkReason(text(given.reason)),
      };
      if (granteeId !== requesterId) {
        // The workflow's author named someone else: nothing in the runner's name until they confirm.
        const target = deps.service.checkLine(line);
        await confirmations.ask(
          {
            executionId: event.function_execution_id,
            requesterId,
            granteeId,
            teamId: context.teamId ?? null,
            line: { ...line, target: target.name, durationSeconds: line.durationSeconds ?? null },
          },
          client,
        );
        return;
      }
      // The workspace the workflow ran in (on an org-wide install, where its user groups are read).
      const actor = await deps.directory.person(requesterId, context.teamId);
      await deps.service.submit(actor, {
        line,
        grantee: actor,
        sourceChannelId: null,
        replyUrl: null,
        workflowExecutionId: event.function_execution_id,
      });
    } catch (error) {
      // The same execution delivered again: its request exists and will complete the step.
      if (isAppError(error) && error.details.duplicate === true) {
        deps.logger.info('workflow step delivered again; its request is filed already', {
          executionId: event.function_execution_id,
        });
        return;
      }
      const reason = isAppError(error) ? error.message : describeErrorForSlack(error, deps.logger);
      await fail({ error: reason });
    }
  });
  return confirmations;
}
