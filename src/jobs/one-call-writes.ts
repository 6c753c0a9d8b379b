import type { SingleRoleApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import type { AtlasScope } from '../lib/scope.js';

/** What one call per role did, and the person's roles before the first call, worked out from the answers. */
export interface EachResult {
  /** The roles before the calls; null when no call changed anything (every answer a 409) or one failed. */
  readonly before: readonly string[] | null;
  /** Roles Atlas changed. */
  readonly changed: readonly string[];
  /** Roles Atlas left as they were (409: already held when adding, no longer held when removing). */
  readonly unchanged: readonly string[];
  /** Of `unchanged`, those whose 409 came after a try that lost its answer: most likely this call's work. */
  readonly afterLostAnswer: readonly string[];
  /**
   * The call that failed, if one did (the calls stop there): `refused` when Atlas answered it with an
   * error status, so its role surely did not change; false when the answer was lost (it may have).
   */
  readonly failed: { readonly role: string; readonly error: unknown; readonly refused: boolean } | null;
}

/** Adds each role with one `:addRole`, in order; the roles before are the last answer minus what was added. */
export async function addEach(
  single: SingleRoleApi,
  scope: AtlasScope,
  userId: string,
  roles: readonly string[],
): Promise<EachResult> {
  return each(
    roles,
    (role) => single.addRole(scope, userId, role),
    (after, changed) => after.filter((role) => !changed.includes(role)),
  );
}

/** Removes each role with one `:removeRole`, in order; the roles before are the last answer plus what was removed. */
export async function removeEach(
  single: SingleRoleApi,
  scope: AtlasScope,
  userId: string,
  roles: readonly string[],
): Promise<EachResult> {
  return each(
    roles,
    (role) => single.removeRole(scope, userId, role),
    (after, changed) => [...new Set([...after, ...changed])],
  );
}

async function each(
  roles: readonly string[],
  call: (role: string) => ReturnType<SingleRoleApi['addRole']>,
  beforeOf: (after: readonly string[], changed: readonly string[]) => string[],
): Promise<EachResult> {
  const changed: string[] = [];
  const unchanged: string[] = [];
  const afterLostAnswer: string[] = [];
  let after: readonly string[] | null = null;
  for (const role of roles) {
    try {
      const answer = await call(role);
      if (!answer.changed) {
        unchanged.push(role);
        if (answer.afterLostAnswer) afterLostAnswer.push(role);
        continue;
      }
      changed.push(role);
      if (answer.roles !== null) after = answer.roles;
    } catch (error) {
      // Refused: Atlas answered with a 4xx and no earlier try of the call lost its answer. A 5xx (or a
      // lost answer before it) leaves open whether the call landed.
      const status = isAppError(error) ? error.details.status : undefined;
      const refused =
        isAppError(error) &&
        typeof status === 'number' &&
        status >= 400 &&
        status < 500 &&
        error.details.afterLostAnswer !== true;
      return { before: null, changed, unchanged, afterLostAnswer, failed: { role, error, refused } };
    }
  }
  const before = after === null ? null : beforeOf(after, changed);
  return { before, changed, unchanged, afterLostAnswer, failed: null };
}
