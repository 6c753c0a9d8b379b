import type { KnownBlock } from '@slack/types';
import { type PolicyTarget, requirementsOf } from '../../policy/policy.js';
import { MAX_TICKET_LENGTH } from '../../policy/tickets.js';
import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn } from '../mrkdwn.js';

/** Block id of the request form's Ticket input (its action id is `value`, like every field). */
export const TICKET_FIELD = 'ticket';

/**
 * The approval message's "Ticket" field: the ticket linked where the policy says tickets are read
 * (`ticket.url`, kept on the request when it was filed), else as text; both escaped once. Null
 * without a ticket.
 */
export function describeTicketField(request: AccessRequest): string | null {
  if (request.ticket === null) return null;
  const ticket = escapeMrkdwn(request.ticket);
  return request.ticketUrl === null
    ? `*Ticket*\n${ticket}`
    : `*Ticket*\n<${escapeMrkdwn(request.ticketUrl)}|${ticket}>`;
}

/**
 * What the form says under its Ticket field: required or not for the roles chosen (before any is
 * chosen, whether some roles of the target need one) and the shape it must have.
 */
export function describeTicketHint(target: PolicyTarget | undefined, chosenRoles: readonly string[]): string {
  if (target === undefined) return 'A change or incident ticket, such as OPS-123, if you have one.';
  const chosen = chosenRoles.filter((role) => target.roles.includes(role));
  const needs = requirementsOf(target, chosen.length > 0 ? chosen : target.roles).ticket;
  const shape = needs.patterns.length === 0 ? '' : ` It must match ${needs.patterns.join(' and ')}.`;
  if (!needs.required) return `Optional: a change or incident ticket, such as OPS-123.${shape}`;
  return chosen.length > 0 ? `Required for these roles.${shape}` : `Required for some roles here.${shape}`;
}

/** The request form's Ticket input: optional to Slack, checked against the policy on submit. */
export function buildTicketInput(hint: string): KnownBlock {
  return {
    type: 'input',
    block_id: TICKET_FIELD,
    optional: true,
    label: { type: 'plain_text', text: 'Ticket' },
    hint: { type: 'plain_text', text: hint.slice(0, 2000) },
    element: {
      type: 'plain_text_input',
      action_id: 'value',
      max_length: MAX_TICKET_LENGTH,
      placeholder: { type: 'plain_text', text: 'OPS-123' },
    },
  };
}
