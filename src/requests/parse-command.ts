import { AppError, isAppError } from '../errors.js';
import {
  DATABASE_ITEM_PREFIX,
  DATABASE_LEVEL,
  isDatabaseItem,
  isTeamItem,
  levelOfItem,
  TEAM_ITEM_PREFIX,
  TEAM_NAME,
  teamItem,
  teamOfItem,
} from '../lib/access-items.js';
import { parseDuration } from '../lib/duration.js';
import { parseId } from '../lib/ids.js';
import { ROLE_NAME } from '../lib/patterns.js';
import { type ScopeKind, scopeOfRole } from '../lib/scope.js';
import { MAX_TICKET_LENGTH, TICKET_TEXT } from '../policy/tickets.js';
import { parseStart, type StartAt } from './scheduled-start.js';

/** The longest reason Rolecall stores; longer text is refused, not cut. */
export const MAX_REASON_LENGTH = 500;

/** A correct one-line request, shown next to every parse error. */
export const REQUEST_EXAMPLE =
  '/atlas-access request GROUP_READ_ONLY on payments-prod for 4h because incident 42';

/** A request as typed on one line, before the policy has looked at it. */
export interface RequestLine {
  readonly roles: readonly string[];
  /** The kind of scope every role in it belongs to. */
  readonly scope: ScopeKind;
  readonly target: string;
  readonly durationSeconds: number | undefined;
  readonly reason: string;
  /** The change or incident ticket it names (`ticket OPS-123`); absent = none. */
  readonly ticket?: string | undefined;
  /** When the grant is to start (`from 22:00`), resolved in the requester's time zone when filed; absent = at approval. */
  readonly start?: StartAt | undefined;
}

/** What `/atlas-access <text>` asks for. */
export type Command =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'cancel' | 'status' | 'end'; id: string }
  /** `nudge ID`: the requester reminds the approvers of their pending request now, once. */
  | { kind: 'nudge'; id: string }
  | ({ kind: 'extend' } & ExtendLine)
  | ({ kind: 'request' | 'breakglass' } & RequestLine)
  /** `review TARGET`: start an access review now; `status TARGET`: its latest reviews and the next. */
  | { kind: 'review' | 'review-status'; target: string }
  /** `review all`: a review of every target the person approves. */
  | { kind: 'review-all' }
  /** `offboard EMAIL because REASON`: remove a leaving person from every target. */
  | { kind: 'offboard'; email: string; reason: string };

/** `extend ID for DURATION because REASON`: make an active grant end later. */
export interface ExtendLine {
  readonly id: string;
  readonly durationSeconds: number;
  readonly reason: string;
}

/** A correct break-glass line, shown next to its parse errors. */
export const BREAKGLASS_EXAMPLE =
  '/atlas-access breakglass GROUP_OWNER on payments-prod for 1h because outage INC-7';

/** A correct offboarding, shown next to its parse errors. */
export const OFFBOARD_EXAMPLE = '/atlas-access offboard dana@example.com because she left the company';

/** A correct extension, shown next to its parse errors. */
export const EXTEND_EXAMPLE = '/atlas-access extend AR-0042 for 2h because the migration runs late';

