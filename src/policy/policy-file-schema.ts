import { z } from 'zod';
import { DATABASE_ITEM_PREFIX, DATABASE_LEVEL, TEAM_NAME, teamItem } from '../lib/access-items.js';
import { parseDuration } from '../lib/duration.js';
import { ATLAS_ID, ROLE_NAME, SLACK_CHANNEL_ID } from '../lib/patterns.js';
import { approvalKeys } from './approval-schema.js';
import { bundleIssuesOf, bundlesSchema } from './bundle-schema.js';
import { databaseSchema } from './database-schema.js';
import { onCallApprovesSchema, onCallSchema } from './on-call-schema.js';
import { ticketSchema } from './ticket-schema.js';

/** A role name, or `team:NAME` for one of the target's teams: what a rule may name. */
const ROLE_OR_TEAM = new RegExp(
  `^(${ROLE_NAME.source.slice(1, -1)}|team:${TEAM_NAME.source.slice(1, -1)}|db:${DATABASE_LEVEL.source.slice(1, -1)})$`,
);

/** A user (`U…`, `W…`), a user group (`S…`) or a group name from `groups:`. */
const PRINCIPAL = /^([UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|[a-z][a-z0-9_-]{0,63})$/;
/** A user or a user group: what a group under `groups:` may contain. */
const PERSON_OR_USER_GROUP = /^([UW][A-Z0-9]{2,}|S[A-Z0-9]{2,})$/;

/** How a duration looks; parseDuration also needs it to be more than zero. */
const DURATION_SHAPE = /^\s*\d{1,6}[smhdSMHD]\s*$/;

const duration = (what: string) =>
  z
    .string({ error: `${what} must be a duration such as 30m, 4h or 7d` })
    .regex(DURATION_SHAPE, `${what} must look like 30m, 4h or 7d`)
    .refine((v) => !DURATION_SHAPE.test(v) || parseDuration(v) !== undefined, `${what} must be more than 0`)
    .describe('A duration: a number and a unit, s, m, h or d (30m, 8h, 7d).');

/** A JSON Schema description that says what a key is for, then what it holds. */
const purpose = <T extends z.ZodType>(schema: T, what: string): T =>
  schema.describe(`${what}${schema.description ? ` ${schema.description}` : ''}`);

const principals = (key: string) =>
  z
    .array(
      z
        .string()
        .regex(
          PRINCIPAL,
          `${key} must list Slack user ids (U0123ABCD), user group ids (S0123ABCD) or group names from groups:`,
        ),
      {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? `${key} must be a list of Slack user ids, user group ids or group names`
            : undefined,
      },
    )
    .min(1, `${key} needs at least one user, user group or group name`)
    .describe('Slack user ids (U…/W…), Slack user group ids (S…) or names from groups:.');

const ruleSchema = z
  .object(
    {
      roles: z
        .array(
          z
            .string()
            .regex(
              ROLE_OR_TEAM,
              'roles must be Atlas role names such as GROUP_OWNER, or team:NAME for one of the target’s teams',
            ),
          {
            error: 'a rule needs roles: the roles it is about',
          },
        )
        .min(1, 'a rule needs at least one role')
        .describe(
          'The roles this rule is about; each must be one of the target’s roles, or team:NAME for one of its teams.',
        ),
      autoApprove: z
        .boolean()
        .optional()
        .describe('No human decision: approved by the policy; still posted, audited and revoked on time.'),
      approvals: z
        .number()
        .int()
        .min(1)
        .max(10)
        .optional()
        .describe('Distinct approvers needed (default 1); the requester and the grantee never count.'),
      approvers: purpose(
        principals('approvers'),
        "Who decides on these roles instead of the target's approvers.",
      ).optional(),
      maxDuration: purpose(
        duration('maxDuration'),
        "Longest grant of these roles, replacing the target's maxDuration (longer or shorter).",
      ).optional(),
      onCall: onCallSchema.optional(),
      onCallApproves: onCallApprovesSchema.optional(),
      breakGlass: purpose(
        principals('breakGlass'),
        'Who may grant themselves these roles at once in an emergency (/atlas-access breakglass).',
      ).optional(),
      ticket: ticketSchema.optional(),
      ...approvalKeys,
    },
    {
      error: (issue) => objectError(issue, 'each rule must be a mapping with roles and what applies to them'),
    },
  )
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.autoApprove && (rule.approvals ?? 1) > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals'],
        message: 'a rule cannot both approve automatically and need several approvals',
      });
    }
  });

