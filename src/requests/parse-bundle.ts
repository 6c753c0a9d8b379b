import { AppError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import { BUNDLE_NAME } from '../policy/bundle-schema.js';
import { type Command, checkReason, checkTicket, parseCommand } from './parse-command.js';

/** A correct bundle request, shown next to its parse errors. */
export const BUNDLE_EXAMPLE = '/atlas-access request bundle:incident-responder for 2h because incident 42';

/** `request bundle:NAME [for DURATION] [ticket TICKET] because REASON`: every part of a bundle at once. */
export interface BundleLine {
  /** The bundle's name, lower-cased (the policy's names are). */
  readonly name: string;
  readonly durationSeconds: number | undefined;
  readonly reason: string;
  /** The change or incident ticket it names; absent = none. */
  readonly ticket?: string | undefined;
}

/** What `/atlas-access <text>` asks for, a bundle request included. */
export type AccessCommand = Command | ({ kind: 'bundle' } & BundleLine);

/** Whether the text after `request` asks for a bundle (`bundle:NAME …`). */
const ASKS_BUNDLE = /^\s*request\s+bundle:/i;

/**
 * Parses the text after `/atlas-access`: a bundle request here, everything else by parseCommand.
 * Throws COMMAND_INVALID with what is wrong and an example.
 */
export function parseAccessCommand(text: string): AccessCommand {
  if (!ASKS_BUNDLE.test(text)) return parseCommand(text);
  try {
    return { kind: 'bundle', ...parseBundleLine(text.trim().replace(/^request\s+/i, '')) };
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'COMMAND_INVALID') throw error;
    throw new AppError('COMMAND_INVALID', error.message, { details: { example: BUNDLE_EXAMPLE } });
  }
}

/** Parses `bundle:NAME [for DURATION] [ticket TICKET] because REASON`. */
export function parseBundleLine(text: string): BundleLine {
  const match =
    /^bundle:(?<name>\S*)(?:\s+for\s+(?<duration>\S+))?(?:\s+ticket\s+(?<ticket>\S+))?\s+because\s+(?<reason>[\s\S]+)$/i.exec(
      text.trim(),
    );
  if (!match?.groups) {
    if (/^bundle:\S*\s+on\s/i.test(text.trim())) {
      throw invalid(
        'A bundle names its own targets: leave out "on TARGET" (request bundle:NAME for 2h because …).',
      );
    }
    if (!/\sbecause\s/i.test(` ${text} `)) throw invalid('Say why you need access: "because REASON".');
    if (/^bundle:\S*\s+(?:for\s+\S+\s+)?from\s/i.test(text.trim())) {
      throw invalid(
        'A bundle starts once it is decided: leave out "from" (request bundle:NAME for 2h because …).',
      );
    }
    throw invalid(
      'A bundle request must read: request bundle:NAME [for DURATION] [ticket TICKET] because REASON.',
    );
  }
  const { name = '', duration, ticket, reason = '' } = match.groups;
  if (!BUNDLE_NAME.test(name.toLowerCase())) {
    throw invalid(
      `"bundle:${name}" is not a bundle name: letters, digits, "_" or "-", as the policy names it.`,
    );
  }
  let durationSeconds: number | undefined;
  if (duration !== undefined) {
    durationSeconds = parseDuration(duration);
    if (durationSeconds === undefined) {
      throw invalid(`"${duration}" is not a duration. Use a number and a unit: 30m, 4h, 2d (or 45s).`);
    }
  }
  const checkedTicket = ticket === undefined ? undefined : checkTicket(ticket);
  return {
    name: name.toLowerCase(),
    durationSeconds,
    ...(checkedTicket === undefined ? {} : { ticket: checkedTicket }),
    reason: checkReason(reason),
  };
}

function invalid(message: string): AppError {
  return new AppError('COMMAND_INVALID', message);
}