/** Parses the text after `/atlas-access`; throws COMMAND_INVALID with what is wrong and an example. */
export function parseCommand(text: string): Command {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'modal' };
  const [word = '', ...rest] = trimmed.split(/\s+/);
  switch (word.toLowerCase()) {
    case 'help':
      return { kind: 'help' };
    case 'request':
      return { kind: 'request', ...withExample(REQUEST_EXAMPLE, () => parseRequestLine(rest.join(' '))) };
    case 'breakglass': {
      const line = withExample(BREAKGLASS_EXAMPLE, () => parseRequestLine(rest.join(' ')));
      if (line.start !== undefined) {
        throw invalid(
          'Break-glass access starts now; leave "from" out, or ask for a scheduled grant with /atlas-access request.',
        );
      }
      return { kind: 'breakglass', ...line };
    }
    case 'list':
      return { kind: 'list' };
    case 'review': {
      if (rest.length !== 1) {
        throw invalid(
          'Say which target: /atlas-access review payments-prod, or every one you approve: /atlas-access review all.',
        );
      }
      // A target named "all" is reviewed by its 24-hex Atlas id.
      if (rest[0]?.toLowerCase() === 'all') return { kind: 'review-all' };
      return { kind: 'review', target: rest[0] ?? '' };
    }
    case 'offboard':
      return { kind: 'offboard', ...withExample(OFFBOARD_EXAMPLE, () => parseOffboardLine(rest.join(' '))) };
    case 'cancel':
    case 'status':
    case 'end':
    case 'nudge': {
      // `status TARGET`: a target's reviews rather than a request.
      if (word.toLowerCase() === 'status' && rest.length === 1 && parseId('AR', rest[0]) === undefined) {
        return { kind: 'review-status', target: rest[0] ?? '' };
      }
      const id = parseId('AR', rest[0]);
      if (id === undefined || rest.length > 1) {
        throw invalid(`Say which request: /atlas-access ${word.toLowerCase()} AR-0042.`);
      }
      return { kind: word.toLowerCase() as 'cancel' | 'status' | 'end' | 'nudge', id };
    }
    case 'extend':
      return { kind: 'extend', ...withExample(EXTEND_EXAMPLE, () => parseExtendLine(rest.join(' '))) };
    default:
      throw invalid(`"${word}" is not something /atlas-access knows. Try /atlas-access help.`);
  }
}

/** Parses `EMAIL because REASON`; the email is lower-cased (Atlas usernames are). */
export function parseOffboardLine(text: string): { email: string; reason: string } {
  const match = /^(<mailto:[^>]+>|\S+)\s+because\s+(.+)$/is.exec(text.trim());
  if (!match) throw invalid('Write it as: offboard EMAIL because REASON.');
  // Slack may send an email as a link: <mailto:dana@example.com|dana@example.com>.
  const email = (match[1] ?? '').replace(/^<mailto:([^|>]+)(?:\|[^>]*)?>$/i, '$1').toLowerCase();
  if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(email)) {
    throw invalid(`${email} is not an email address; Atlas usernames are emails.`);
  }
  return { email, reason: checkReason(match[2] ?? '') };
}

/**
 * Parses `ROLE[,ROLE...] on TARGET [from START] [for DURATION] [ticket TICKET] because REASON` (a
 * role may be `team:NAME`; `from` may also follow the duration).
 */
export function parseRequestLine(text: string): RequestLine {
  const match =
    /^(?<roles>.*?)\s+on\s+(?<target>\S+)(?:\s+from\s+(?<start>\S+))?(?:\s+for\s+(?<duration>\S+))?(?:\s+from\s+(?<startAfter>\S+))?(?:\s+ticket\s+(?<ticket>\S+))?\s+because\s+(?<reason>[\s\S]+)$/i.exec(
      text.trim(),
    );
  if (!match?.groups) {
    if (!/\son\s/i.test(` ${text} `))
      throw invalid('Say which org or project the roles are for: "on TARGET".');
    if (!/\sbecause\s/i.test(` ${text} `)) throw invalid('Say why you need access: "because REASON".');
    throw invalid(
      'The request must read: ROLE[,ROLE...] on TARGET [from START] [for DURATION] [ticket TICKET] because REASON.',
    );
  }
  const { roles: roleText = '', target = '', duration, ticket, reason = '' } = match.groups;
  const startText = match.groups.start ?? match.groups.startAfter;
  if (match.groups.start !== undefined && match.groups.startAfter !== undefined) {
    throw invalid('Say one start: "from 22:00".');
  }
  const roles = parseRoles(roleText);
  let durationSeconds: number | undefined;
  if (duration !== undefined) {
    durationSeconds = parseDuration(duration);
    if (durationSeconds === undefined) {
      throw invalid(`"${duration}" is not a duration. Use a number and a unit: 30m, 4h, 2d (or 45s).`);
    }
  }
  return {
    ...roles,
    target,
    durationSeconds,
    ...(startText === undefined ? {} : { start: parseStart(startText) }),
    ...(ticket === undefined ? {} : { ticket: checkTicket(ticket) }),
    reason: checkReason(reason),
  };
}

/**
 * Trims a ticket and checks it is one word of at most 100 characters; empty means none (undefined).
 * Whether the policy requires one, or what it must look like, is the policy's to say.
 */
