import type { ModalView } from '@slack/types';
import { escapeMrkdwn, slackDate, truncate } from '../mrkdwn.js';

/** Callback id of the "Add my IP address" modal; its private_metadata is the request id. */
export const ADDRESS_MODAL = 'db_address';

/** Block id of the modal's one input (action id `value`). */
export const ADDRESS_FIELD = 'address';

/** The label of that input, exactly. */
export const ADDRESS_LABEL = 'IP address or CIDR';

const TITLE = 'Database password';

/** What the password modal shows (the password itself only ever travels in this view). */
export interface PasswordModalContent {
  readonly requestId: string;
  readonly username: string;
  readonly password: string;
  readonly endsAt: number | null;
}

/** The modal "Show password" opens at once, while a worker sets the new password. */
export function buildPasswordWaitModal(requestId: string, username: string): ModalView {
  return {
    type: 'modal',
    private_metadata: requestId,
    title: { type: 'plain_text', text: TITLE },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `:hourglass_flowing_sand: Setting a new password for \`${escapeMrkdwn(username)}\` (${requestId})…`,
            3000,
          ),
        },
      },
    ],
  };
}

/**
 * The password, once: the database user, the password in a plain_text block (no formatting, nothing
 * Slack could turn into a link), when it ends, and that closing the modal loses it.
 */
export function buildPasswordModal(content: PasswordModalContent): ModalView {
  const ends =
    content.endsAt === null ? '' : ` It works until ${slackDate(content.endsAt)}, when the access ends.`;
  return {
    type: 'modal',
    private_metadata: content.requestId,
    title: { type: 'plain_text', text: TITLE },
    close: { type: 'plain_text', text: 'Done' },
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `:key: The new password of database user \`${escapeMrkdwn(content.username)}\` (${content.requestId}):`,
            3000,
          ),
        },
      },
      { type: 'section', text: { type: 'plain_text', text: content.password, emoji: false } },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `Rolecall keeps no copy of it.${ends} Once you close this window it is gone: press *Show password* again for a new one, which replaces this one.`,
          },
        ],
      },
    ],
  };
}

/** The password modal when no password was set: why, in words (already formatted for mrkdwn). */
export function buildPasswordRefusedModal(requestId: string, words: string): ModalView {
  return {
    type: 'modal',
    private_metadata: requestId,
    title: { type: 'plain_text', text: TITLE },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: truncate(`No password was set. ${words}`, 3000) } },
    ],
  };
}

/** The "Add my IP address" modal: one input, checked on submit (Slack shows errors on it). */
export function buildAddressModal(requestId: string, targetName: string): ModalView {
  return {
    type: 'modal',
    callback_id: ADDRESS_MODAL,
    private_metadata: requestId,
    title: { type: 'plain_text', text: 'Add my IP address' },
    submit: { type: 'plain_text', text: 'Add' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: ADDRESS_FIELD,
        label: { type: 'plain_text', text: ADDRESS_LABEL },
        hint: {
          type: 'plain_text',
          text: truncate(
            `The address you connect from (e.g. 203.0.113.7, or a block such as 203.0.113.0/24): it goes on the IP access list of ${targetName} until ${requestId} ends.`,
            2000,
          ),
        },
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          max_length: 60,
          placeholder: { type: 'plain_text', text: '203.0.113.7' },
        },
      },
    ],
  };
}

/** A modal that only says something (the address being added, or why not). */
export function buildDatabaseNoticeModal(title: string, words: string): ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: truncate(title, 24) },
    close: { type: 'plain_text', text: 'Close' },
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(words, 3000) } }],
  };
}
