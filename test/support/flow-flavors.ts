import type { AtlasInjection, RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';

/** How one Atlas API flavor reads and changes roles, as a flow test sees it in the simulator. */
export interface FlowFlavor {
  /** ATLAS_API. */
  readonly api: Extract<AtlasApiFlavor, 'atlas-v2' | 'atlas-v2-2025'>;
  /** Every call that changes someone's roles on a project or an org: where faults and delays go. */
  readonly roleWrite: { readonly method: string; readonly path: RegExp };
  /** The call that reads a person's roles on a project before a change. */
  readonly roleRead: { readonly method: string; readonly path: RegExp };
  /**
   * The first call a revocation makes: the read on a flavor that reads before it writes, the
   * `:removeRole` itself on one that changes a role with one call.
   */
  readonly revocationCall: { readonly method: string; readonly path: RegExp };
  /**
   * The look-ups a process makes once and remembers (the project's org, the person's user id), or
   * null when the flavor makes none: a flow that reads and writes roles makes no other call.
   */
  readonly lookup: RegExp | null;
  /** What one grant of a role the person lacks costs once look-ups are done: `read` and `write` calls, in order. */
  readonly grantCalls: readonly ('read' | 'write')[];
  /** The media type (version) of its user calls. */
  readonly mediaType: string;
  /**
   * The writes that take a person's project roles from `before` to `after` (path relative to
   * `/api/atlas/v2/groups/{project}/users/{userId}`), in the order the flavor sends them.
   */
  projectWrites(before: readonly string[], after: readonly string[]): { suffix: string; body: unknown }[];
}

/** `atlas-v2`: one PUT of the whole role list per change (the tests' timelines were first written against it). */
export const ATLAS_V2: FlowFlavor = {
  api: 'atlas-v2',
  roleWrite: { method: 'PUT', path: /\/users\/[0-9a-f]{24}\/roles$/ },
  roleRead: { method: 'GET', path: /\/users\/byName\// },
  revocationCall: { method: 'GET', path: /\/users\/byName\// },
  lookup: null,
  grantCalls: ['read', 'write'],
  mediaType: 'application/vnd.atlas.2023-01-01+json',
  projectWrites: (_before, after) => [{ suffix: '/roles', body: { groupRoles: [...after] } }],
};

/**
 * `atlas-v2-2025`, the product's default: one `:addRole` or `:removeRole` POST per role, and no read
 * before it where the grant's person and roles are known (a grant is one call, a revocation one).
 */
export const ATLAS_V2_2025: FlowFlavor = {
  api: 'atlas-v2-2025',
  roleWrite: { method: 'POST', path: /\/users\/[0-9a-f]{24}:(addRole|removeRole)$/ },
  roleRead: { method: 'GET', path: /^\/api\/atlas\/v2\/groups\/[0-9a-f]{24}\/users\/[0-9a-f]{24}$/ },
  revocationCall: { method: 'POST', path: /\/users\/[0-9a-f]{24}:removeRole$/ },
  lookup: /^\/api\/atlas\/v2\/(groups\/[0-9a-f]{24}|(orgs|groups)\/[0-9a-f]{24}\/users\?username=[^&]+)$/,
  grantCalls: ['write'],
  mediaType: 'application/vnd.atlas.2025-02-19+json',
  projectWrites: (before, after) => [
    ...after.filter((r) => !before.includes(r)).map((r) => ({ suffix: ':addRole', body: { groupRole: r } })),
    ...before
      .filter((r) => !after.includes(r))
      .map((r) => ({ suffix: ':removeRole', body: { groupRole: r } })),
  ],
};

/**
 * The flavors every end-to-end flow suite runs on with `describe.each`: the one the tests' timelines
 * were first written against (`atlas-v2`, one PUT per change), and the product's default
 * (`atlas-v2-2025`, one `:addRole` or `:removeRole` POST per role).
 */
export const FLOW_FLAVORS: readonly FlowFlavor[] = [ATLAS_V2, ATLAS_V2_2025];

/** A simulator fault on the flavor's role writes: `fault` says how they fail (status, delay, times). */
export function onRoleWrites(
  flavor: FlowFlavor,
  fault: Omit<AtlasInjection, 'method' | 'path'>,
): AtlasInjection {
  return { ...fault, method: flavor.roleWrite.method, path: flavor.roleWrite.path };
}

/** Whether a recorded call changed someone's roles with this flavor. */
export function isRoleWrite(flavor: FlowFlavor, call: { method: string; path: string }): boolean {
  return call.method === flavor.roleWrite.method && flavor.roleWrite.path.test(call.path.split('?')[0] ?? '');
}

/** Whether a recorded call read someone's project roles with this flavor. */
export function isRoleRead(flavor: FlowFlavor, call: { method: string; path: string }): boolean {
  return call.method === flavor.roleRead.method && flavor.roleRead.path.test(call.path.split('?')[0] ?? '');
}

/** Every call that was not a read (GET), answered or not: what "nothing was written" checks. */
export function writesIn(calls: readonly RecordedAtlasCall[]): RecordedAtlasCall[] {
  return calls.filter((c) => c.method !== 'GET');
}

/** What a recorded call was to a flow test: a role read, a role write, a look-up, or itself. */
export function kindOf(flavor: FlowFlavor, call: { method: string; path: string }): string {
  if (isRoleRead(flavor, call)) return 'read';
  if (isRoleWrite(flavor, call)) return 'write';
  if (call.method === 'GET' && flavor.lookup?.test(call.path)) return 'lookup';
  return `${call.method} ${call.path}`;
}
