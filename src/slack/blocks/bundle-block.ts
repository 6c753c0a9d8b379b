import type { KnownBlock } from '@slack/types';
import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn, formatRoles, truncate } from '../mrkdwn.js';

/** Slack's limits for a section: its text 3000 characters, at most 10 fields of 2000 characters each. */
const SECTION_TEXT_MAX = 3000;
const FIELDS_MAX = 10;
const FIELD_MAX = 2000;
/** Room kept in the last field for "…and N more parts". */
const MORE_ROOM = 40;

/**
 * A section with `header` as its text and `lines` (one per part) packed into its fields, so a bundle
 * of many parts is shown whole (about 100 parts of four roles on long target names) instead of being
 * cut off in one 3000-character text; what still does not fit is counted at the end.
 */
export function buildPartsSection(header: string, lines: readonly string[]): KnownBlock {
  const fields: string[] = [];
  let current = '';
  for (const [index, raw] of lines.entries()) {
    const line = truncate(raw, FIELD_MAX - MORE_ROOM);
    const joined = current === '' ? line : `${current}\n${line}`;
    const last = fields.length === FIELDS_MAX - 1;
    if (joined.length <= (last ? FIELD_MAX - MORE_ROOM : FIELD_MAX)) {
      current = joined;
      continue;
    }
    if (last) {
      const more = lines.length - index;
      current = `${current}\n…and ${more} more part${more === 1 ? '' : 's'}`;
      break;
    }
    fields.push(current);
    current = line;
  }
  if (current !== '') fields.push(current);
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(header, SECTION_TEXT_MAX) },
    ...(fields.length > 0 ? { fields: fields.map((text) => ({ type: 'mrkdwn' as const, text })) } : {}),
  };
}

/** "• AR-2 `ORG_READ_ONLY` on *acme*": one part of a bundle on a message. */
function partLine(
  part: { readonly id: string; readonly target: string; readonly items: readonly string[] },
  self: string,
): string {
  return `• ${part.id} ${formatRoles(part.items)} on *${escapeMrkdwn(part.target)}*${part.id === self ? ' (this message)' : ''}`;
}

/**
 * On a part's approval message: which bundle it belongs to, its other parts, and that one decision
 * decides them all and they end together; null for a request of its own.
 */
export function buildBundleBlock(request: AccessRequest): KnownBlock | null {
  const bundle = request.bundle;
  if (bundle === null) return null;
  const index = bundle.parts.findIndex((p) => p.id === request.id);
  return buildPartsSection(
    `:package: Part ${index + 1} of ${bundle.parts.length} of bundle *${escapeMrkdwn(bundle.name)}*: Approve or Deny here decides every part, and only someone allowed on every part may; the parts are applied one by one and end together.`,
    bundle.parts.map((part) => partLine(part, request.id)),
  );
}

/** The requester's answer once a bundle is filed: its parts, each a request checked against Atlas now. */
export function buildBundleFiled(parts: readonly AccessRequest[]): { text: string; blocks: KnownBlock[] } {
  const bundle = parts[0]?.bundle;
  const name = escapeMrkdwn(bundle?.name ?? '');
  const header = `:package: Bundle *${name}* is filed as ${parts.length} request${parts.length === 1 ? '' : 's'}, one per target, each being checked against Atlas now. One decision decides them all; they end together.`;
  const lines = (bundle?.parts ?? []).map((part) => partLine(part, ''));
  return {
    text: truncate([header, ...lines].join('\n'), SECTION_TEXT_MAX),
    blocks: [buildPartsSection(header, lines)],
  };
}

/** " · :package: bundle *incident-responder*" after a part's line (Home tab); '' for a request of its own. */
export function bundleTag(request: Pick<AccessRequest, 'bundle'>): string {
  return request.bundle === null ? '' : ` · :package: bundle *${escapeMrkdwn(request.bundle.name)}*`;
}
