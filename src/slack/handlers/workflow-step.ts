import type { App } from '@slack/bolt';
import { AppError, isAppError } from '../../errors.js';
import { parseDuration } from '../../lib/duration.js';
import { checkReason, parseRoles } from '../../requests/parse-command.js';
import { describeErrorForSlack } from '../error-reply.js';
import type { HandlerDeps } from './handler-deps.js';

/** Callback id of the Workflow Builder custom step (manifest.yml `functions`). */
export const REQUEST_FUNCTION = 'request_atlas_access';

/** The step's inputs as Slack sends them (manifest `input_parameters`). */
interface StepInputs {
  readonly target?: unknown;
  readonly roles?: unknown;
  readonly duration?: unknown;
  readonly reason?: unknown;
  readonly user?: unknown;
}

const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');

/**
 * The Workflow Builder step "Request Atlas access" (`function_executed`, Bolt's app.function): files
 * the request exactly as the form would, for the workflow's user, under the same policy checks. A
 * refusal ends the step at once (`fail`, the reason in words); otherwise the step stays open and a
 * worker completes it with `request_id` and `state` when the request reaches its final decision
 * (applied, denied, expired, cancelled, failed), from whichever process sees it, across restarts.
 * Source: https://docs.slack.dev/workflows/workflow-steps (custom steps need an org-ready app).
 */
export function registerWorkflowStep(app: App, deps: HandlerDeps): void {
  app.function(REQUEST_FUNCTION, async ({ inputs, fail, event }) => {
    const given = inputs as StepInputs;
    try {
      const userId = text(given.user);
      if (!/^[UW][A-Z0-9]+$/.test(userId)) {
        throw new AppError(
          'COMMAND_INVALID',
          'The step needs the person who asks (a Slack user) as its user input.',
        );
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
      const actor = await deps.directory.person(userId);
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
}
