import type { Person } from '../access/actions.js';
import type { PolicyGate } from '../access/policy-gate.js';
import { AppError } from '../errors.js';
import type { Policy, PolicyTarget } from '../policy/policy.js';
import { targetOf } from '../policy/policy.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestLine } from '../requests/parse-command.js';
import type { Directory } from '../requests/ports.js';
import { describeInstant } from '../requests/scheduled-start.js';

/** What {@link createStartCheck} reads: the policy in force, its gate, and who people are in Slack now. */
export interface StartCheckDeps {
  readonly policy: () => Policy;
  readonly gate: PolicyGate;
  readonly directory: Directory;
}

/**
 * A grant approved ahead of its start is asked again at the start, under the policy of that moment,
 * whether it may still be filed as it was (the requester, the grantee, the roles, the duration): up
 * to 30 days may pass, in which a role can leave the policy or a person their group. Throws in words
 * when it may not (nothing is granted), retryably when Slack could not confirm a user group.
 */
export function createStartCheck(deps: StartCheckDeps) {
  return async (request: AccessRequest): Promise<void> => {
    const start = describeInstant(request.startsAt ?? Date.now());
    const target = targetOf(deps.policy(), request.target);
    if (!target) {
      throw new AppError(
        'TARGET_UNKNOWN',
        `${request.id} was approved to start at ${start}, but ${request.target.name} is no longer in the policy; nothing was granted.`,
      );
    }
    const { requester, draft } = await asFiled(deps.directory, request, target);
    const grantee =
      request.granteeId === request.requesterId ? requester : await deps.directory.person(request.granteeId);
    const { verdict } = await deps.gate.ask('request', requester, { draft, grantee });
    if (verdict.allowed) return;
    throw new AppError(
      verdict.code,
      `${request.id} was approved to start at ${start}, but the policy in force now refuses it: ${verdict.reason} Nothing was granted.`,
      { retryable: verdict.code === 'USER_GROUP_UNCONFIRMED' },
    );
  };
}

/**
 * A stored request as its requester filed it, for asking the gate again (the start check, an
 * automatic approval): the requester now, in the workspace they asked from (an org-wide install
 * reads user groups there), and the line they asked for.
 */
export async function asFiled(
  directory: Directory,
  request: AccessRequest,
  target: PolicyTarget,
): Promise<{ readonly requester: Person; readonly draft: RequestLine }> {
  const found = await directory.person(request.requesterId);
  return {
    requester: request.requesterTeamId === null ? found : { ...found, teamId: request.requesterTeamId },
    draft: {
      roles: request.roles,
      scope: target.kind,
      target: target.id,
      durationSeconds: request.durationSeconds ?? undefined,
      reason: request.reason,
    },
  };
}
