import { z } from 'zod';
import { DATABASE_ITEM_PREFIX, isDatabaseItem, TEAM_ITEM_PREFIX, teamItem } from '../lib/access-items.js';
import { ATLAS_ID } from '../lib/patterns.js';

/** A bundle's name, as people type it after `bundle:` (lower-case, like group names). */
export const BUNDLE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** One entry of a bundle as written: `ITEM on TARGET`, or a bare ITEM that exactly one target offers. */
const ENTRY = /^(?<item>\S+)(?:\s+on\s+(?<target>\S+))?$/i;

/**
 * `bundles:` at the top of the policy: named sets of items across targets, asked for in one request
 * (`/atlas-access request bundle:NAME for 2h because …`). Which targets and items exist is checked
 * against `targets:` by {@link checkBundles}.
 */
export const bundlesSchema = z
  .record(
    z.string().regex(BUNDLE_NAME, 'bundle names must be lower-case letters, digits, "_" or "-" (at most 64)'),
    z
      .array(
        z
          .string({ error: 'each part of a bundle is text: "ITEM on TARGET", e.g. ORG_READ_ONLY on acme' })
          .regex(
            ENTRY,
            'each part of a bundle reads "ITEM on TARGET", e.g. GROUP_READ_ONLY on payments-prod',
          ),
        { error: 'a bundle is a list of "ITEM on TARGET" entries' },
      )
      .min(1, 'a bundle needs at least one part')
      .describe(
        'Its parts: "ITEM on TARGET" (a role, team:NAME; a target by name or 24-hex id), or a bare ITEM exactly one target offers. Each part is authorized under its own target’s rules.',
      ),
    {
      error: (issue) =>
        issue.code === 'invalid_key'
          ? 'bundle names must be lower-case letters, digits, "_" or "-" (at most 64)'
          : issue.code === 'invalid_type'
            ? 'bundles is a mapping of names to lists of "ITEM on TARGET"'
            : undefined,
    },
  )
  .describe(
    'Named bundles of items across targets, asked for in one request (/atlas-access request bundle:NAME for 2h because …): decided once by someone who may approve every part, applied part by part, ended together.',
  );

/** What a bundle entry can name: a target and the items it offers (roles, team:NAME, db:LEVEL). */
export interface BundleTargetOffer {
  readonly name: string;
  readonly id: string;
  readonly offered: readonly string[];
}

/** Where one entry of a bundle resolves: a target (its index) and an item it offers, or why not. */
export type BundleEntryResolution =
  | { readonly ok: true; readonly target: number; readonly item: string }
  | { readonly ok: false; readonly message: string };

/** `team:Name` as written, a role upper-cased, `db:level` lower-cased: how people type items. */
function normalizeItem(item: string): string {
  if (/^team:/i.test(item)) return teamItem(item.slice(TEAM_ITEM_PREFIX.length));
  if (/^db:/i.test(item))
    return `${DATABASE_ITEM_PREFIX}${item.slice(DATABASE_ITEM_PREFIX.length).toLowerCase()}`;
  return item.toUpperCase();
}

/** Resolves one bundle entry against the targets; the message says what is wrong in words. */
export function resolveBundleEntry(
  entry: string,
  targets: readonly BundleTargetOffer[],
): BundleEntryResolution {
  const match = ENTRY.exec(entry.trim());
  if (!match?.groups) return { ok: false, message: `"${entry}" must read "ITEM on TARGET"` };
  const item = normalizeItem(match.groups.item ?? '');
  if (isDatabaseItem(item)) {
    return {
      ok: false,
      message: `${item}: database access is asked on its own (its password or address is the grantee's), not in a bundle`,
    };
  }
  const named = match.groups.target;
  if (named !== undefined) {
    const key = named.toLowerCase();
    const index = targets.findIndex((t) =>
      ATLAS_ID.test(named) ? t.id === named : t.name.toLowerCase() === key,
    );
    const target = targets[index];
    if (target === undefined) return { ok: false, message: `${named} is not a target of this policy` };
    if (!target.offered.includes(item)) {
      return {
        ok: false,
        message: `${item} is not offered on ${target.name} (it offers ${target.offered.join(', ')})`,
      };
    }
    return { ok: true, target: index, item };
  }
  const offering = targets.flatMap((t, index) => (t.offered.includes(item) ? [index] : []));
  if (offering.length === 1) return { ok: true, target: offering[0] ?? 0, item };
  return {
    ok: false,
    message:
      offering.length === 0
        ? `${item} is offered by no target; write "${item} on TARGET" with a target that offers it`
        : `${item} is offered by ${offering.map((i) => targets[i]?.name).join(' and ')}; say which: "${item} on TARGET"`,
  };
}

