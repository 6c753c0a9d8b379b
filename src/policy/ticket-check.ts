import { AppError } from '../errors.js';
import { type PolicyTarget, requirementsOf } from './policy.js';
import { findTicketProblem, matchesTicketPattern } from './tickets.js';

/** Where a ticket was (not) given, for the words of a refusal: the command line or the form's field. */
export type TicketSource = 'line' | 'form';

/** Options of {@link checkTicketAllowed}. */
export interface TicketCheckOptions {
  /** @defaultValue 'line' */
  readonly source?: TicketSource;
  /** Break-glass: an emergency is not held up for a ticket, but one given must still look right. */
  readonly waiveRequired?: boolean;
}

/**
 * Checks the ticket a new request names against what its items need on `target` (`ticket:`): throws
 * TICKET_INVALID in words when one is required and missing, or when it does not match every pattern.
 * A ticket where none is asked for is kept as given.
 */
export function checkTicketAllowed(
  target: PolicyTarget,
  roles: readonly string[],
  ticket: string | null | undefined,
  options: TicketCheckOptions = {},
): void {
  const needs = requirementsOf(target, roles).ticket;
  const problem = findTicketProblem(options.waiveRequired ? { ...needs, required: false } : needs, ticket);
  if (problem === undefined) return;
  const shape = needs.patterns.length === 0 ? '' : ` matching ${needs.patterns.join(' and ')}`;
  if (problem.kind === 'malformed') {
    throw new AppError(
      'TICKET_INVALID',
      `${ticket ?? ''} is not a ticket ${target.name} accepts: it must match ${problem.patterns.join(' and ')}.`,
    );
  }
  if (options.source === 'form') {
    throw new AppError('TICKET_INVALID', `${target.name} needs a ticket${shape} for these roles.`);
  }
  const example = needs.patterns.every((p) => matchesTicketPattern(p, 'OPS-123')) ? 'OPS-123' : 'TICKET';
  throw new AppError(
    'TICKET_INVALID',
    `${roles.join(', ')} on ${target.name} needs a ticket${shape}: name it before the reason, as in "… for 2h ticket ${example} because …".`,
  );
}
