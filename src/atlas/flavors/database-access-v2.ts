import { AppError, isAppError } from '../../errors.js';
import { normalizeCidr } from '../cidr.js';
import type {
  AccessListEntry,
  AtlasDatabaseAccessApi,
  DatabaseAuth,
  DatabaseRole,
  DatabaseUser,
} from '../database-access-api.js';
import type { AtlasHttp } from '../http-client.js';
import { checkAtlasId } from '../validate.js';
import { readAllPages } from './paging.js';
import { ATLAS_V2_2023 } from './shared.js';

/** `CloudDatabaseUser` as Atlas answers it (the fields Rolecall reads or sends back). */
interface CloudDatabaseUser {
  readonly username: string;
  readonly databaseName: string;
  readonly groupId?: string;
  readonly roles?: readonly DatabaseRole[];
  readonly scopes?: readonly { readonly name: string; readonly type: string }[];
  readonly deleteAfterDate?: string;
  readonly description?: string;
  readonly labels?: readonly { readonly key?: string; readonly value?: string }[];
  readonly awsIAMType?: string;
  readonly oidcAuthType?: string;
  readonly ldapAuthType?: string;
  readonly x509Type?: string;
}

/** `NetworkPermissionEntry` as Atlas answers it. */
interface NetworkPermissionEntry {
  readonly cidrBlock?: string;
  readonly ipAddress?: string;
  readonly deleteAfterDate?: string;
  readonly comment?: string;
}

const BASE = '/api/atlas/v2/groups';
// x-rolesRequirements of the spec's operations (named in 401/403 messages).
const READ_ROLE = 'Project Read Only';
const USER_ADMIN = 'Project Database Access Admin';
const NETWORK_ADMIN = 'Project Network Access Manager';
// Spec CloudDatabaseUser.description maxLength 100, NetworkPermissionEntry.comment maxLength 80.
const DESCRIPTION_MAX = 100;
const COMMENT_MAX = 80;
// Spec CloudDatabaseUser.username maxLength 1024; UserScope.name pattern; password minLength 8.
const USERNAME_MAX = 1024;
const CLUSTER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-]*$/;
const PASSWORD_MIN = 8;

/** The authentication database of each kind (spec CloudDatabaseUser.databaseName). */
function databaseNameOf(auth: DatabaseAuth): 'admin' | '$external' {
  return auth === 'password' ? 'admin' : '$external';
}

/**
 * The fields that say how the user authenticates: SCRAM is every type `NONE` (left at its default);
 * OIDC users `oidcAuthType: USER`; AWS IAM `awsIAMType: ROLE` for a role ARN, `USER` for a user ARN.
 */
