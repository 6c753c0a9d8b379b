import { readFile } from 'node:fs/promises';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseDuration } from '../lib/duration.js';
import { ATLAS_ID, ROLE_NAME, SLACK_CHANNEL_ID, SLACK_USER_ID } from '../lib/patterns.js';
import type { Policy, PolicyTarget } from './policy.js';

const targetSchema = z
  .object(
    {
      name: z
        .string({ error: 'name is required (a short label such as payments-prod)' })
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'name must be 1-64 letters, digits, ".", "_" or "-"')
        .refine((v) => !ATLAS_ID.test(v), 'name must not look like a 24-hex Atlas id'),
      project: z
        .string()
        .regex(ATLAS_ID, 'project must be a 24-character lowercase hex Atlas project id')
        .optional(),
      org: z
        .string()
        .regex(ATLAS_ID, 'org must be a 24-character lowercase hex Atlas organization id')
        .optional(),
      approvers: z
        .array(z.string().regex(SLACK_USER_ID, 'approvers must be Slack user ids such as U0123ABCD'), {
          error: 'approvers is required: a list of Slack user ids',
        })
        .min(1, 'approvers needs at least one Slack user id'),
      roles: z
        .array(
          z.string().regex(ROLE_NAME, 'roles must be Atlas role names such as GROUP_READ_ONLY or ORG_MEMBER'),
          {
            error: 'roles is required: the Atlas roles that may be requested here',
          },
        )
        .min(1, 'roles needs at least one role'),
      maxDuration: z
        .string()
        .refine((v) => parseDuration(v) !== undefined, 'maxDuration must look like 30m, 4h or 7d')
        .optional(),
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
  });

const policySchema = z
  .object(
    {
      approvalsChannel: z
        .string({ error: 'approvalsChannel is required: the Slack channel id where approvals are posted' })
        .regex(SLACK_CHANNEL_ID, 'approvalsChannel must be a Slack channel id such as C0123ABCD'),
      targets: z
        .array(targetSchema, { error: 'targets is required: a list of orgs and projects' })
        .min(1, 'targets needs at least one entry'),
    },
    {
      error: (issue) => objectError(issue, 'the policy must be a mapping with approvalsChannel and targets'),
    },
  )
  .strict()
  .superRefine((p, ctx) => {
    const names = new Map<string, number>();
    const ids = new Map<string, number>();
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
    });
  });

/** Parses and validates policy YAML; errors name the file and line of each problem, all at once. */
export function parsePolicy(text: string, source = 'policy.yml'): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0];
      return `  - ${source}${at ? ` line ${at.line}` : ''}: ${e.message.split('\n')[0]}`;
    });
    throw new AppError('POLICY_INVALID', `The policy file is not valid YAML:\n${lines.join('\n')}`);
  }
  const result = policySchema.safeParse(doc.toJS());
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const line = lineOf(doc, lineCounter, issue.path);
      const where = issue.path.length > 0 ? ` (${formatPath(issue.path)})` : '';
      return `  - ${source}${line === undefined ? '' : ` line ${line}`}${where}: ${issue.message}`;
    });
    throw new AppError(
      'POLICY_INVALID',
      `The policy file has ${lines.length} problem(s):\n${lines.join('\n')}`,
    );
  }
  return {
    approvalsChannel: result.data.approvalsChannel,
    targets: result.data.targets.map(
      (t): PolicyTarget => ({
        name: t.name,
        kind: t.project === undefined ? 'org' : 'project',
        id: t.project ?? t.org ?? '',
        approvers: t.approvers,
        roles: [...new Set(t.roles)],
        maxDurationSeconds: t.maxDuration === undefined ? undefined : parseDuration(t.maxDuration),
      }),
    ),
  };
}

/** Reads and validates the policy file at `path`. */
export async function loadPolicy(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError('POLICY_INVALID', `Cannot read the policy file ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parsePolicy(text, path);
}

function lineOf(
  doc: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): number | undefined {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
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
