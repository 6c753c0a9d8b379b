import type { ModalView } from '@slack/types';
import { truncate } from '../mrkdwn.js';

/** Callback id of the Extend modal. */
export const EXTEND_MODAL = 'extend_grant';

/** Block ids of the Extend modal's inputs (action id `value`). */
export const EXTEND_FIELDS = { duration: 'duration', reason: 'reason' } as const;

/** What the Extend modal carries in private_metadata. */
export interface ExtendModalContext {
  readonly requestId: string;
  /** Where to confirm (the clicked message's response_url, valid 30 minutes); a DM otherwise. */
  readonly responseUrl: string | null;
}

/**
 * The small modal behind an Extend button: how much longer, and why. `endsText` is mrkdwn, already
 * escaped (it carries a `<!date^…>` so each reader sees the end in their own time zone).
 */
export function buildExtendModal(context: ExtendModalContext, endsText: string): ModalView {
  return {
    type: 'modal',
    callback_id: EXTEND_MODAL,
    private_metadata: JSON.stringify(context),
    title: { type: 'plain_text', text: `Extend ${context.requestId}`.slice(0, 24) },
    submit: { type: 'plain_text', text: 'Ask to extend' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(endsText, 3000) } },
      {
        type: 'input',
        block_id: EXTEND_FIELDS.duration,
        label: { type: 'plain_text', text: 'How much longer?' },
        hint: { type: 'plain_text', text: 'Added to the current end, e.g. 30m, 2h. An approver decides.' },
        element: { type: 'plain_text_input', action_id: 'value', max_length: 10 },
      },
      {
        type: 'input',
        block_id: EXTEND_FIELDS.reason,
        label: { type: 'plain_text', text: 'Why?' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
    ],
  };
}
