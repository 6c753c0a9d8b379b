import { AppError, type AppErrorCode, isAppError } from '../errors.js';

/** The JSON body Atlas sends with every error (spec `ApiError`). */
export interface AtlasErrorBody {
  readonly error?: number;
  readonly errorCode?: string;
  readonly detail?: string | null;
  readonly reason?: string | null;
  readonly parameters?: readonly unknown[];
}

/** The call an error answered: its words, and the role the key needs for it. */
interface FailedCall {
  readonly operation: string;
  readonly requiredRole?: string;
}

/** What an errorCode means for Rolecall: its code, the words for Slack, and whether a later try may work. */
interface Meaning {
  readonly code: AppErrorCode;
  readonly say: (call: FailedCall) => string;
  readonly retryable?: boolean;
}

const fixed = (code: AppErrorCode, words: string, retryable = false): Meaning => ({
  code,
  say: () => words,
  retryable,
});

/** The key lacks a role: named from the call, else from what the errorCode says is missing. */
const lacksRole = (fallback?: string): Meaning => ({
  code: 'ATLAS_AUTH_FAILED',
  say: (call) => {
    const role = call.requiredRole ?? fallback;
    return `Atlas says the API key or service account may not do this (${call.operation}): it needs ${role ? `the ${role} role` : 'a role that allows it'} there.`;
  },
});

const WHERE_ACCESS_LISTS_ARE =
  "add Rolecall's egress address to it in Atlas (Organization Access Manager > Applications > API Keys or Service Accounts > Edit > access list). The key's roles are not the problem.";
const IP_NOT_ON_LIST = fixed(
  'ATLAS_AUTH_FAILED',
  `Atlas refused the call because Rolecall's IP address is not on the API key's access list (or the service account's): ${WHERE_ACCESS_LISTS_ARE}`,
);
const ORG_NEEDS_LIST = fixed(
  'ATLAS_AUTH_FAILED',
  `The organization requires every API call to come from an address on the API key's access list (or the service account's), and Rolecall's IP address is not on it: ${WHERE_ACCESS_LISTS_ARE}`,
);
const RESOURCE_NEEDS_LIST = fixed(
  'ATLAS_AUTH_FAILED',
  `This part of Atlas is reachable only from an address on the API key's access list (or the service account's), and Rolecall's IP address is not on it: ${WHERE_ACCESS_LISTS_ARE}`,
);
const CREDENTIALS_REFUSED: Meaning = {
  code: 'ATLAS_AUTH_FAILED',
  say: (call) =>
    `Atlas did not accept Rolecall's credentials while ${call.operation}: check the API key (ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY) or the service account (ATLAS_CLIENT_ID, ATLAS_CLIENT_SECRET).${call.requiredRole ? ` It also needs the ${call.requiredRole} role there.` : ''}`,
};
const NO_ACCESS_TO_PROJECT: Meaning = {
  code: 'ATLAS_AUTH_FAILED',
  say: (call) =>
    `The API key or service account cannot reach this project in Atlas, or the project no longer exists: it must belong to the organization that owns the project and have the ${call.requiredRole ?? 'Project Owner'} role there.`,
};
const NO_ACCESS_TO_ORG: Meaning = {
  code: 'ATLAS_AUTH_FAILED',
  say: (call) =>
    `The API key or service account cannot reach this organization in Atlas: it must belong to it and have the ${call.requiredRole ?? 'Organization Owner'} role there.`,
};

