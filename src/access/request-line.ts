import { isAppError } from '../errors.js';
import { checkRequestAllowed, findTarget, type Policy, type PolicyTarget } from '../policy/policy.js';
import type { RequestLine } from '../requests/parse-command.js';
import { type Refused, refuse } from './actions.js';

/** A request line checked against the policy: the target it names, or the refusal in words. */
export type LineCheck = { readonly allowed: true; readonly target: PolicyTarget } | Refused;

/** The refusal of a target name the policy does not have, listing the ones it has. */
export function refuseUnknownTarget(policy: Policy, name: string): Refused {
  return refuse(
    'TARGET_UNKNOWN',
    `There is no target called ${name}. Known targets: ${policy.targets.map((t) => t.name).join(', ')}.`,
  );
}

/**
 * The target a line names, if the policy has it and the line's roles are of its kind (organization
 * or project roles). Break-glass asks this first; its own rules come before roles and duration.
 */
export function findLineTarget(policy: Policy, line: RequestLine): LineCheck {
  const target = findTarget(policy, line.target);
  if (!target) return refuseUnknownTarget(policy, line.target);
  if (target.kind !== line.scope) {
    const wanted = target.kind === 'org' ? 'organization roles (ORG_...)' : 'project roles (GROUP_...)';
    return refuse(
      'ROLE_INVALID',
      `${target.name} is ${target.kind === 'org' ? 'an organization' : 'a project'}: ask for ${wanted}.`,
    );
  }
  return { allowed: true, target };
}

/**
 * Runs the policy's checks on roles and duration; their AppError becomes a refusal, its words after
 * `context`. Undefined when the roles and duration fit.
 */
export function checkAgainstPolicy(
  target: PolicyTarget,
  roles: readonly string[],
  durationSeconds: number | undefined,
  context: string,
): Refused | undefined {
  try {
    checkRequestAllowed(target, roles, durationSeconds);
    return undefined;
  } catch (error) {
    if (!isAppError(error)) throw error;
    return refuse(error.code, `${context}${error.message}`);
  }
}

/**
 * What a request line asks, against the policy, before anyone's place in it: a known target, roles of
 * its kind that it offers, a duration its rules allow. The one wording of these refusals, for
 * `authorize` and for the request form's field errors.
 */
export function checkRequestLine(policy: Policy, line: RequestLine): LineCheck {
  const found = findLineTarget(policy, line);
  if (!found.allowed) return found;
  return checkAgainstPolicy(found.target, line.roles, line.durationSeconds, '') ?? found;
}
