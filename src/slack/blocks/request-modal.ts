import type { ModalView } from '@slack/types';
import type { Policy } from '../../policy/policy.js';
import { truncate } from '../mrkdwn.js';

/** Callback id of the request modal. */
export const REQUEST_MODAL = 'request_access';

/** Block ids of the request modal's inputs; each input's action id is `value`. */
export const REQUEST_FIELDS = {
  target: 'target',
  grantee: 'grantee',
  roles: 'roles',
  duration: 'duration',
  reason: 'reason',
} as const;

/** Context the modal carries from the slash command to its submission. */
export interface RequestModalContext {
  readonly channelId: string | null;
  readonly responseUrl: string | null;
}

const MAX_OPTIONS = 100;

/** The request modal: target, who, roles, duration, reason. */
export function buildRequestModal(
  policy: Policy,
  requesterId: string,
  context: RequestModalContext,
): ModalView {
  const option = (value: string) => ({
    text: { type: 'plain_text' as const, text: truncate(value, 75) },
    value,
  });
  const roles = [...new Set(policy.targets.flatMap((t) => t.roles))].sort().slice(0, MAX_OPTIONS);
  return {
    type: 'modal',
    callback_id: REQUEST_MODAL,
    private_metadata: JSON.stringify(context),
    title: { type: 'plain_text', text: 'Request Atlas access' },
    submit: { type: 'plain_text', text: 'Request' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: REQUEST_FIELDS.target,
        label: { type: 'plain_text', text: 'Organization or project' },
        element: {
          type: 'static_select',
          action_id: 'value',
          placeholder: { type: 'plain_text', text: 'Choose a target' },
          options: policy.targets.slice(0, MAX_OPTIONS).map((t) => option(t.name)),
        },
      },
      {
        type: 'input',
        block_id: REQUEST_FIELDS.grantee,
        label: { type: 'plain_text', text: 'Who needs access' },
        element: { type: 'users_select', action_id: 'value', initial_user: requesterId },
      },
      {
        type: 'input',
        block_id: REQUEST_FIELDS.roles,
        label: { type: 'plain_text', text: 'Roles' },
        hint: { type: 'plain_text', text: 'ORG_ roles apply to organizations, GROUP_ roles to projects.' },
        element: {
          type: 'multi_static_select',
          action_id: 'value',
          placeholder: { type: 'plain_text', text: 'Choose roles' },
          options: roles.map(option),
        },
      },
      {
        type: 'input',
        block_id: REQUEST_FIELDS.duration,
        optional: true,
        label: { type: 'plain_text', text: 'For how long' },
        hint: { type: 'plain_text', text: 'e.g. 30m, 4h, 2d. Leave empty for permanent access.' },
        element: { type: 'plain_text_input', action_id: 'value', max_length: 12 },
      },
      {
        type: 'input',
        block_id: REQUEST_FIELDS.reason,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
    ],
  };
}