const PROJECT_GONE = fixed(
  'ATLAS_TARGET_GONE',
  'The project does not exist in Atlas (any more): it was deleted, or the policy names a wrong project id.',
);
const ORG_GONE = fixed(
  'ATLAS_TARGET_GONE',
  'The organization does not exist in Atlas (any more): it was deleted, or the policy names a wrong organization id.',
);
const NOTHING_THERE: Meaning = {
  code: 'ATLAS_REJECTED',
  say: (call) =>
    `Atlas cannot find what ${call.operation} names: the project, organization or user may have been deleted.`,
};
const USER_GONE = fixed('ATLAS_USER_NOT_FOUND', 'The Atlas user does not exist (any more).');
const NO_SUCH_EMAIL = fixed('ATLAS_USER_NOT_FOUND', 'No Atlas user has this email address.');
const NOT_IN_ORG = fixed('ATLAS_NOT_A_MEMBER', 'The user is not a member of this organization.');
const NOT_IN_PROJECT = fixed('ATLAS_NOT_A_MEMBER', 'The user is not a member of this project.');
const TEAM_GONE = fixed(
  'ATLAS_REJECTED',
  'The team does not exist in this Atlas organization (any more): it was deleted, or the policy names a wrong team id.',
);

/** What to tell a person when Atlas refuses to remove or demote the last owner (not retryable). */
const LAST_ORG_OWNER = fixed(
  'ATLAS_LAST_OWNER',
  'This person is the last owner of the organization, and Atlas keeps at least one. Make someone else an Organization Owner first, then try again.',
);
const LAST_PROJECT_OWNER = fixed(
  'ATLAS_LAST_OWNER',
  'This person is the last owner of the project, and Atlas keeps at least one. Make someone else a Project Owner first, then try again.',
);
const WRONG_SCOPE = fixed(
  'ATLAS_REJECTED',
  'Atlas refused the role assignment: the role does not belong to that kind of scope (organization or project).',
);
const MALFORMED: Meaning = {
  code: 'ATLAS_REJECTED',
  say: (call) =>
    `Atlas rejected the request Rolecall sent for ${call.operation} as malformed; this is a Rolecall bug, the details are in its logs.`,
};
const RATE_LIMITED = fixed(
  'ATLAS_UNAVAILABLE',
  "Atlas is rate limiting Rolecall's calls; Rolecall will try again later.",
  true,
);
const UNAVAILABLE = fixed('ATLAS_UNAVAILABLE', 'Atlas is busy or unavailable right now.', true);

/**
 * Every errorCode Atlas documents that a role, user, organization or project call can meet (NOTES.md
 * section 6, the api-errors catalogue, the spec's examples), under its current name and its older
 * one: Atlas renamed the access-list codes (`…WHITELIST` to `…ACCESS_LIST`) and answers with either.
 * The table test (test/atlas/error-codes.test.ts) checks each against test/fixtures/atlas/.
 */