export function checkTicket(text: string): string | undefined {
  const ticket = text.trim();
  if (ticket === '') return undefined;
  if (ticket.length > MAX_TICKET_LENGTH) {
    throw invalid(
      `The ticket is ${ticket.length} characters long; a ticket is at most ${MAX_TICKET_LENGTH}.`,
    );
  }
  if (!TICKET_TEXT.test(ticket)) throw invalid('A ticket is one word without spaces, such as OPS-123.');
  return ticket;
}

/** Parses `ID for DURATION because REASON`. */
export function parseExtendLine(text: string): ExtendLine {
  const match = /^(?<id>\S+)\s+for\s+(?<duration>\S+)\s+because\s+(?<reason>[\s\S]+)$/i.exec(text.trim());
  const id = parseId('AR', match?.groups?.id ?? text.trim().split(/\s+/)[0]);
  if (id === undefined)
    throw invalid('Say which grant to extend: extend AR-0042 for DURATION because REASON.');
  if (!match?.groups) throw invalid('An extension must read: extend ID for DURATION because REASON.');
  const { duration = '', reason = '' } = match.groups;
  const durationSeconds = parseDuration(duration);
  if (durationSeconds === undefined) {
    throw invalid(`"${duration}" is not a duration. Use a number and a unit: 30m, 4h, 2d (or 45s).`);
  }
  return { id, durationSeconds, reason: checkReason(reason) };
}

/**
 * Parses a comma-separated list of roles and team memberships (`team:NAME`) and the one scope they all
 * share. Role names are upper-cased; a team keeps its name as typed (the policy matches it).
 */
export function parseRoles(text: string): { roles: string[]; scope: ScopeKind } {
  const roles = [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((r) => r.trim())
        .filter((r) => r !== '')
        .map((r) =>
          /^team:/i.test(r)
            ? teamItem(r.slice(TEAM_ITEM_PREFIX.length))
            : /^db:/i.test(r)
              ? `${DATABASE_ITEM_PREFIX}${r.slice(DATABASE_ITEM_PREFIX.length).toLowerCase()}`
              : r.toUpperCase(),
        ),
    ),
  ];
  if (roles.length === 0) throw invalid('Name at least one role, e.g. GROUP_READ_ONLY.');
  const badTeams = roles.filter((r) => isTeamItem(r) && !TEAM_NAME.test(teamOfItem(r) ?? ''));
  if (badTeams.length > 0) {
    throw invalid(
      `${badTeams.join(', ')}: name a team as team:NAME, with the name the policy gives it (letters, digits, ".", "_", "-").`,
    );
  }
  const badLevels = roles.filter((r) => isDatabaseItem(r) && !DATABASE_LEVEL.test(levelOfItem(r) ?? ''));
  if (badLevels.length > 0) {
    throw invalid(
      `${badLevels.join(', ')}: name database access as db:LEVEL, with a level the policy gives the project (e.g. db:orders-read).`,
    );
  }
  const bad = roles.filter((r) => !isTeamItem(r) && !isDatabaseItem(r) && !ROLE_NAME.test(r));
  if (bad.length > 0) {
    throw invalid(
      `${bad.join(', ')} ${bad.length === 1 ? 'is not an Atlas role name' : 'are not Atlas role names'}: roles start with ORG_ (organization) or GROUP_ (project); a team is team:NAME, database access db:LEVEL.`,
    );
  }
  const scopes = new Set(roles.map(scopeOfRole));
  if (scopes.size > 1) {
    throw invalid(
      'Ask for organization things (ORG_ roles, teams) and project (GROUP_) roles in separate requests.',
    );
  }
  return { roles, scope: scopeOfRole(roles[0] as string) as ScopeKind };
}

/** Trims a reason and checks it is present and not too long. */
export function checkReason(text: string): string {
  const reason = text.trim();
  if (reason === '') throw invalid('Say why you need access: "because REASON".');
  if (reason.length > MAX_REASON_LENGTH) {
    throw invalid(`The reason is ${reason.length} characters long; keep it under ${MAX_REASON_LENGTH}.`);
  }
  return reason;
}

function invalid(message: string): AppError {
  return new AppError('COMMAND_INVALID', message);
}

/** Runs a sub-parser; its COMMAND_INVALID errors carry `details.example`, a correct line of that form. */
function withExample<T>(example: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!isAppError(error, 'COMMAND_INVALID')) throw error;
    throw new AppError('COMMAND_INVALID', error.message, { details: { example } });
  }
}
