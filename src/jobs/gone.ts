import { mayMeanGone } from '../atlas/atlas-error.js';
import type { AtlasRolesApi, Missing } from '../atlas/roles-api.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest } from '../requests/model.js';

/** "the project no longer exists in Atlas (…)": what is gone, in words for the audit and Slack. */
export function describeMissing(
  request: Pick<AccessRequest, 'target' | 'granteeEmail'>,
  missing: Missing,
): string {
  if (missing === 'user')
    return `the user no longer exists in Atlas (the account of ${request.granteeEmail} was deleted)`;
  const kind = request.target.kind === 'org' ? 'organization' : 'project';
  return `the ${kind} no longer exists in Atlas (${request.target.name} was deleted there)`;
}

/**
 * Whether the request's organization or project, or its grantee's Atlas account, is gone. Asked after
 * a failure that may mean so (`error`; then a check that cannot answer counts as "nothing gone", and
 * the caller goes on with that failure), or after finding the person holds nothing there (no `error`;
 * then a check that cannot answer is thrown, so the job tries again).
 */
export async function findGone(
  atlas: Pick<AtlasRolesApi, 'findMissing'>,
  request: Pick<AccessRequest, 'id' | 'target' | 'granteeEmail' | 'plan'>,
  logger: Logger,
  error?: unknown,
): Promise<Missing | null> {
  if (error !== undefined && !mayMeanGone(error)) return null;
  try {
    const missing = await atlas.findMissing(request.target, {
      username: request.granteeEmail,
      userId: request.plan?.atlasUserId || undefined,
    });
    if (missing) logger.warn(`atlas: ${describeMissing(request, missing)}`, { requestId: request.id });
    return missing;
  } catch (cause) {
    if (error === undefined) throw cause;
    logger.warn('atlas: could not tell whether the target or the person still exists', {
      requestId: request.id,
      error: isAppError(cause) ? cause.message : String(cause),
    });
    return null;
  }
}

/** Why a grant cannot be applied: its target or its grantee's account is gone. Not retryable. */
export function goneError(
  request: Pick<AccessRequest, 'target' | 'granteeEmail'>,
  missing: Missing,
): AppError {
  const what = describeMissing(request, missing);
  const then =
    missing === 'target'
      ? `Nothing was changed; remove ${request.target.name} from the policy if it is gone for good.`
      : 'Nothing was changed.';
  return new AppError(
    missing === 'target' ? 'ATLAS_TARGET_GONE' : 'ATLAS_USER_NOT_FOUND',
    `${capitalize(what)}. ${then}`,
    { details: { missing } },
  );
}

function capitalize(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}