const KNOWN: Readonly<Record<string, Meaning>> = {
  // 401 and 403: the caller, its roles, its IP address.
  IP_ADDRESS_NOT_ON_ACCESS_LIST: IP_NOT_ON_LIST,
  IP_ADDRESS_NOT_ON_WHITELIST: IP_NOT_ON_LIST,
  ORG_REQUIRES_ACCESS_LIST: ORG_NEEDS_LIST,
  ORG_REQUIRES_WHITELIST: ORG_NEEDS_LIST,
  RESOURCE_REQUIRES_ACCESS_LIST: RESOURCE_NEEDS_LIST,
  RESOURCE_REQUIRES_WHITELIST: RESOURCE_NEEDS_LIST,
  UNAUTHORIZED: CREDENTIALS_REFUSED,
  USER_UNAUTHORIZED: lacksRole(),
  ACCESS_FORBIDDEN: lacksRole(),
  NOT_ORG_OWNER: lacksRole('Organization Owner'),
  NOT_ORG_USER_ADMIN: lacksRole('Organization Owner'),
  NOT_GROUP_USER_ADMIN: lacksRole('Project Owner'),
  NOT_USER_ADMIN: lacksRole('Organization Owner'),
  NOT_ORG_GROUP_CREATOR: lacksRole('Organization Project Creator'),
  CANNOT_CHANGE_GROUP_NAME: lacksRole('Project Owner'),
  NOT_IN_GROUP: NO_ACCESS_TO_PROJECT,
  USER_CANNOT_ACCESS_GROUP: NO_ACCESS_TO_PROJECT,
  USER_CANNOT_ACCESS_ORG: NO_ACCESS_TO_ORG,
  BILLING_UNSUPPORTED: fixed('ATLAS_REJECTED', 'Ops Manager does not support billing roles.'),
  CANNOT_ADD_GLOBAL_ROLE: fixed('ATLAS_REJECTED', 'This Ops Manager does not support global roles.'),
  NO_PAYMENT_INFORMATION_FOUND: fixed(
    'ATLAS_REJECTED',
    'Atlas wants payment information for the organization before it does this.',
  ),
  // 404: what the call names is not there.
  GROUP_NOT_FOUND: PROJECT_GONE,
  INVALID_GROUP_ID: PROJECT_GONE,
  GROUP_NAME_NOT_FOUND: PROJECT_GONE,
  ORG_NOT_FOUND: ORG_GONE,
  INVALID_ORG_ID: ORG_GONE,
  RESOURCE_NOT_FOUND: NOTHING_THERE,
  USER_NOT_FOUND: USER_GONE,
  INVALID_USER_ID: USER_GONE,
  USERNAME_NOT_FOUND: NO_SUCH_EMAIL,
  BAD_USERNAME_REF: NO_SUCH_EMAIL,
  USER_NOT_IN_ORG: NOT_IN_ORG,
  USER_NOT_IN_GROUP: NOT_IN_PROJECT,
  BAD_USERNAME_IN_GROUP_REF: NOT_IN_PROJECT,
  // Teams (api-errors catalogue, mongodb/docs content/atlas/source/reference/api-errors.txt).
  TEAM_NOT_FOUND: TEAM_GONE,
  INVALID_TEAM_ID: TEAM_GONE,
  TEAM_NOT_IN_ORG: TEAM_GONE,
  USER_ALREADY_IN_TEAM: fixed('ATLAS_REJECTED', 'The user is already in this team.'),
  MAX_USERS_PER_TEAM_EXCEEDED: fixed('ATLAS_REJECTED', 'The team has as many users as Atlas allows.'),
  MAX_TEAMS_PER_USER_EXCEEDED: fixed('ATLAS_REJECTED', 'The user belongs to as many teams as Atlas allows.'),
  CANNOT_ADD_PENDING_USER: fixed(
    'ATLAS_NOT_A_MEMBER',
    'The user has not accepted the invitation to the organization yet; Atlas adds them to projects and teams once they have.',
  ),
  ATLAS_GROUP: fixed(
    'ATLAS_REJECTED',
    'This project belongs to Atlas, not Cloud Manager: set ATLAS_API to an Atlas flavor (atlas-v2-2025).',
  ),
  NOT_ATLAS_GROUP: fixed(
    'ATLAS_REJECTED',
    'This project belongs to Cloud Manager, not Atlas: set ATLAS_API=cloud-manager.',
  ),
  NOT_ATLAS_ORG: fixed(
    'ATLAS_REJECTED',
    'This organization belongs to Cloud Manager, not Atlas: set ATLAS_API=cloud-manager.',
  ),
  // Roles and owners.
  CANNOT_DEMOTE_LAST_ORG_OWNER: LAST_ORG_OWNER,
  CANNOT_DELETE_LAST_ADMIN: LAST_ORG_OWNER,
  CANNOT_DEMOTE_LAST_OWNER: LAST_PROJECT_OWNER,
  CANNOT_DELETE_LAST_OWNER: LAST_PROJECT_OWNER,
  CANNOT_REMOVE_ALL_USER_ROLES: fixed(
    'WOULD_REMOVE_ALL_ROLES',
    'A user must keep at least one role; remove them from the org or project in Atlas instead.',
  ),
  NO_ROLES_IN_ASSIGNMENT: fixed('WOULD_REMOVE_ALL_ROLES', 'A team must keep at least one project role.'),
  INVALID_ROLE_FOR_ORG: fixed('ATLAS_REJECTED', 'Atlas does not accept this role for an organization.'),
  INVALID_ROLE_FOR_GROUP: fixed('ATLAS_REJECTED', 'Atlas does not accept this role for a project.'),
  UNSUPPORTED_ROLE: fixed('ATLAS_REJECTED', 'Atlas does not support this role.'),
  INVALID_ENUM_VALUE: fixed(
    'ATLAS_REJECTED',
    'Atlas does not accept one of the values Rolecall sent (most likely a role name).',
  ),
  CANNOT_ADD_GROUP_ROLE: fixed('ATLAS_REJECTED', 'Atlas does not accept a project role on an organization.'),
  CANNOT_ADD_ORG_ROLE: fixed('ATLAS_REJECTED', 'Atlas does not accept an organization role on a project.'),
  ROLE_NEEDS_GROUP_ID: WRONG_SCOPE,
  ROLE_NEEDS_ORG_ID: WRONG_SCOPE,
  ROLE_NEEDS_NO_GROUP_ID: WRONG_SCOPE,
  ROLE_NEEDS_NO_ORG_ID: WRONG_SCOPE,
  INVALID_GROUP_ROLE_UPDATE: fixed(
    'ATLAS_REJECTED',
    'Atlas is removing this user from the organization, so their project roles cannot change.',
  ),
  // The request itself, and API versions.
  VALIDATION_ERROR: MALFORMED,
  INVALID_JSON: MALFORMED,
  MALFORMED_JSON: MALFORMED,
  INVALID_ATTRIBUTE: MALFORMED,
  MISSING_ATTRIBUTE: MALFORMED,
  INVALID_VERSION_DATE: fixed(
    'ATLAS_REJECTED',
    'Atlas did not accept the API version Rolecall asked for; check ATLAS_API (docs/getting-started.md, Atlas API flavors).',
  ),
  VERSION_GONE: fixed(
    'ATLAS_REJECTED',
    'Atlas has retired the API version this call uses; set ATLAS_API=atlas-v2-2025 (docs/getting-started.md, Atlas API flavors).',
  ),
  // Limits.
  MAX_USERS_PER_ORG_EXCEEDED: fixed('ATLAS_REJECTED', 'The organization has as many users as Atlas allows.'),
  MAX_USERS_PER_GROUP_EXCEEDED: fixed('ATLAS_REJECTED', 'The project has as many users as Atlas allows.'),
  MAX_ORGS_PER_USER_EXCEEDED: fixed(
    'ATLAS_REJECTED',
    'The user belongs to as many organizations as Atlas allows.',
  ),
  MAX_GROUPS_PER_USER_EXCEEDED: fixed(
    'ATLAS_REJECTED',
    'The user belongs to as many projects as Atlas allows.',
  ),
  DOMAIN_NOT_IN_ALLOW_LIST: fixed(
    'ATLAS_REJECTED',
    "The user's email domain is not on the organization's allow list in Atlas.",
  ),
  USER_ALREADY_EXISTS: fixed('ATLAS_REJECTED', 'Atlas already has a user with this email address.'),
  RATE_LIMITED_IP: fixed(
    'ATLAS_UNAVAILABLE',
    'Atlas limits how many invitations it sends in a while; Rolecall will try again later.',
    true,
  ),
  RATE_LIMITED: RATE_LIMITED,
  RATE_LIMITED_TOKEN_BUCKET: RATE_LIMITED,
  // Atlas's side, and the spec's other examples.
  UNEXPECTED_ERROR: UNAVAILABLE,
  SERVICE_UNAVAILABLE: UNAVAILABLE,
  ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED: {
    code: 'ATLAS_REJECTED',
    say: (call) => `Atlas does not allow ${call.operation} here.`,
  },
  CANNOT_DELETE_ORG_ACTIVE_LIVE_MIGRATION_ATLAS_ORG_LINK: {
    code: 'ATLAS_REJECTED',
    say: (call) => `Atlas refused ${call.operation} while a live migration is running.`,
  },
  // Temporary database users and IP access-list entries (docs api-errors catalogue; the spec names no
  // codes for these operations). The catalogue ties no code to deleteAfterDate: EXPIRATION_DATE_IN_PAST
  // and EXPIRATION_DATE_EXCEEDS_MAX ("at most %d days in the future") are the most plausible, our pick.
  GROUP_USERS_LIMIT_EXCEEDED: fixed(
    'ATLAS_REJECTED',
    'This project already has as many database users as Atlas allows in one project (100 unless MongoDB Support raised it), so Rolecall cannot create one for this grant. An Atlas project owner can delete database users nobody needs any more (or ask MongoDB Support for a higher limit); then ask again.',
  ),
  CLUSTER_NOT_FOUND: fixed(
    'ATLAS_REJECTED',
    'Atlas has no cluster of that name in this project: the policy names a cluster that does not exist (any more).',
  ),
  EXPIRATION_DATE_EXCEEDS_MAX: fixed(
    'ATLAS_REJECTED',
    'Atlas refused the end date: a temporary database user or IP access list entry may last at most one week from now.',
  ),
  EXPIRATION_DATE_IN_PAST: fixed('ATLAS_REJECTED', 'Atlas refused the end date: it has already passed.'),
  INVALID_IP_ADDRESS_OR_CIDR_NOTATION: fixed(
    'ATLAS_REJECTED',
    'Atlas does not accept this address for the IP access list: it is not an IP address or CIDR block.',
  ),
  ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND: fixed(
    'ATLAS_REJECTED',
    "This address is not on the project's IP access list (any more).",
  ),
  ATLAS_WHITELIST_NOT_FOUND: fixed(
    'ATLAS_REJECTED',
    "This address is not on the project's IP access list (any more).",
  ),
  DATABASE_NAME_INVALID_ADMIN: MALFORMED,
  DATABASE_NAME_INVALID_EXTERNAL: MALFORMED,
};

