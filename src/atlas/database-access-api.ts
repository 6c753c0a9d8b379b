/** How a temporary database user proves who they are: a SCRAM password, workforce OIDC, or an AWS IAM principal. */
export type DatabaseAuth = 'password' | 'oidc' | 'aws-iam';

/** One database role on one database (and optionally one collection), as Atlas's `DatabaseUserRole`. */
export interface DatabaseRole {
  readonly roleName: string;
  readonly databaseName: string;
  readonly collectionName?: string;
}

/** The database user Rolecall asks Atlas to create for one grant. */
export interface DatabaseUserSpec {
  readonly username: string;
  readonly auth: DatabaseAuth;
  /** Only for `password`: sent once to Atlas, never logged, recorded or kept. */
  readonly password?: string;
  readonly roles: readonly DatabaseRole[];
  /** The clusters the user may reach (at least one): Rolecall never leaves a user unscoped. */
  readonly clusters: readonly string[];
  /** When Atlas deletes the user by itself (ms since epoch): the grant's end, at most a week ahead. */
  readonly deleteAfter: number;
  /** Shown in Atlas's Database Access page; cut to the spec's 100 characters. */
  readonly description: string;
}

/** A database user as Atlas reports it (spec `CloudDatabaseUser`, without what Rolecall does not use). */
export interface DatabaseUser {
  readonly username: string;
  /** `admin` for SCRAM passwords, `$external` for OIDC users and AWS IAM principals. */
  readonly databaseName: string;
  readonly auth: DatabaseAuth;
  readonly roles: readonly DatabaseRole[];
  /** The clusters of its `CLUSTER` scopes; [] when Atlas lets it reach every cluster of the project. */
  readonly clusters: readonly string[];
  /** Its `deleteAfterDate` (ms since epoch), or null for a permanent user. */
  readonly deleteAfter: number | null;
  /** Its description (Rolecall's users say which grant made them: `Rolecall AR-… (level) until …`). */
  readonly description?: string;
}

/** A temporary entry of a project's IP access list. */
export interface AccessListEntry {
  /** IPv4 `a.b.c.d/n` or IPv6 with its eight groups (cidr.ts). */
  readonly cidrBlock: string;
  readonly deleteAfter: number | null;
  /** Its comment (Rolecall's entries say which grant made them: `Rolecall AR-… until …`). */
  readonly comment?: string;
}

/**
 * Temporary database users and IP access-list entries of one Atlas project (Atlas v2 flavors only:
 * the 2023-01-01 Database Users and Project IP Access List resources). Every method throws AppError
 * like the rest of the client; "already there" and "already gone" are answers, not errors.
 */
export interface AtlasDatabaseAccessApi {
  /**
   * Every password, OIDC-user and AWS IAM database user of the project, reading every page (x.509,
   * LDAP and OIDC-group users are left out: Rolecall never makes them).
   */
  listUsers(groupId: string): Promise<DatabaseUser[]>;
  /** The user, or null when Atlas has none of that name (deleted, or past its deleteAfterDate). */
  readUser(groupId: string, auth: DatabaseAuth, username: string): Promise<DatabaseUser | null>;
  /**
   * Creates the user; `created: false` when one of that name was already there (409), with
   * `afterLostAnswer` when an earlier try of this very call lost its answer: then the user there may
   * well be this call's own, with this spec's password.
   */
  createUser(
    groupId: string,
    spec: DatabaseUserSpec,
  ): Promise<{ created: boolean; afterLostAnswer?: boolean }>;
  /** Moves its deleteAfterDate (an extension) or sets a new password; throws when the user is gone. */
  updateUser(
    groupId: string,
    auth: DatabaseAuth,
    username: string,
    change: { readonly deleteAfter?: number; readonly password?: string },
  ): Promise<void>;
  /** Deletes the user; `deleted: false` when it was already gone. */
  deleteUser(groupId: string, auth: DatabaseAuth, username: string): Promise<{ deleted: boolean }>;
  /**
   * Adds a temporary entry; `created: false` (and nothing changed) when the project already has an
   * entry for that block: someone else's, perhaps permanent, which Rolecall must not make temporary.
   */
  addAccessListEntry(
    groupId: string,
    entry: { readonly cidrBlock: string; readonly deleteAfter: number; readonly comment: string },
  ): Promise<{ created: boolean }>;
  /** The entry for that block, or null when there is none. */
  readAccessListEntry(groupId: string, cidrBlock: string): Promise<AccessListEntry | null>;
  /** Removes the entry; `deleted: false` when it was already gone. */
  removeAccessListEntry(groupId: string, cidrBlock: string): Promise<{ deleted: boolean }>;
}