const targetSchema = z
  .object(
    {
      name: z
        .string({ error: 'name is required (a short label such as payments-prod)' })
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'name must be 1-64 letters, digits, ".", "_" or "-"')
        .refine((v) => !ATLAS_ID.test(v), 'name must not look like a 24-hex Atlas id')
        .describe('What people type in /atlas-access (case-insensitive), e.g. payments-prod.'),
      project: z
        .string({ error: "project must be text: put the id in quotes ('…') if YAML reads it as a number" })
        .regex(ATLAS_ID, 'project must be a 24-character lowercase hex Atlas project id')
        .describe('Atlas project (group) id, 24 hex; a target has project or org, not both.')
        .optional(),
      org: z
        .string({ error: "org must be text: put the id in quotes ('…') if YAML reads it as a number" })
        .regex(ATLAS_ID, 'org must be a 24-character lowercase hex Atlas organization id')
        .describe('Atlas organization id, 24 hex; a target has project or org, not both.')
        .optional(),
      approvalsChannel: z
        .string()
        .regex(SLACK_CHANNEL_ID, 'approvalsChannel must be a Slack channel id such as C0123ABCD')
        .describe("Slack channel id for this target's approval messages, instead of the default.")
        .optional(),
      requesters: purpose(
        principals('requesters'),
        'Who may ask for access here; default: every full member of the workspace. Guests only when listed by their own user id.',
      ).optional(),
      onBehalf: purpose(
        principals('onBehalf'),
        'Who may ask here for someone else; default: the approvers.',
      ).optional(),
      approvers: purpose(principals('approvers'), 'Who approves requests here, unless a rule names others.'),
      roles: z
        .array(
          z.string().regex(ROLE_NAME, 'roles must be Atlas role names such as GROUP_READ_ONLY or ORG_MEMBER'),
          {
            error: 'roles is required: the Atlas roles that may be requested here',
          },
        )
        .min(1, 'roles needs at least one role')
        .describe('Atlas roles that may be requested here: GROUP_ roles on a project, ORG_ roles on an org.'),
      teams: z
        .array(
          z
            .string({ error: 'teams must list team names (or 24-hex team ids)' })
            .regex(
              TEAM_NAME,
              'a team is named by its Atlas name (letters, digits, ".", "_", "-") or its 24-hex id',
            ),
          { error: 'teams must be a list of team names' },
        )
        .min(1, 'teams needs at least one team, or leave it out')
        .describe(
          'Teams of this organization people may ask to join for a while (/atlas-access request team:NAME on TARGET), by Atlas name or 24-hex id; org targets only. Rules name them as team:NAME.',
        )
        .optional(),
      database: databaseSchema.optional(),
      federatedTeam: z
        .string({ error: 'federatedTeam must be a team name' })
        .regex(TEAM_NAME, 'federatedTeam is a team name (letters, digits, ".", "_", "-") or a 24-hex team id')
        .describe(
          "Where the organization maps identity-provider groups to roles (Atlas federation), Atlas undoes one person's roles at their next SSO login, so Rolecall refuses per-person roles here and points to this team instead (ask for team:NAME on the org target).",
        )
        .optional(),
      maxDuration: purpose(
        duration('maxDuration'),
        'Longest grant here; when set, every grant must be temporary. Default: no limit, permanent grants allowed.',
      ).optional(),
      rules: z
        .array(ruleSchema, { error: 'rules must be a list of rules' })
        .describe('Per-role rules; for each role the first rule naming it applies.')
        .optional(),
      review: purpose(
        duration('review'),
        'How often Rolecall reviews who holds what here (an access review in the approvals channel).',
      ).optional(),
      ticket: ticketSchema.optional(),
      ...approvalKeys,
    },
    {
      error: (issue) =>
        objectError(issue, 'each target must be a mapping with name, project or org, approvers and roles'),
    },
  )
  .strict()
  .superRefine((t, ctx) => {
    if ((t.project === undefined) === (t.org === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['project'],
        message: 'a target needs exactly one of project or org',
      });
      return;
    }
    const prefix = t.project === undefined ? 'ORG_' : 'GROUP_';
    t.roles.forEach((role, index) => {
      if (!role.startsWith(prefix)) {
        const kind = t.project === undefined ? 'an org' : 'a project';
        ctx.addIssue({
          code: 'custom',
          path: ['roles', index],
          message: `${role} cannot be granted on ${kind}: roles here must start with ${prefix}`,
        });
      }
    });
    if (t.teams !== undefined && t.project !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['teams'],
        message: 'teams belong to an organization: offer them on the org target, not on a project',
      });
    }
    if (t.database !== undefined && t.project === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['database'],
        message: 'database access belongs to a project: offer it on a project target',
      });
    }
    const levels = Object.keys(t.database?.levels ?? {}).map((name) => `${DATABASE_ITEM_PREFIX}${name}`);
    const offered = [...t.roles, ...(t.teams ?? []).map(teamItem), ...levels];
    const governedBy = new Map<string, number>();
    (t.rules ?? []).forEach((rule, r) => {
      rule.roles.forEach((role, index) => {
        if (!offered.includes(role)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', r, 'roles', index],
            message: `${role} is not one of this target's roles or teams; a rule may only name what the target offers`,
          });
        }
        const earlier = governedBy.get(role);
        if (earlier !== undefined && earlier !== r) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', r, 'roles', index],
            message: `${role} is already governed by rule ${earlier + 1}; the first rule naming a role applies, so this one never would`,
          });
        } else {
          governedBy.set(role, r);
        }
      });
      if (rule.breakGlass !== undefined && rule.maxDuration === undefined && t.maxDuration === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', r, 'breakGlass'],
          message: 'break-glass access is always temporary: give the rule (or the target) a maxDuration',
        });
      }
      // Only countable when every approver is named by user id: a user group may hold any number.
      const deciders = rule.approvers ?? t.approvers;
      const approvals = rule.approvals ?? 1;
      if (approvals > 1 && deciders.every((p) => /^[UW]/.test(p)) && new Set(deciders).size < approvals) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', r, 'approvals'],
          message: `approvals: ${approvals} can never be reached: only ${new Set(deciders).size} approver(s) are named`,
        });
      }
    });
  });