/** The targets of the file as bundles see them: each with what it offers. */
export function offersOf(
  targets: readonly {
    readonly name: string;
    readonly project?: string | undefined;
    readonly org?: string | undefined;
    readonly roles: readonly string[];
    readonly teams?: readonly string[] | undefined;
    readonly database?: { readonly levels: Readonly<Record<string, unknown>> } | undefined;
  }[],
): BundleTargetOffer[] {
  return targets.map((t) => ({
    name: t.name,
    id: t.project ?? t.org ?? '',
    offered: [
      ...t.roles,
      ...(t.teams ?? []).map(teamItem),
      ...Object.keys(t.database?.levels ?? {}).map((level) => `${DATABASE_ITEM_PREFIX}${level}`),
    ],
  }));
}

/** One problem of `bundles:`, at its path in the file. */
export interface BundleIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * Every problem of `bundles:` against the targets: an entry naming a target the policy lacks or an
 * item its target does not offer, a bare item no target (or several) offers, database access, a part
 * named twice.
 */
export function checkBundles(
  bundles: Readonly<Record<string, readonly string[]>> | undefined,
  targets: readonly BundleTargetOffer[],
): BundleIssue[] {
  const issues: BundleIssue[] = [];
  for (const [name, entries] of Object.entries(bundles ?? {})) {
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const resolved = resolveBundleEntry(entry, targets);
      if (!resolved.ok) {
        issues.push({ path: ['bundles', name, index], message: resolved.message });
        return;
      }
      const key = `${resolved.item} on ${targets[resolved.target]?.name}`;
      const earlier = seen.get(key);
      if (earlier !== undefined) {
        issues.push({
          path: ['bundles', name, index],
          message: `${key} is already part ${earlier + 1} of bundle ${name}`,
        });
      }
      seen.set(key, index);
    });
  }
  return issues;
}

/** What a target of the file says about who decides its items: its approvers and its rules. */
export interface BundleTargetDeciders {
  readonly approvers: readonly string[];
  readonly rules?:
    | readonly {
        readonly roles: readonly string[];
        readonly approvers?: readonly string[] | undefined;
        readonly approvals?: number | undefined;
      }[]
    | undefined;
}

/**
 * A bundle is decided by one person allowed on every part: when every approver list of its items names
 * only users (no user group, which may hold anyone) and no user is in all of them, nobody could ever
 * decide it; nor when a part's rule needs more approvals than there are users in all of them (each
 * approval of a bundle comes from someone allowed on every part). Group names are read through `groups`.
 */
export function checkBundleDeciders(
  bundles: Readonly<Record<string, readonly string[]>> | undefined,
  targets: readonly BundleTargetOffer[],
  deciders: readonly BundleTargetDeciders[],
  groups: Readonly<Record<string, readonly string[]>>,
): BundleIssue[] {
  const issues: BundleIssue[] = [];
  for (const [name, entries] of Object.entries(bundles ?? {})) {
    const lists: string[][] = [];
    let needed = 1;
    for (const entry of entries) {
      const resolved = resolveBundleEntry(entry, targets);
      const target = resolved.ok ? deciders[resolved.target] : undefined;
      if (!resolved.ok || !target) return issues;
      const rule = target.rules?.find((r) => r.roles.includes(resolved.item));
      needed = Math.max(needed, rule?.approvals ?? 1);
      lists.push([...new Set((rule?.approvers ?? target.approvers).flatMap((p) => groups[p] ?? [p]))]);
    }
    if (lists.some((list) => list.some((p) => !/^[UW]/.test(p)))) continue;
    const common = (lists[0] ?? []).filter((p) => lists.every((list) => list.includes(p)));
    if (common.length === 0) {
      issues.push({
        path: ['bundles', name],
        message: `nobody named may approve every part of bundle ${name}, and one person allowed on every part decides a bundle: name a common approver, or split it`,
      });
    } else if (common.length < needed) {
      issues.push({
        path: ['bundles', name],
        message: `bundle ${name} needs ${needed} approvals on a part, but only ${common.length === 1 ? '1 person' : `${common.length} people`} named may approve every part (${common.join(', ')}), and each approval of a bundle must come from someone allowed on every part: name more common approvers, or split it`,
      });
    }
  }
  return issues;
}

/**
 * Every problem of the file's `bundles:` (see {@link checkBundles}), then, once every entry resolves,
 * bundles nobody named could decide ({@link checkBundleDeciders}).
 */
export function bundleIssuesOf(file: {
  readonly bundles?: Readonly<Record<string, readonly string[]>> | undefined;
  readonly groups?: Readonly<Record<string, readonly string[]>> | undefined;
  readonly targets: readonly (Parameters<typeof offersOf>[0][number] & BundleTargetDeciders)[];
}): BundleIssue[] {
  const offers = offersOf(file.targets);
  const issues = checkBundles(file.bundles, offers);
  return issues.length > 0
    ? issues
    : checkBundleDeciders(file.bundles, offers, file.targets, file.groups ?? {});
}
