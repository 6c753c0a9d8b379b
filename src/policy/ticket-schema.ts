import { z } from 'zod';
import { repeatsRepetition } from './nested-repetition.js';

/** Where a ticket is read: http(s), no spaces or Slack link characters, with `{ticket}` in it. */
const TICKET_URL = /^https?:\/\/[^\s<>|]+$/;

/** Whether `pattern` compiles as a JavaScript regular expression. */
function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/**
 * `ticket:` on a target or a rule: whether a request must name a ticket (change, incident), what it
 * must look like and where it is read. A rule's keys replace the target's for its roles.
 */
export const ticketSchema = z
  .object(
    {
      required: z
        .boolean({ error: 'required is true or false' })
        .describe(
          'A request must name a ticket: "… for 2h ticket OPS-123 because …", or the form’s Ticket field.',
        )
        .optional(),
      pattern: z
        .string({ error: 'pattern is a regular expression such as [A-Z]+-[0-9]+' })
        .min(1, 'pattern must not be empty')
        .max(200, 'pattern is at most 200 characters')
        .refine(compiles, 'pattern is not a valid regular expression')
        .refine(
          (pattern) => !repeatsRepetition(pattern),
          'pattern repeats a group that itself repeats (such as (a+)+), which can take a ticket minutes to check; write it without nesting',
        )
        .describe(
          'A regular expression the whole ticket must match (it is anchored at both ends), e.g. [A-Z]+-[0-9]+.',
        )
        .optional(),
      url: z
        .string({ error: 'url is a link with {ticket} in it' })
        .regex(TICKET_URL, 'url must be an http(s) link without spaces, <, > or |')
        .refine((v) => v.includes('{ticket}'), 'url must contain {ticket}, where the ticket goes')
        .describe(
          'Where a ticket is read, {ticket} standing for it (URL-encoded): https://example.atlassian.net/browse/{ticket}. Approval messages link the ticket there.',
        )
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' && issue.keys
          ? `unknown key(s): ${issue.keys.join(', ')}`
          : 'ticket must be a mapping with required, pattern and/or url',
    },
  )
  .strict()
  .describe(
    'Tickets: whether a request must name one (required), what it must look like (pattern) and where it is read (url). On a rule, each key replaces the target’s for its roles.',
  );

/** `ticket:` as the schema hands it over. */
export type PolicyFileTicket = z.infer<typeof ticketSchema>;
