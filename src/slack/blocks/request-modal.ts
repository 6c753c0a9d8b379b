import type { KnownBlock, ModalView } from '@slack/types';
import { formatDuration, parseDuration } from '../../lib/duration.js';
import type { Policy } from '../../policy/policy.js';
import type { RequestGuide } from '../../requests/views.js';
import { escapeMrkdwn, formatRoles, mentionPrincipals, truncate } from '../mrkdwn.js';
import { bundleOptions } from './bundle-choice.js';
import { buildDatabaseFormHint } from './database-access.js';
import { buildTicketInput, describeTicketHint, TICKET_FIELD } from './ticket-field.js';

/** Callback id of the request modal. */
export const REQUEST_MODAL = 'request_access';

/** Block ids of the request modal's inputs; each input's action id is `value`. */
export const REQUEST_FIELDS = {
  target: 'target',
  grantee: 'grantee',
  roles: 'roles',
  duration: 'duration',
  start: 'start',
  reason: 'reason',
  ticket: TICKET_FIELD,
} as const;

/** Context the modal carries from the slash command to its submission. */
export interface RequestModalContext {
  readonly channelId: string | null;
  readonly responseUrl: string | null;
}

/** Slack's limits for a select menu: 100 options, or 100 option groups of 100 options each. */
const MAX_OPTIONS = 100;

type Option = { text: { type: 'plain_text'; text: string }; value: string };

function option(value: string): Option {
  return { text: { type: 'plain_text', text: truncate(value, 75) }, value };
}

/**
 * The target menu for up to 100 targets: organizations and projects in two option groups (plain
 * options when there is only one kind). Above that the form uses an external select instead.
 */
export function targetMenu(
  policy: Policy,
):
  | { options: Option[] }
  | { option_groups: { label: { type: 'plain_text'; text: string }; options: Option[] }[] } {
  const byKind = (kind: 'org' | 'project') =>
    policy.targets
      .filter((t) => t.kind === kind)
      .map((t) => t.name)
      .sort((a, b) => a.localeCompare(b))
      .map(option);
  const orgs = byKind('org');
  const projects = byKind('project');
  const bundles = bundleOptions(policy);
  if ((orgs.length === 0 || projects.length === 0) && bundles.length === 0)
    return { options: [...orgs, ...projects].slice(0, MAX_OPTIONS) };
  const groups = [
    { label: { type: 'plain_text' as const, text: 'Organizations' }, options: orgs },
    { label: { type: 'plain_text' as const, text: 'Projects' }, options: projects },
    { label: { type: 'plain_text' as const, text: 'Bundles (several targets)' }, options: bundles },
  ];
  return { option_groups: groups.filter((group) => group.options.length > 0) };
}

/** Durations the form offers, within what the chosen roles allow; "permanent" only where allowed. */
export const DURATION_CHOICES = ['30m', '1h', '2h', '4h', '8h', '12h', '1d', '3d', '7d', '30d'] as const;
/** The duration menu's value for permanent access. */
export const PERMANENT = 'permanent';

/** Above this many targets the target menu loads its options as people type (external select). */
export const EXTERNAL_SELECT_ABOVE = MAX_OPTIONS;

/** What the form knows once a target (and maybe roles) are chosen; see RequestService.guide. */
export interface ModalGuide extends RequestGuide {
  readonly chosenRoles: readonly string[];
}

/** `<@U…>` for people, `<!subteam^S…>` for user groups: who decides, for the form. */
function describeDecision(guide: ModalGuide): string {
  const needs = guide.requirements;
  if (needs.autoApprove)
    return ':robot_face: Approved automatically by the policy (still posted for the approvers and revoked on time).';
  const who = mentionPrincipals(guide.deciders);
  return needs.approvals > 1
    ? `:busts_in_silhouette: Needs ${needs.approvals} approvals from different people among: ${who}`
    : `:bust_in_silhouette: An approver decides: ${who}`;
}

/** `5400` -> `90m`: the largest whole unit, as parseDuration reads it back. */
function compactDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The duration menu's options up to `max` ("Permanent" only without one). */
export function durationOptions(max: number | undefined): Option[] {
  const choices = DURATION_CHOICES.filter((d) => max === undefined || (parseDuration(d) ?? 0) <= max).map(
    option,
  );
  // The longest allowed is always on offer, whatever it is (a 15m rule still gets a menu).
  if (max !== undefined && !choices.some((o) => parseDuration(o.value) === max)) {
    choices.push(option(compactDuration(max)));
  }
  return max === undefined
    ? [...choices, { text: { type: 'plain_text', text: 'Permanent' }, value: PERMANENT }]
    : choices;
}

/**
 * The request modal. Without a guide: the target menu (a static select, in option groups beyond 100,
 * or an external select above {@link EXTERNAL_SELECT_ABOVE} targets) and the reason. With one (after
 * the target is picked, `dispatch_action` -> views.update): the person's current roles there, "who
 * needs access" (only for people who may ask for others), the roles as checkboxes (a menu beyond 10),
 * the durations the chosen roles allow, and what deciding will take.
 */