/** Every errorCode with words of its own (the rest get words from their HTTP status). */
export const KNOWN_ATLAS_ERROR_CODES: readonly string[] = Object.keys(KNOWN);

/**
 * Turns an Atlas error response into an AppError that says what happened, with the errorCode. Atlas's
 * `detail` can carry Rolecall's egress IP and internal ids, so it stays out of the message (which
 * requesters see) and goes to `details.detail`, for approvers and logs.
 */
export function toAtlasAppError(
  status: number,
  body: AtlasErrorBody | undefined,
  call: FailedCall,
): AppError {
  const { operation } = call;
  const errorCode = body?.errorCode ?? `HTTP_${status}`;
  const detail = body?.detail ?? body?.reason ?? '';
  const known = KNOWN[errorCode];
  const details = { status, errorCode, operation, ...(detail ? { detail } : {}) };
  const suffix = ` (Atlas ${errorCode})`;
  if (known) {
    return new AppError(known.code, `${known.say(call)}${suffix}`, {
      details,
      retryable: known.retryable ?? false,
    });
  }
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
  if (status === 404)
    return new AppError('ATLAS_REJECTED', `${NOTHING_THERE.say(call)}${suffix}`, { details });
  return new AppError('ATLAS_REJECTED', `Atlas refused ${operation}${suffix}.`, { details });
}

/** errorCodes of a 401 that may also mean the project is gone ("… or the group does not exist"). */
const MAYBE_GONE_CODES: readonly string[] = [
  'NOT_IN_GROUP',
  'USER_CANNOT_ACCESS_GROUP',
  'USER_CANNOT_ACCESS_ORG',
];

/**
 * Whether a failure may mean that the organization, the project or the person no longer exists in
 * Atlas: a 404, a person Atlas does not find, or a 401 that Atlas words as "or the group does not
 * exist". Never proof: ask `findMissing` (roles-api.ts) before acting on it.
 */
export function mayMeanGone(error: unknown): boolean {
  if (!isAppError(error)) return false;
  if (
    error.code === 'ATLAS_TARGET_GONE' ||
    error.code === 'ATLAS_USER_NOT_FOUND' ||
    error.code === 'ATLAS_NOT_A_MEMBER'
  )
    return true;
  const { status, errorCode } = error.details;
  return status === 404 || (typeof errorCode === 'string' && MAYBE_GONE_CODES.includes(errorCode));
}
