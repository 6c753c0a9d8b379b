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

/** " It must match …." for a requirement with patterns; empty without. */
function describeShape(patterns: readonly string[]): string {
  return patterns.length === 0 ? '' : ` It must match ${patterns.join(' and ')}.`;
}

/**
 * What the form says under its Ticket field: required or not for the roles chosen, and the shape it
 * must have. Before any role is chosen: whether every role, some or none here need one, and the shape
 * only when every role asks the same.
 */
export function describeTicketHint(target: PolicyTarget | undefined, chosenRoles: readonly string[]): string {
  const optional = 'Optional: a change or incident ticket, such as OPS-123.';
  if (target === undefined) return 'A change or incident ticket, such as OPS-123, if you have one.';
  const chosen = chosenRoles.filter((role) => target.roles.includes(role));
  if (chosen.length > 0) {
    const needs = requirementsOf(target, chosen).ticket;
    return `${needs.required ? 'Required for these roles.' : optional}${describeShape(needs.patterns)}`;
  }
  const each = target.roles.map((role) => requirementsOf(target, [role]).ticket);
  const first = each[0]?.patterns ?? [];
  const shape = each.every((t) => t.patterns.join('\n') === first.join('\n')) ? describeShape(first) : '';
  const required = each.filter((t) => t.required).length;
  const said =
    required === 0 ? optional : required === each.length ? 'Required here.' : 'Required for some roles here.';
  return `${said}${shape}`;
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
