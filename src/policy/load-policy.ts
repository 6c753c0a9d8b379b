import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Alias, isMap, isNode, isScalar, LineCounter, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import { ATLAS_ID, ROLE_NAME, SLACK_CHANNEL_ID } from '../lib/patterns.js';
import type { ScopeKind } from '../lib/scope.js';
import type { Policy, PolicyTarget, Principal, RoleRule } from './policy.js';

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
        .array(z.string().regex(ROLE_NAME, 'roles must be Atlas role names such as GROUP_OWNER'), {
          error: 'a rule needs roles: the roles it is about',
        })
        .min(1, 'a rule needs at least one role')
        .describe('The roles this rule is about; each must be one of the target’s roles.'),
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
      breakGlass: purpose(
        principals('breakGlass'),
        'Who may grant themselves these roles at once in an emergency (/atlas-access breakglass).',
      ).optional(),
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
    const governedBy = new Map<string, number>();
    (t.rules ?? []).forEach((rule, r) => {
      rule.roles.forEach((role, index) => {
        if (!t.roles.includes(role)) {
          ctx.addIssue({
            code: 'custom',
            path: ['rules', r, 'roles', index],
            message: `${role} is not one of this target's roles; a rule may only name roles the target offers`,
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
      (t.rules ?? []).forEach((rule, r) => {
        check(rule.approvers, ['rules', r, 'approvers']);
        check(rule.breakGlass, ['rules', r, 'breakGlass']);
      });
    });
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

/** One thing wrong with a policy file, where it is. */
export interface PolicyProblem {
  /** 1-based; undefined when the problem is not tied to a place (an unreadable file). */
  readonly line: number | undefined;
  readonly col: number | undefined;
  readonly message: string;
}

/** The outcome of reading a policy: the policy, or every problem. */
export type PolicyReading =
  | { readonly ok: true; readonly policy: Policy }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

/** The Atlas API the policy will be used with, so roles it does not have are problems too. */
export interface PolicyApi {
  /** Its name in messages, e.g. `ATLAS_API=cloud-manager`. */
  readonly name: string;
  /** The roles of `roles` this API does not have on an org or a project. */
  invalidRoles(kind: ScopeKind, roles: readonly string[]): readonly string[];
}

/** Reads policy YAML; every problem at once, each with its line and column. */
export function readPolicy(text: string, api?: PolicyApi): PolicyReading {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        line: e.linePos?.[0].line,
        col: e.linePos?.[0].col,
        message: e.message.split('\n')[0] ?? 'not valid YAML',
      })),
    };
  }
  let raw: unknown;
  try {
    // A bounded alias count: a "billion laughs" file is a problem, not a hang.
    raw = doc.toJS({ maxAliasCount: 1_000 });
  } catch (error) {
    const alias = firstAlias(doc);
    const at = alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
    return {
      ok: false,
      problems: [
        { line: at?.line, col: at?.col, message: (error as Error).message.split('\n')[0] ?? 'bad alias' },
      ],
    };
  }
  const result = policyFileSchema.safeParse(raw);
  if (!result.success) {
    return {
      ok: false,
      problems: result.error.issues
        .flatMap((issue): PolicyProblem[] => {
          const where = issue.path.length > 0 ? `${formatPath(issue.path)}: ` : '';
          // An unknown key is reported where it is written, one problem per key.
          if (issue.code === 'unrecognized_keys') {
            return issue.keys.map((key) => {
              const at =
                keyPosition(doc, lineCounter, issue.path, key) ?? positionOf(doc, lineCounter, issue.path);
              return { line: at?.line, col: at?.col, message: `${where}unknown key ${key}` };
            });
          }
          const at = positionOf(doc, lineCounter, issue.path);
          return [{ line: at?.line, col: at?.col, message: `${where}${issue.message}` }];
        })
        // In file order, as a reader goes through it.
        .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0)),
    };
  }
  const data = result.data;
  const apiProblems = api === undefined ? [] : rolesMissingFrom(api, data.targets, doc, lineCounter);
  if (apiProblems.length > 0) return { ok: false, problems: apiProblems };
  const version = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return {
    ok: true,
    policy: {
      approvalsChannel: data.approvalsChannel,
      groups: data.groups ?? {},
      version,
      offboarders: data.offboarders ?? [],
      offboardApprovers: data.offboardApprovers,
      targets: data.targets.map(
        (t): PolicyTarget => ({
          name: t.name,
          kind: t.project === undefined ? 'org' : 'project',
          id: t.project ?? t.org ?? '',
          approvers: t.approvers,
          roles: [...new Set(t.roles)],
          maxDurationSeconds: t.maxDuration === undefined ? undefined : parseDuration(t.maxDuration),
          approvalsChannel: t.approvalsChannel ?? data.approvalsChannel,
          requesters: t.requesters,
          onBehalf: t.onBehalf,
          reviewEverySeconds: t.review === undefined ? undefined : parseDuration(t.review),
          rules: (t.rules ?? []).map(
            (rule, index): RoleRule => ({
              position: index + 1,
              roles: [...new Set(rule.roles)],
              autoApprove: rule.autoApprove ?? false,
              approvals: rule.approvals ?? 1,
              approvers: rule.approvers as readonly Principal[] | undefined,
              maxDurationSeconds:
                rule.maxDuration === undefined ? undefined : parseDuration(rule.maxDuration),
              breakGlass: rule.breakGlass ?? [],
            }),
          ),
        }),
      ),
    },
  };
}

