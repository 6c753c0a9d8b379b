/**
 * A request's ticket in its "requested" audit entry, written and read back in one place: the entry's
 * detail ends with `with ticket OPS-123 (https://…/OPS-123)` (no link when the policy gives no url),
 * so the audit stream and its export carry the ticket without a field of their own.
 */

/** The ticket (one word) and its link in parentheses, at the very end of a detail. */
const TICKET_NOTE = / with ticket (\S+?)(?: \((\S+)\))?$/;

/** `detail` with the ticket (and its link) noted at its end; `detail` itself without a ticket. */
export function withTicketNote(detail: string, ticket: string | null, url: string | null): string {
  if (ticket === null) return detail;
  return `${detail} with ticket ${ticket}${url === null ? '' : ` (${url})`}`;
}

/** The ticket and link an audit detail notes (see {@link withTicketNote}); undefined when it notes none. */
export function readTicketNote(detail: string): { ticket: string; url: string | null } | undefined {
  const match = TICKET_NOTE.exec(detail);
  if (!match?.[1]) return undefined;
  return { ticket: match[1], url: match[2] ?? null };
}
