/** An organization or a project (Atlas calls projects "groups"). */
export interface AtlasScope {
  readonly kind: 'org' | 'project';
  /** orgId or groupId, 24 hex. */
  readonly id: string;
}

/** A user's identity and roles in one scope, as read from Atlas. */
export interface ScopedUser {
  readonly userId: string;
  /** [] when the user is not a member of the scope. */
  readonly roles: readonly string[];
}

/**
 * The operations the worker needs, whatever API flavor carries them out.
 * Every method throws AppError (retryable for outages, with Atlas errorCode and detail otherwise).
 */
export interface AtlasRolesApi {
  /** Finds a user by username (their email) and reads their roles in `scope`. */
  readUser(username: string, scope: AtlasScope): Promise<ScopedUser>;
  /** Makes the user's roles in `scope` exactly `next`; `current` is what was just read. */
  setRoles(
    scope: AtlasScope,
    userId: string,
    current: readonly string[],
    next: readonly string[],
  ): Promise<void>;
}
