import { withTicketNote } from '../audit/ticket-note.js';
import type { RequestDraft } from './model.js';
import { describeInstant } from './scheduled-start.js';

/**
 * The detail of a request's first audit entry: how it was filed (an extension, a bundle's part, a
 * Workflow Builder step), when it starts if scheduled, and its ticket with the link.
 */
export function describeFiled(draft: RequestDraft): string {
  const how = draft.extends
    ? `requested (extends ${draft.extends})`
    : draft.bundle
      ? `requested as part of bundle ${draft.bundle.name} (${draft.bundle.parts.map((p) => p.id).join(', ')})`
      : draft.workflow
        ? 'requested through a Workflow Builder step'
        : 'requested';
  const start = draft.startsAt == null ? '' : ` to start at ${describeInstant(draft.startsAt)}`;
  return withTicketNote(`${how}${start}`, draft.ticket ?? null, draft.ticketUrl ?? null);
}
