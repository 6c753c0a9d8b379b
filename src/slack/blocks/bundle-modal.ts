import type { KnownBlock, ModalView } from '@slack/types';
import { formatDuration } from '../../lib/duration.js';
import type { Policy } from '../../policy/policy.js';
import type { BundleGuide } from '../../requests/bundle-views.js';
import { escapeMrkdwn, formatRoles, mentionPrincipals, truncate } from '../mrkdwn.js';
import { buildPartsSection } from './bundle-block.js';
import { BUNDLE_CHOICE } from './bundle-choice.js';
import {
  buildRequestView,
  durationOptions,
  EXTERNAL_SELECT_ABOVE,
  REQUEST_FIELDS,
  type RequestModalContext,
  targetMenu,
} from './request-modal.js';
import { buildTicketInput } from './ticket-field.js';

/**
 * The request form once a bundle is chosen in the target menu: its parts, the durations every part
 * allows, who decides (someone allowed on every part), the ticket and the reason. A bundle is asked
 * for the person filling in the form.
 */
export function buildBundleModal(
  policy: Policy,
  context: RequestModalContext,
  guide: BundleGuide,
): ModalView {
  const value = `${BUNDLE_CHOICE}${guide.bundle.name}`;
  const chosen = { text: { type: 'plain_text' as const, text: truncate(value, 75) }, value };
  const external = policy.targets.length > EXTERNAL_SELECT_ABOVE;
  const parts = guide.bundle.parts.map(
    (part) => `• ${formatRoles(part.items)} on *${escapeMrkdwn(part.target.name)}*`,
  );
  const max = guide.maxDurationSeconds;
  const decides =
    guide.approvalsNeeded > 1
      ? `:busts_in_silhouette: Needs ${guide.approvalsNeeded} approvals from different people allowed on every part, among: ${mentionPrincipals(guide.deciders)}`
      : `:bust_in_silhouette: One decision for every part, by someone allowed on each: ${mentionPrincipals(guide.deciders)}`;
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: REQUEST_FIELDS.target,
      dispatch_action: true,
      label: { type: 'plain_text', text: 'Organization, project or bundle' },
      element: external
        ? {
            type: 'external_select',
            action_id: 'value',
            min_query_length: 0,
            placeholder: { type: 'plain_text', text: 'Type to find a target' },
            initial_option: chosen,
          }
        : {
            type: 'static_select',
            action_id: 'value',
            placeholder: { type: 'plain_text', text: 'Choose a target' },
            ...targetMenu(policy),
            initial_option: chosen,
          },
    },
    buildPartsSection(
      `:package: Bundle *${escapeMrkdwn(guide.bundle.name)}* asks for, one request per target:`,
      parts,
    ),
    {
      type: 'input',
      block_id: REQUEST_FIELDS.duration,
      label: { type: 'plain_text', text: 'For how long' },
      hint: {
        type: 'plain_text',
        text:
          max === undefined
            ? 'Every part ends at the same time.'
            : `At most ${formatDuration(max)}, what every part allows; they end together.`,
      },
      element: {
        type: 'static_select',
        action_id: 'value',
        placeholder: { type: 'plain_text', text: 'Choose a duration' },
        options: durationOptions(guide.permanentAllowed ? undefined : max),
      },
    },
    { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(decides, 3000) }] },
    buildTicketInput('A change or incident ticket, such as OPS-123, if a part needs one.'),
  ];
  return buildRequestView(context, blocks);
}
