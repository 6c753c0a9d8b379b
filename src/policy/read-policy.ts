import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { AppError } from '../errors.js';
import { DATABASE_ITEM_PREFIX, teamItem } from '../lib/access-items.js';
import { parseDuration } from '../lib/duration.js';
import type { ScopeKind } from '../lib/scope.js';
import { approverChaseOf } from './approval-schema.js';
import { withBundles } from './bundle-parts.js';
import type { Policy, PolicyTarget, Principal, RoleRule } from './policy.js';
import { type PolicyFileTarget, policyFileSchema } from './policy-file-schema.js';
import { formatPath, locateFirstAlias, locateKey, locatePath, type YamlDocument } from './yaml-positions.js';

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
    const at = locateFirstAlias(doc, lineCounter);
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
                locateKey(doc, lineCounter, issue.path, key) ?? locatePath(doc, lineCounter, issue.path);
              return { line: at?.line, col: at?.col, message: `${where}unknown key ${key}` };
            });
          }
          // A key that is not allowed (a bundle's name) is reported where the key is written.
          const key = issue.code === 'invalid_key' ? issue.path.at(-1) : undefined;
          const at =
            (typeof key === 'string'
              ? locateKey(doc, lineCounter, issue.path.slice(0, -1), key)
              : undefined) ?? locatePath(doc, lineCounter, issue.path);
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
  return withBundles(data.bundles, {
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
          roles: [
            ...new Set([
              ...t.roles,
              ...(t.teams ?? []).map(teamItem),
              ...Object.keys(t.database?.levels ?? {}).map((level) => `${DATABASE_ITEM_PREFIX}${level}`),
            ]),
          ],
          database:
            t.database === undefined
              ? undefined
              : {
                  levels: t.database.levels,
                  auth: t.database.auth,
                  accessList: t.database.accessList ?? 'none',
                  ...(t.database.oidcIdentityProvider
                    ? { oidcIdentityProvider: t.database.oidcIdentityProvider }
                    : {}),
                  ...(t.database.awsIamPrincipal ? { awsIamPrincipal: t.database.awsIamPrincipal } : {}),
                },
          maxDurationSeconds: t.maxDuration === undefined ? undefined : parseDuration(t.maxDuration),
          approvalsChannel: t.approvalsChannel ?? data.approvalsChannel,
          requesters: t.requesters,
          onBehalf: t.onBehalf,
          reviewEverySeconds: t.review === undefined ? undefined : parseDuration(t.review),
          federatedTeam: t.federatedTeam,
          ticket: t.ticket,
          ...approverChaseOf(t),
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
              ticket: rule.ticket,
              ...(rule.onCall
                ? {
                    onCall: [
                      ...(rule.onCall.pagerduty ?? []).map((id) => ({ provider: 'pagerduty' as const, id })),
                      ...(rule.onCall.opsgenie ?? []).map((id) => ({ provider: 'opsgenie' as const, id })),
                    ],
                    onCallApproves: rule.onCallApproves ?? 'requester',
                  }
                : {}),
              ...approverChaseOf(rule),
            }),
          ),
        }),
      ),
    },
  });
}

function rolesMissingFrom(
  api: PolicyApi,
  targets: readonly PolicyFileTarget[],
  doc: YamlDocument,
  lineCounter: LineCounter,
): PolicyProblem[] {
  return targets.flatMap((t, index) => {
    const kind: ScopeKind = t.project === undefined ? 'org' : 'project';
    const bad = new Set(api.invalidRoles(kind, t.roles));
    return t.roles.flatMap((role, r) => {
      if (!bad.has(role)) return [];
      const path = ['targets', index, 'roles', r];
      const at = locatePath(doc, lineCounter, path);
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