function rolesMissingFrom(
  api: PolicyApi,
  targets: readonly z.infer<typeof targetSchema>[],
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
): PolicyProblem[] {
  return targets.flatMap((t, index) => {
    const kind: ScopeKind = t.project === undefined ? 'org' : 'project';
    const bad = new Set(api.invalidRoles(kind, t.roles));
    return t.roles.flatMap((role, r) => {
      if (!bad.has(role)) return [];
      const path = ['targets', index, 'roles', r];
      const at = positionOf(doc, lineCounter, path);
      return [
        {
          line: at?.line,
          col: at?.col,
          message: `${formatPath(path)}: ${role} is not a${kind === 'org' ? 'n organization' : ' project'} role of ${api.name}`,
        },
      ];
    });
  });
}

/** `FILE:LINE:COL message`, the way compilers and editors print problems. */
export function formatProblem(source: string, problem: PolicyProblem): string {
  if (problem.line === undefined) return `${source}: ${problem.message}`;
  return `${source}:${problem.line}:${problem.col ?? 1} ${problem.message}`;
}

/** Parses and validates policy YAML; throws POLICY_INVALID naming the file, line and column of every problem. */
export function parsePolicy(text: string, source = 'policy.yml', api?: PolicyApi): Policy {
  const reading = readPolicy(text, api);
  if (reading.ok) return reading.policy;
  throw new AppError(
    'POLICY_INVALID',
    `The policy file has ${reading.problems.length} problem(s):\n${reading.problems.map((p) => `  - ${formatProblem(source, p)}`).join('\n')}`,
    { details: { problems: reading.problems.length } },
  );
}

/** Reads and validates the policy file at `path`; throws POLICY_INVALID (unreadable or invalid). */
export async function loadPolicy(path: string, api?: PolicyApi): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('POLICY_INVALID', `Cannot read the policy file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parsePolicy(text, path, api);
}

function positionOf(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): { line: number; col: number } | undefined {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]);
  }
  return undefined;
}

/** Where the key `key` of the mapping at `path` is written. */
function keyPosition(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  key: string,
): { line: number; col: number } | undefined {
  const node: unknown = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
  const range = isScalar(pair?.key) ? pair.key.range : undefined;
  return range ? lineCounter.linePos(range[0]) : undefined;
}

/** The first alias (`*name`) in the document: where an alias problem is reported. */
function firstAlias(doc: ReturnType<typeof parseDocument>): Alias | undefined {
  let found: Alias | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

function objectError(issue: { code?: string; keys?: readonly string[] }, otherwise: string): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `unknown key(s): ${issue.keys.join(', ')}`;
  return otherwise;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === 'number' ? `${out}[${key}]` : out === '' ? String(key) : `${out}.${String(key)}`,
    '',
  );
}
