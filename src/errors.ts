/** Every failure Rolecall explains to a person carries one of these codes. */
export type AppErrorCode =
  | 'CONFIG_INVALID'
  | 'POLICY_INVALID'
  | 'COMMAND_INVALID'
  | 'TARGET_UNKNOWN'
  | 'ROLE_NOT_ALLOWED'
  | 'ROLE_INVALID'
  | 'DURATION_INVALID'
  /** A request lacks the ticket its policy requires, or names one that does not match its pattern. */
  | 'TICKET_INVALID'
  | 'NOTHING_TO_GRANT'
  | 'EXTENSION_TOO_LATE'
  /** A scheduled grant's whole time passed before it could be applied: nothing was granted. */
  | 'REQUEST_WINDOW_PASSED'
  | 'REQUEST_NOT_FOUND'
  | 'REQUEST_STATE_CONFLICT'
  | 'NOT_AN_APPROVER'
  | 'SELF_APPROVAL'
  | 'NOT_ALLOWED'
  /** A decision hangs on a Slack user group whose members Slack could not confirm just now. */
  | 'USER_GROUP_UNCONFIRMED'
  | 'RATE_LIMITED'
  | 'SLACK_USER_NO_EMAIL'
  | 'ATLAS_USER_NOT_FOUND'
  | 'ATLAS_NOT_A_MEMBER'
  /** The organization or project itself no longer exists in Atlas (deleted, or a wrong id). */
  | 'ATLAS_TARGET_GONE'
  | 'ATLAS_LAST_OWNER'
  | 'ATLAS_REJECTED'
  | 'ATLAS_UNAVAILABLE'
  | 'ATLAS_AUTH_FAILED'
  | 'ATLAS_INVALID_INPUT'
  | 'WOULD_REMOVE_ALL_ROLES'
  | 'FEDERATED_ROLES'
  | 'STORAGE_UNAVAILABLE'
  /** A click names a record this store should have and does not: Redis lost data (see continuity/). */
  | 'STORE_LOST'
  /** A request was not stored because the sweeper had already answered its Slack delivery (requests/receipts.ts). */
  | 'RECEIPT_TAKEN'
  | 'SLACK_FAILED'
  | 'INTERNAL';

/** Options for {@link AppError}. */
export interface AppErrorOptions {
  /** The lower-level error this one explains. */
  cause?: unknown;
  /**
   * Whether trying the same thing again later may succeed (network trouble, 5xx, rate limits).
   * @defaultValue false
   */
  retryable?: boolean;
  /** Machine-readable extras (Atlas errorCode, HTTP status, ...). Never secrets. */
  details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The one error type of the core. `message` is written for the person who will read it in Slack:
 * plain words, no stack, no secrets.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: AppErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, string | number | boolean>>;

  constructor(code: AppErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

/** Narrows an unknown thrown value to an AppError, optionally of one code. */
export function isAppError(value: unknown, code?: AppErrorCode): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code);
}
