import { SLACK_USER_ID } from '../lib/patterns.js';

/**
 * Decodes the three entities Slack puts in slash-command text (`&amp;`, `&lt;`, `&gt;`), once, on the
 * way in (api.slack.com/reference/surfaces/formatting#escaping). Modal inputs arrive unencoded.
 */
export function decodeSlackText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Escapes user text for mrkdwn so it cannot ping (`<!channel>`), mention or hide a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Someone's own words (a reason, a deny note) as a block quote: escaped once, every line quoted, so
 * the text can never look like one of Rolecall's own lines ("*Roles after approval*"). Goes in a
 * text object with `verbatim: true`, so Slack does not turn names or URLs in it into links either.
 */
export function quoteUserText(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => `> ${escapeMrkdwn(line)}`)
    .join('\n');
}

/** Someone's own words inside a sentence: escaped once, on one line, in quotation marks. */
export function inlineUserText(text: string): string {
  return `“${escapeMrkdwn(text.replace(/\s+/g, ' ').trim())}”`;
}

/** Cuts text to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** A Slack user mention from a user id Slack gave us (never from typed text). */
export function mention(userId: string): string {
  return SLACK_USER_ID.test(userId) ? `<@${userId}>` : escapeMrkdwn(userId);
}

/**
 * People as the policy names them, for Slack: `<@U…>`, `<!subteam^S…>`, group names in bold; at most
 * `max` of them, then "and N more", so a long list never cuts a mention in half.
 */
export function mentionPrincipals(principals: readonly string[], max = 15): string {
  const shown = principals
    .slice(0, max)
    .map((p) =>
      SLACK_USER_ID.test(p) ? `<@${p}>` : /^S[A-Z0-9]+$/.test(p) ? `<!subteam^${p}>` : `*${escapeMrkdwn(p)}*`,
    );
  const more = principals.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/** A date Slack renders in the reader's time zone, with a plain fallback. */
export function slackDate(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `<!date^${seconds}^{date_short_pretty} {time}|${new Date(ms).toISOString()}>`;
}

/** A list of role names as inline code, escaped. */
export function formatRoles(roles: readonly string[] | null): string {
  if (roles === null) return '_unknown: Atlas could not be read_';
  if (roles.length === 0) return '_none_';
  return roles.map((role) => `\`${escapeMrkdwn(role)}\``).join(', ');
}