export function buildRequestModal(
  policy: Policy,
  requesterId: string,
  context: RequestModalContext,
  guide?: ModalGuide,
): ModalView {
  const external = policy.targets.length > EXTERNAL_SELECT_ABOVE;
  const chosenTarget = guide ? option(guide.target.name) : undefined;
  const targetElement = external
    ? {
        type: 'external_select' as const,
        action_id: 'value',
        min_query_length: 0,
        placeholder: { type: 'plain_text' as const, text: 'Type to find a target' },
        ...(chosenTarget ? { initial_option: chosenTarget } : {}),
      }
    : {
        type: 'static_select' as const,
        action_id: 'value',
        placeholder: { type: 'plain_text' as const, text: 'Choose a target' },
        ...targetMenu(policy),
        ...(chosenTarget ? { initial_option: chosenTarget } : {}),
      };
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: REQUEST_FIELDS.target,
      dispatch_action: true,
      label: { type: 'plain_text', text: 'Organization or project' },
      element: targetElement,
    },
  ];
  if (!guide) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: 'Choose a target to see its roles, how long you may have them and who decides.',
        },
      ],
    });
  } else {
    const current = guide.currentRoles;
    const known =
      current === null
        ? '_could not be read just now_'
        : current.roles.length === 0
          ? '_none_'
          : formatRoles(current.roles);
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: truncate(
            `Your roles on *${escapeMrkdwn(guide.target.name)}*: ${known}${current?.source === 'rolecall' ? ' (what Rolecall granted you; Atlas is read when you submit)' : ''}`,
            3000,
          ),
        },
      ],
    });
    if (guide.mayAskForOthers) {
      blocks.push({
        type: 'input',
        block_id: REQUEST_FIELDS.grantee,
        label: { type: 'plain_text', text: 'Who needs access' },
        element: { type: 'users_select', action_id: 'value', initial_user: requesterId },
      });
    }
    const roleOptions = guide.target.roles.map(option);
    const chosen = roleOptions.filter((o) => guide.chosenRoles.includes(o.value));
    blocks.push({
      type: 'input',
      block_id: REQUEST_FIELDS.roles,
      dispatch_action: true,
      label: { type: 'plain_text', text: 'Roles' },
      element:
        roleOptions.length <= 10
          ? {
              type: 'checkboxes',
              action_id: 'value',
              options: roleOptions,
              ...(chosen.length > 0 ? { initial_options: chosen } : {}),
            }
          : {
              type: 'multi_static_select',
              action_id: 'value',
              placeholder: { type: 'plain_text', text: 'Choose roles' },
              options: roleOptions.slice(0, MAX_OPTIONS),
              ...(chosen.length > 0 ? { initial_options: chosen } : {}),
            },
    });
    const max = guide.requirements.maxDurationSeconds;
    blocks.push({
      type: 'input',
      block_id: REQUEST_FIELDS.duration,
      label: { type: 'plain_text', text: 'For how long' },
      hint: {
        type: 'plain_text',
        text:
          max === undefined
            ? 'Temporary access is revoked on time.'
            : `At most ${formatDuration(max)} for these roles.`,
      },
      element: {
        type: 'static_select',
        action_id: 'value',
        placeholder: { type: 'plain_text', text: 'Choose a duration' },
        options: durationOptions(max),
      },
    });
    const databaseHint = buildDatabaseFormHint(guide.target.database, guide.chosenRoles);
    if (databaseHint) blocks.push(databaseHint);
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(describeDecision(guide), 3000) }],
    });
  }
  blocks.push({
    type: 'input',
    block_id: REQUEST_FIELDS.start,
    optional: true,
    label: { type: 'plain_text', text: 'Start later (optional)' },
    hint: {
      type: 'plain_text',
      text: 'Empty: access starts once approved. A start is in your time zone; it may be approved ahead and cancelled until then, and the duration counts from it.',
    },
    element: { type: 'datetimepicker', action_id: 'value' },
  });
  blocks.push(buildTicketInput(describeTicketHint(guide?.target, guide?.chosenRoles ?? [])));
  return buildRequestView(context, blocks);
}

/**
 * The request modal around its inputs (`blocks`), ending with the Reason input: one view for a
 * request and for a bundle (bundle-modal.ts), so both submit to the same handler.
 */
export function buildRequestView(context: RequestModalContext, blocks: readonly KnownBlock[]): ModalView {
  return {
    type: 'modal',
    callback_id: REQUEST_MODAL,
    private_metadata: JSON.stringify(context),
    title: { type: 'plain_text', text: 'Request Atlas access' },
    submit: { type: 'plain_text', text: 'Request' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      ...blocks,
      {
        type: 'input',
        block_id: REQUEST_FIELDS.reason,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
    ],
  };
}

/** Options for the external target menu: names containing what was typed, at most 100. */
export function targetOptions(policy: Policy, typed: string): Option[] {
  const query = typed.trim().toLowerCase();
  return [
    ...policy.targets.filter((t) => t.name.toLowerCase().includes(query)).map((t) => option(t.name)),
    ...bundleOptions(policy).filter((o) => o.value.includes(query)),
  ].slice(0, MAX_OPTIONS);
}
