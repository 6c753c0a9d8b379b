/**
 * Tickets (`ticket:` on a target or a rule): whether a request must name a change or incident ticket,
 * what a ticket must look like, and where it is read. Pure: the schema is in ticket-schema.ts.
 */

/** What a target or a rule says about tickets (`ticket:`); a key left out says nothing. */
export interface TicketRule {
  /** A request must name a ticket. */
  readonly required?: boolean | undefined;
  /** A regular expression the whole ticket must match (anchored: `[A-Z]+-[0-9]+`, not a part of it). */
  readonly pattern?: string | undefined;
  /** Where a ticket is read, `{ticket}` standing for it (URL-encoded). */
  readonly url?: string | undefined;
}

/** What a request for some items needs of its ticket, combined over its items. */
export interface TicketRequirement {
  /** Required when any item requires one. */
  readonly required: boolean;
  /** Every item's pattern: a ticket must match all of them. */
  readonly patterns: readonly string[];
  /** The first item's link template (in the order asked); undefined = the ticket is shown as text. */
  readonly url: string | undefined;
}

/** A ticket as people write it: 1-100 characters, no spaces (it is one word of the command line). */
export const TICKET_TEXT = /^\S{1,100}$/;

/** The longest ticket Rolecall keeps. */
export const MAX_TICKET_LENGTH = 100;

/**
 * One item's ticket rule: its rule's keys over its target's (a rule can make the target's ticket
 * required and keep its pattern and url).
 */
export function mergeTicketRules(
  target: TicketRule | undefined,
  rule: TicketRule | undefined,
): TicketRule | undefined {
  if (target === undefined) return rule;
  if (rule === undefined) return target;
  return {
    required: rule.required ?? target.required,
    pattern: rule.pattern ?? target.pattern,
    url: rule.url ?? target.url,
  };
}

/** Combines the ticket rules of every requested item: required if any is, all patterns, the first url. */
export function combineTicketRules(rules: readonly (TicketRule | undefined)[]): TicketRequirement {
  const given = rules.filter((rule): rule is TicketRule => rule !== undefined);
  return {
    required: given.some((rule) => rule.required === true),
    patterns: [...new Set(given.flatMap((rule) => (rule.pattern === undefined ? [] : [rule.pattern])))],
    url: given.find((rule) => rule.url !== undefined)?.url,
  };
}

/** Whether `ticket` matches `pattern` as a whole (the pattern is anchored at both ends). */
export function matchesTicketPattern(pattern: string, ticket: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(ticket);
}

/** What is wrong with a request's ticket under a requirement: missing, or the patterns it fails. */
export type TicketProblem =
  | { readonly kind: 'missing' }
  | { readonly kind: 'malformed'; readonly patterns: readonly string[] };

/**
 * Checks a ticket (null or undefined = none given) against a requirement; undefined when it fits. A
 * ticket given where none is asked for is kept as given.
 */
export function findTicketProblem(
  requirement: TicketRequirement,
  ticket: string | null | undefined,
): TicketProblem | undefined {
  if (ticket === null || ticket === undefined || ticket === '') {
    return requirement.required ? { kind: 'missing' } : undefined;
  }
  const failed = requirement.patterns.filter((pattern) => !matchesTicketPattern(pattern, ticket));
  return failed.length > 0 ? { kind: 'malformed', patterns: failed } : undefined;
}

/** The link to a ticket: the template with `{ticket}` replaced by the URL-encoded ticket; null without one. */
export function ticketUrlOf(template: string | undefined, ticket: string | null): string | null {
  if (template === undefined || ticket === null) return null;
  return template.replaceAll('{ticket}', encodeURIComponent(ticket));
}
