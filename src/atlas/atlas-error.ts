import { AppError, type AppErrorCode } from '../errors.js';

/** The JSON body Atlas sends with every error (spec `ApiError`). */
export interface AtlasErrorBody {
  readonly error?: number;
  readonly errorCode?: string;
  readonly detail?: string | null;
  readonly reason?: string | null;
  readonly parameters?: readonly unknown[];
}

/** What to tell a person when Atlas refuses to remove or demote the last owner (not retryable). */
const LAST_ORG_OWNER =
  'This person is the last owner of the organization, and Atlas keeps at least one. Make someone else an Organization Owner first, then try again.';
const LAST_PROJECT_OWNER =
  'This person is the last owner of the project, and Atlas keeps at least one. Make someone else a Project Owner first, then try again.';

/** Per errorCode: our code and a sentence for the person reading Slack. */
const KNOWN: Readonly<Record<string, { code: AppErrorCode; say: string }>> = {
  USERNAME_NOT_FOUND: { code: 'ATLAS_USER_NOT_FOUND', say: 'No Atlas user has this email address.' },
  USER_NOT_FOUND: { code: 'ATLAS_USER_NOT_FOUND', say: 'The Atlas user does not exist.' },
  USER_NOT_IN_ORG: { code: 'ATLAS_NOT_A_MEMBER', say: 'The user is not a member of this organization.' },
  USER_NOT_IN_GROUP: { code: 'ATLAS_NOT_A_MEMBER', say: 'The user is not a member of this project.' },
  // Last-owner refusals (NOTES.md section 5: 403; which endpoint sends which code is undocumented).
  CANNOT_DEMOTE_LAST_ORG_OWNER: { code: 'ATLAS_LAST_OWNER', say: LAST_ORG_OWNER },
  CANNOT_DELETE_LAST_ADMIN: { code: 'ATLAS_LAST_OWNER', say: LAST_ORG_OWNER },
  CANNOT_DEMOTE_LAST_OWNER: { code: 'ATLAS_LAST_OWNER', say: LAST_PROJECT_OWNER },
  CANNOT_DELETE_LAST_OWNER: { code: 'ATLAS_LAST_OWNER', say: LAST_PROJECT_OWNER },
  CANNOT_REMOVE_ALL_USER_ROLES: {
    code: 'WOULD_REMOVE_ALL_ROLES',
    say: 'A user must keep at least one role; remove them from the org or project in Atlas instead.',
  },
  INVALID_ROLE_FOR_ORG: {
    code: 'ATLAS_REJECTED',
    say: 'Atlas does not accept this role for an organization.',
  },
  INVALID_ROLE_FOR_GROUP: { code: 'ATLAS_REJECTED', say: 'Atlas does not accept this role for a project.' },
  IP_ADDRESS_NOT_ON_WHITELIST: {
    code: 'ATLAS_AUTH_FAILED',
    say: "Rolecall's IP address is not on the API key's access list; add it in Atlas (Organization Access Manager > API Keys).",
  },
};

/**
 * Turns an Atlas error response into an AppError that says what happened, with the errorCode. Atlas's
 * `detail` can carry Rolecall's egress IP and internal ids, so it stays out of the message (which
 * requesters see) and goes to `details.detail`, for approvers and logs.
 */
export function toAtlasAppError(
  status: number,
  body: AtlasErrorBody | undefined,
  call: { readonly operation: string; readonly requiredRole?: string },
): AppError {
  const { operation } = call;
  const errorCode = body?.errorCode ?? `HTTP_${status}`;
  const detail = body?.detail ?? body?.reason ?? '';
  const known = KNOWN[errorCode];
  const details = { status, errorCode, operation, ...(detail ? { detail } : {}) };
  const suffix = ` (Atlas ${errorCode})`;
  if (known) return new AppError(known.code, `${known.say}${suffix}`, { details });
  if (status === 401 || status === 403) {
    const needs = call.requiredRole
      ? `The API key or service account needs the ${call.requiredRole} role there`
      : 'Check the API key or service account and its roles';
    return new AppError(
      'ATLAS_AUTH_FAILED',
      `Atlas refused Rolecall's credentials while ${operation}. ${needs}, and Rolecall's IP address must be on its API access list${suffix}.`,
      { details },
    );
  }
  if (status === 429 || status >= 500) {
    return new AppError('ATLAS_UNAVAILABLE', `Atlas is busy or unavailable right now${suffix}.`, {
      details,
      retryable: true,
    });
  }
  return new AppError('ATLAS_REJECTED', `Atlas refused ${operation}${suffix}.`, { details });
}
