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

/** Slack's limits for a select menu: 100 options, or 100 option groups of 100 options each. */
const MAX_OPTIONS = 100;
const MAX_GROUPS = 100;

type Option = { text: { type: 'plain_text'; text: string }; value: string };

function option(value: string): Option {
  return { text: { type: 'plain_text', text: truncate(value, 75) }, value };
}

/**
 * The target menu: plain options up to 100 targets; beyond that, option groups (organizations, then
 * projects, 100 per group), so no target silently disappears (up to 10,000).
 */
export function targetMenu(
  policy: Policy,
):
  | { options: Option[] }
  | { option_groups: { label: { type: 'plain_text'; text: string }; options: Option[] }[] } {
  if (policy.targets.length <= MAX_OPTIONS) return { options: policy.targets.map((t) => option(t.name)) };
  const groups: { label: { type: 'plain_text'; text: string }; options: Option[] }[] = [];
  for (const [kind, label] of [
    ['org', 'Organizations'],
    ['project', 'Projects'],
  ] as const) {
    const names = policy.targets
      .filter((t) => t.kind === kind)
      .map((t) => t.name)
      .sort((a, b) => a.localeCompare(b));
    for (let start = 0; start < names.length; start += MAX_OPTIONS) {
      const chunk = names.slice(start, start + MAX_OPTIONS);
      const range = names.length > MAX_OPTIONS ? ` ${chunk[0]} – ${chunk[chunk.length - 1]}` : '';
      groups.push({
        label: { type: 'plain_text', text: truncate(`${label}${range}`, 75) },
        options: chunk.map(option),
      });
    }
  }
  return { option_groups: groups.slice(0, MAX_GROUPS) };
}

/** The request modal: target, who, roles, duration, reason. */
export function buildRequestModal(
  policy: Policy,
  requesterId: string,
  context: RequestModalContext,
): ModalView {
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
          ...targetMenu(policy),
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
