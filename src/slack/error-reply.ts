import { randomBytes } from 'node:crypto';
import type { Continuity } from '../continuity/continuity.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import { escapeMrkdwn, mention, mentionPrincipals } from './mrkdwn.js';

/**
 * Like {@link describeErrorForSlack}, for the failure of a click on a Rolecall message: a record the
 * store should have and lost is said as such (continuity/), never as a plain "there is no request".
 */
export async function describeClickError(
  error: unknown,
  click: { readonly continuity: Continuity; readonly actorId: string; readonly action: string },
  logger: Logger,
): Promise<string> {
  let explained = error;
  try {
    explained = await click.continuity.explain(error, {
      source: 'click',
      actorId: click.actorId,
      action: click.action,
    });
  } catch (cause) {
    logger.warn('could not check a missing record against the store', { error: cause });
  }
  return describeErrorForSlack(explained, logger);
}

/**
 * Turns any error into one sentence for Slack. AppErrors say what went wrong; anything else is
 * logged with a reference the person can quote, and never shows a stack.
 */
export function describeErrorForSlack(error: unknown, logger: Logger): string {
  if (isAppError(error)) {
    const text = escapeMrkdwn(error.message);
    switch (error.code) {
      case 'COMMAND_INVALID': {
        const example = error.details.example;
        return typeof example === 'string'
          ? `:warning: ${text}\nFor example: \`${escapeMrkdwn(example)}\`\nSee \`/atlas-access help\` for more.`
          : `:warning: ${text}\nSee \`/atlas-access help\` for more.`;
      }
      case 'REQUEST_STATE_CONFLICT': {
        const by = error.details.decidedBy;
        return typeof by === 'string'
          ? `:information_source: ${text.replace(/\.$/, '')} by ${mention(by)}.`
          : `:information_source: ${text}`;
      }
      case 'STORE_LOST':
        return `:rotating_light: ${text}`;
      case 'STORAGE_UNAVAILABLE':
      case 'ATLAS_UNAVAILABLE':
        return `:hourglass: ${text} Please try again in a minute.`;
      case 'USER_GROUP_UNCONFIRMED': {
        // The groups (and approvers) it names, by id: shown as mentions. Ids are [A-Z0-9] only.
        const who = error.details.who;
        const named = new Set(
          typeof who === 'string' ? who.split(',').filter((id) => /^[SUW][A-Z0-9]+$/.test(id)) : [],
        );
        return `:hourglass: ${[...named].reduce(
          (said, id) => said.replace(new RegExp(`\\b${id}\\b`, 'g'), mentionPrincipals([id])),
          text,
        )}`;
      }
      default: {
        // Principals come from the policy, whose loader only lets ids and group names through.
        const who = error.details.who;
        return typeof who === 'string' && who !== ''
          ? `:warning: ${text}\nWho may: ${mentionPrincipals(who.split(','))}.`
          : `:warning: ${text}`;
      }
    }
  }
  const reference = randomBytes(4).toString('hex');
  logger.error('unexpected error in a Slack handler', { reference, error });
  return `:x: Something went wrong on Rolecall's side (reference ${reference}). Nothing was changed; the details are in its logs.`;
}