/** The zod schema of policy.yml: validation, defaults and the JSON Schema (policy.schema.json) come from it. */
export const policyFileSchema = z
  .object(
    {
      approvalsChannel: z
        .string({ error: 'approvalsChannel is required: the Slack channel id where approvals are posted' })
        .regex(SLACK_CHANNEL_ID, 'approvalsChannel must be a Slack channel id such as C0123ABCD')
        .describe('Default Slack channel id for approval messages.'),
      groups: z
        .record(
          z
            .string()
            .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'group names must be lower-case letters, digits, "_" or "-"'),
          z
            .array(
              z
                .string()
                .regex(PERSON_OR_USER_GROUP, 'a group lists Slack user ids (U…) and user group ids (S…)'),
            )
            .min(1, 'a group needs at least one member'),
        )
        .optional()
        .describe('Named lists of people: Slack user ids and user group ids.'),
      targets: z
        .array(targetSchema, { error: 'targets is required: a list of orgs and projects' })
        .min(1, 'targets needs at least one entry')
        .describe('The Atlas organizations and projects people may ask for roles on.'),
      offboarders: purpose(
        principals('offboarders'),
        'Who may ask Rolecall to remove a leaving person from every target (/atlas-access offboard).',
      ).optional(),
      offboardApprovers: purpose(
        principals('offboardApprovers'),
        "Who approves an offboarding; default: every target's approvers.",
      ).optional(),
      bundles: bundlesSchema.optional(),
    },
    {
      error: (issue) => objectError(issue, 'the policy must be a mapping with approvalsChannel and targets'),
    },
  )
  .strict()
  .superRefine((p, ctx) => {
    const names = new Map<string, number>();
    const ids = new Map<string, number>();
    const groups = new Set(Object.keys(p.groups ?? {}));
    p.targets.forEach((t, index) => {
      const name = t.name.toLowerCase();
      const id = t.project ?? t.org ?? '';
      if (names.has(name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', index, 'name'],
          message: `target name ${t.name} is used twice`,
        });
      }
      if (ids.has(id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', index, t.project === undefined ? 'org' : 'project'],
          message: `${id} is already the target at position ${(ids.get(id) ?? 0) + 1}; one entry per org or project`,
        });
      }
      names.set(name, index);
      ids.set(id, index);
      const check = (list: readonly string[] | undefined, path: (string | number)[]) => {
        list?.forEach((principal, i) => {
          if (/^[a-z]/.test(principal) && !groups.has(principal)) {
            ctx.addIssue({
              code: 'custom',
              path: ['targets', index, ...path, i],
              message: `${principal} is not a group under groups:`,
            });
          }
        });
      };
      check(t.approvers, ['approvers']);
      check(t.requesters, ['requesters']);
      check(t.onBehalf, ['onBehalf']);
      check(t.escalate?.to, ['escalate', 'to']);
      (t.rules ?? []).forEach((rule, r) => {
        check(rule.approvers, ['rules', r, 'approvers']);
        check(rule.escalate?.to, ['rules', r, 'escalate', 'to']);
        check(rule.breakGlass, ['rules', r, 'breakGlass']);
      });
    });
    for (const issue of bundleIssuesOf(p)) ctx.addIssue({ code: 'custom', ...issue });
    for (const key of ['offboarders', 'offboardApprovers'] as const) {
      p[key]?.forEach((principal, i) => {
        if (/^[a-z]/.test(principal) && !groups.has(principal)) {
          ctx.addIssue({
            code: 'custom',
            path: [key, i],
            message: `${principal} is not a group under groups:`,
          });
        }
      });
    }
  });

/** One entry of `targets:` as the schema hands it over (before it becomes a PolicyTarget). */
export type PolicyFileTarget = z.infer<typeof targetSchema>;

function objectError(issue: { code?: string; keys?: readonly string[] }, otherwise: string): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `unknown key(s): ${issue.keys.join(', ')}`;
  return otherwise;
}
