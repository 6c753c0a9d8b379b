import type { KnownBlock } from '@slack/types';
import type { AccessRequest } from '../../requests/model.js';
import { escapeMrkdwn, formatRoles, truncate } from '../mrkdwn.js';

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
  const text = [
    `:package: Part ${index + 1} of ${bundle.parts.length} of bundle *${escapeMrkdwn(bundle.name)}*: Approve or Deny here decides every part, and only someone allowed on every part may; the parts are applied one by one and end together.`,
    ...bundle.parts.map((part) => partLine(part, request.id)),
  ].join('\n');
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, 3000) } };
}

/** The requester's answer once a bundle is filed: its parts, each a request checked against Atlas now. */
export function buildBundleFiled(parts: readonly AccessRequest[]): { text: string; blocks: KnownBlock[] } {
  const bundle = parts[0]?.bundle;
  const name = escapeMrkdwn(bundle?.name ?? '');
  const text = truncate(
    [
      `:package: Bundle *${name}* is filed as ${parts.length} request${parts.length === 1 ? '' : 's'}, one per target, each being checked against Atlas now. One decision decides them all; they end together.`,
      ...(bundle?.parts ?? []).map((part) => partLine(part, '')),
    ].join('\n'),
    3000,
  );
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

/** " · :package: bundle *incident-responder*" after a part's line (Home tab); '' for a request of its own. */
export function bundleTag(request: Pick<AccessRequest, 'bundle'>): string {
  return request.bundle === null ? '' : ` · :package: bundle *${escapeMrkdwn(request.bundle.name)}*`;
}
