import { AppError } from '../errors.js';
import { formatDuration } from '../lib/duration.js';
import { ATLAS_ID } from '../lib/patterns.js';
import type { TargetRef } from '../lib/scope.js';

/** One org or project people may ask for roles on, and who decides. */
export interface PolicyTarget extends TargetRef {
  /** Slack user ids allowed to approve or deny. */
  readonly approvers: readonly string[];
  /** Roles that may be requested on this target. */
  readonly roles: readonly string[];
  /** Longest temporary grant, in seconds; undefined = no limit and permanent grants allowed. */
  readonly maxDurationSeconds: number | undefined;
}

/** The validated policy file. */
export interface Policy {
  readonly approvalsChannel: string;
  readonly targets: readonly PolicyTarget[];
}

/** Looks a target up by its policy name (case-insensitive) or its 24-hex Atlas id. */
export function findTarget(policy: Policy, nameOrId: string): PolicyTarget | undefined {
  const key = nameOrId.trim();
  if (ATLAS_ID.test(key)) return policy.targets.find((t) => t.id === key);
  const lower = key.toLowerCase();
  return policy.targets.find((t) => t.name.toLowerCase() === lower);
}

/** Checks what a requester asks for against the target's rules; throws an AppError saying what is wrong. */
export function checkRequestAllowed(
  target: PolicyTarget,
  roles: readonly string[],
  durationSeconds: number | undefined,
): void {
  const notAllowed = roles.filter((role) => !target.roles.includes(role));
  if (notAllowed.length > 0) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `${notAllowed.join(', ')} cannot be requested on ${target.name}. Allowed there: ${target.roles.join(', ')}.`,
    );
  }
  if (target.maxDurationSeconds !== undefined) {
    if (durationSeconds === undefined) {
      throw new AppError(
        'DURATION_INVALID',
        `Access to ${target.name} must be temporary: add a duration of at most ${formatDuration(target.maxDurationSeconds)} (e.g. "for 4h").`,
      );
    }
    if (durationSeconds > target.maxDurationSeconds) {
      throw new AppError(
        'DURATION_INVALID',
        `Access to ${target.name} may last at most ${formatDuration(target.maxDurationSeconds)}; you asked for ${formatDuration(durationSeconds)}.`,
      );
    }
  }
}

/** The people involved in a request, as far as deciding on it matters. */
export interface RequestParties {
  readonly requesterId: string;
  readonly granteeId: string;
}

/** Throws unless `deciderId` may approve or deny a request on `target` made by these parties. */
export function checkDecider(target: PolicyTarget, deciderId: string, parties: RequestParties): void {
  if (deciderId === parties.requesterId || deciderId === parties.granteeId) {
    throw new AppError(
      'SELF_APPROVAL',
      'You can’t approve or deny a request that you made or that gives you access.',
    );
  }
  if (!target.approvers.includes(deciderId)) {
    throw new AppError(
      'NOT_AN_APPROVER',
      `You can’t approve this: only the approvers of ${target.name} can decide on it.`,
    );
  }
}
