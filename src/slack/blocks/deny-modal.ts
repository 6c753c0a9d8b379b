import type { ModalView } from '@slack/types';

/** Callback id of the deny modal; its private_metadata is the request id. */
export const DENY_MODAL = 'deny_request';

/** Block id of the reason input (action id `value`). */
export const DENY_REASON = 'reason';

/** The small modal an approver fills in to deny a request. */
export function buildDenyModal(requestId: string): ModalView {
  return {
    type: 'modal',
    callback_id: DENY_MODAL,
    private_metadata: requestId,
    title: { type: 'plain_text', text: `Deny ${requestId}` },
    submit: { type: 'plain_text', text: 'Deny' },
    close: { type: 'plain_text', text: 'Back' },
    blocks: [
      {
        type: 'input',
        block_id: DENY_REASON,
        label: { type: 'plain_text', text: 'Why is it denied?' },
        hint: { type: 'plain_text', text: 'The requester sees this.' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
    ],
  };
}

/** A modal that only says something, for a deny that can no longer happen. */
export function buildNoticeModal(title: string, text: string): ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: title.slice(0, 24) },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: text.slice(0, 3000) } }],
  };
}