function authFields(auth: DatabaseAuth, username: string): Record<string, string> {
  if (auth === 'oidc') return { oidcAuthType: 'USER' };
  if (auth === 'aws-iam')
    return { awsIAMType: /^arn:[^:]+:iam::\d{12}:role\//.test(username) ? 'ROLE' : 'USER' };
  return {};
}

/** The kind of a user Atlas reports, or undefined for kinds Rolecall does not make (x.509, LDAP, OIDC groups). */
function authOf(user: CloudDatabaseUser): DatabaseAuth | undefined {
  const set = (value: string | undefined) => value !== undefined && value !== 'NONE';
  if (set(user.x509Type) || set(user.ldapAuthType)) return undefined;
  if (set(user.awsIAMType)) return 'aws-iam';
  if (user.oidcAuthType === 'USER') return 'oidc';
  if (set(user.oidcAuthType)) return undefined;
  return 'password';
}

const toMs = (date: string | undefined): number | null => {
  const ms = date === undefined ? Number.NaN : Date.parse(date);
  return Number.isNaN(ms) ? null : ms;
};

function toDatabaseUser(user: CloudDatabaseUser): DatabaseUser | undefined {
  const auth = authOf(user);
  if (auth === undefined) return undefined;
  return {
    username: user.username,
    databaseName: user.databaseName,
    auth,
    roles: (user.roles ?? []).map((r) => ({
      roleName: r.roleName,
      databaseName: r.databaseName,
      ...(r.collectionName === undefined ? {} : { collectionName: r.collectionName }),
    })),
    clusters: (user.scopes ?? []).filter((s) => s.type === 'CLUSTER').map((s) => s.name),
    deleteAfter: toMs(user.deleteAfterDate),
    ...(user.description === undefined ? {} : { description: user.description }),
  };
}

function invalid(message: string): AppError {
  return new AppError('ATLAS_INVALID_INPUT', message);
}

function checkUsername(username: string): void {
  if (username.length === 0 || username.length > USERNAME_MAX) {
    throw invalid(`A database username must have 1 to ${USERNAME_MAX} characters.`);
  }
}

function isoOf(ms: number, what: string): string {
  if (!Number.isFinite(ms)) throw invalid(`The ${what} is not a valid date.`);
  return new Date(ms).toISOString();
}

function cidrOf(text: string): string {
  const cidr = normalizeCidr(text);
  if (cidr === undefined) {
    throw invalid(`"${text}" is not an IPv4 or IPv6 address or CIDR block.`);
  }
  return cidr;
}

/** Whether a failure is Atlas saying the thing named is not there (or, for a create, already is). */
const saysCode = (error: unknown, ...codes: string[]): boolean =>
  isAppError(error) && codes.includes(String(error.details.errorCode));

// USERNAME_NOT_FOUND is what Atlas answers for a database user that does not exist (docs api-errors
// "No user with username %s exists."; the Atlas Kubernetes operator matches it for database users).
const USER_MISSING = ['USERNAME_NOT_FOUND', 'USER_NOT_FOUND'];
// ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND (404, docs api-errors); the older name beside it.
const ENTRY_MISSING = ['ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND', 'ATLAS_WHITELIST_NOT_FOUND'];

/**
 * The database access calls of `atlas-v2` and `atlas-v2-2025`: createGroupDatabaseUser,
 * getGroupDatabaseUser, updateGroupDatabaseUser, deleteGroupDatabaseUser, listGroupDatabaseUsers and
 * the Project IP Access List calls, all in resource version 2023-01-01 (the only one the spec offers
 * for them). Ids are checked before they reach a path; usernames and CIDR blocks are path-encoded.
 */
export function createDatabaseAccessV2Api(
  http: AtlasHttp,
  options: { readonly pageSize?: number } = {},
): AtlasDatabaseAccessApi {
  const usersPath = (groupId: string) => {
    checkAtlasId(groupId, 'groupId');
    return `${BASE}/${groupId}/databaseUsers`;
  };
  const userPath = (groupId: string, auth: DatabaseAuth, username: string) => {
    checkUsername(username);
    return `${usersPath(groupId)}/${encodeURIComponent(databaseNameOf(auth))}/${encodeURIComponent(username)}`;
  };
  const listPath = (groupId: string) => {
    checkAtlasId(groupId, 'groupId');
    return `${BASE}/${groupId}/accessList`;
  };
  const entryPath = (groupId: string, cidrBlock: string) =>
    `${listPath(groupId)}/${encodeURIComponent(cidrOf(cidrBlock))}`;

  const getUser = async (groupId: string, auth: DatabaseAuth, username: string) => {
    try {
      const { body } = await http.send<CloudDatabaseUser>({
        method: 'GET',
        path: userPath(groupId, auth, username),
        mediaType: ATLAS_V2_2023,
        operation: `reading the database user ${username}`,
        requiredRole: READ_ROLE,
      });
      return body;
    } catch (error) {
      if (saysCode(error, ...USER_MISSING)) return null;
      throw error;
    }
  };

  const readEntry = async (groupId: string, cidrBlock: string): Promise<AccessListEntry | null> => {
    try {
      const { body } = await http.send<NetworkPermissionEntry>({
        method: 'GET',
        path: entryPath(groupId, cidrBlock),
        mediaType: ATLAS_V2_2023,
        operation: `reading the IP access list entry ${cidrBlock}`,
        requiredRole: READ_ROLE,
      });
      const reported = body.cidrBlock ?? body.ipAddress ?? cidrBlock;
      return {
        cidrBlock: normalizeCidr(reported) ?? reported,
        deleteAfter: toMs(body.deleteAfterDate),
        ...(body.comment === undefined ? {} : { comment: body.comment }),
      };
    } catch (error) {
      if (saysCode(error, ...ENTRY_MISSING)) return null;
      throw error;
    }
  };

  return {
    async listUsers(groupId) {
      const users = await readAllPages<CloudDatabaseUser>(
        http,
        {
          path: usersPath(groupId),
          mediaType: ATLAS_V2_2023,
          operation: 'listing the database users of the project',
          requiredRole: READ_ROLE,
        },
        (u) => `${u.databaseName}/${u.username}`,
        options.pageSize,
      );
      return users.map(toDatabaseUser).filter((u): u is DatabaseUser => u !== undefined);
    },

    async readUser(groupId, auth, username) {
      const user = await getUser(groupId, auth, username);
      return user === null ? null : (toDatabaseUser(user) ?? null);
    },

    async createUser(groupId, spec) {
      checkUsername(spec.username);
      if (spec.auth === 'password' && (spec.password ?? '').length < PASSWORD_MIN) {
        throw invalid(`A password database user needs a password of at least ${PASSWORD_MIN} characters.`);
      }
      if (spec.auth !== 'password' && spec.password !== undefined) {
        throw invalid('Only a password database user has a password.');
      }
      if (spec.clusters.length === 0) {
        throw invalid('A temporary database user must be limited to at least one named cluster.');
      }
      const badCluster = spec.clusters.find((c) => !CLUSTER_NAME.test(c));
      if (badCluster !== undefined) throw invalid(`"${badCluster}" is not an Atlas cluster name.`);
      const body = {
        databaseName: databaseNameOf(spec.auth),
        groupId,
        username: spec.username,
        ...authFields(spec.auth, spec.username),
        ...(spec.auth === 'password' ? { password: spec.password } : {}),
        roles: spec.roles.map((r) => ({ ...r })),
        scopes: spec.clusters.map((name) => ({ name, type: 'CLUSTER' })),
        deleteAfterDate: isoOf(spec.deleteAfter, 'end of the database user'),
        description: spec.description.slice(0, DESCRIPTION_MAX),
      };
      try {
        await http.send({
          method: 'POST',
          path: usersPath(groupId),
          body,
          secretFields: ['password'],
          mediaType: ATLAS_V2_2023,
          operation: `creating the database user ${spec.username}`,
          requiredRole: USER_ADMIN,
        });
        return { created: true };
      } catch (error) {
        // 409 USER_ALREADY_EXISTS "A user with username %s already exists." (docs api-errors).
        if (isAppError(error) && error.details.status === 409) {
          return error.details.afterLostAnswer === true
            ? { created: false, afterLostAnswer: true }
            : { created: false };
        }
        throw error;
      }
    },

    async updateUser(groupId, auth, username, change) {
      if (change.password !== undefined && change.password.length < PASSWORD_MIN) {
        throw invalid(`A database user's password must have at least ${PASSWORD_MIN} characters.`);
      }
      if (change.password !== undefined && auth !== 'password') {
        throw invalid('Only a password database user has a password.');
      }
      // The spec's PATCH body is a whole CloudDatabaseUser (databaseName, groupId, roles and username
      // required), so the user is read first and sent back with only the change, its scopes included
      // (left out, Atlas would open every cluster of the project to it).
      const current = await getUser(groupId, auth, username);
      if (current === null) {
        throw new AppError(
          'ATLAS_USER_NOT_FOUND',
          `The database user ${username} is no longer in Atlas: its end date passed or someone deleted it.`,
        );
      }
      const body = {
        databaseName: current.databaseName,
        groupId,
        username: current.username,
        ...authFields(auth, current.username),
        roles: (current.roles ?? []).map((r) => ({ ...r })),
        ...(current.scopes ? { scopes: current.scopes.map((s) => ({ name: s.name, type: s.type })) } : {}),
        ...(current.description === undefined ? {} : { description: current.description }),
        ...(current.labels ? { labels: current.labels.map((l) => ({ ...l })) } : {}),
        ...(change.deleteAfter !== undefined
          ? { deleteAfterDate: isoOf(change.deleteAfter, 'new end of the database user') }
          : current.deleteAfterDate !== undefined
            ? { deleteAfterDate: current.deleteAfterDate }
            : {}),
        ...(change.password === undefined ? {} : { password: change.password }),
      };
      await http.send({
        method: 'PATCH',
        path: userPath(groupId, auth, username),
        body,
        secretFields: ['password'],
        mediaType: ATLAS_V2_2023,
        operation: `updating the database user ${username}`,
        requiredRole: USER_ADMIN,
      });
    },

    async deleteUser(groupId, auth, username) {
      try {
        await http.send({
          method: 'DELETE',
          path: userPath(groupId, auth, username),
          mediaType: ATLAS_V2_2023,
          operation: `deleting the database user ${username}`,
          requiredRole: USER_ADMIN,
        });
        return { deleted: true };
      } catch (error) {
        if (saysCode(error, ...USER_MISSING)) return { deleted: false };
        throw error;
      }
    },

    async addAccessListEntry(groupId, entry) {
      const cidrBlock = cidrOf(entry.cidrBlock);
      // Atlas's POST adds or replaces; an entry already there (perhaps permanent, perhaps someone
      // else's) is left as it is, never turned into a temporary one that Atlas would then delete.
      if ((await readEntry(groupId, cidrBlock)) !== null) return { created: false };
      try {
        await http.send({
          method: 'POST',
          path: listPath(groupId),
          body: [
            {
              cidrBlock,
              comment: entry.comment.slice(0, COMMENT_MAX),
              deleteAfterDate: isoOf(entry.deleteAfter, 'end of the IP access list entry'),
            },
          ],
          mediaType: ATLAS_V2_2023,
          operation: `adding ${cidrBlock} to the project's IP access list`,
          requiredRole: NETWORK_ADMIN,
        });
        return { created: true };
      } catch (error) {
        // 409 ADDRESS_ALREADY_IN_WHITELIST "The address %s is already on the whitelist." (docs api-errors).
        if (isAppError(error) && error.details.status === 409) return { created: false };
        throw error;
      }
    },

    readAccessListEntry: readEntry,

    async removeAccessListEntry(groupId, cidrBlock) {
      try {
        await http.send({
          method: 'DELETE',
          path: entryPath(groupId, cidrBlock),
          mediaType: ATLAS_V2_2023,
          operation: `removing ${cidrOf(cidrBlock)} from the project's IP access list`,
          requiredRole: NETWORK_ADMIN,
        });
        return { deleted: true };
      } catch (error) {
        if (saysCode(error, ...ENTRY_MISSING)) return { deleted: false };
        throw error;
      }
    },
  };
}
