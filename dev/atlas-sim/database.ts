import { createHash, randomBytes } from 'node:crypto';
import { normalizeCidr } from '../../src/atlas/cidr.js';
import type { SimAnswer, SimModule, SimModuleContext, SimRoute } from './module.js';

/**
 * Database users and the project IP access list of the simulated Atlas (spec operations
 * createGroupDatabaseUser, getGroupDatabaseUser, updateGroupDatabaseUser, deleteGroupDatabaseUser,
 * listGroupDatabaseUsers, createGroupAccessListEntry, getGroupAccessListEntry,
 * deleteGroupAccessListEntry, listGroupAccessListEntries; resource version 2023-01-01).
 * Error codes and details are those of the Atlas docs' api-errors catalogue (mongodb/docs
 * content/atlas/source/reference/api-errors.txt), copied in test/fixtures/atlas/error-codes.json.
 */

/** Options of the simulator for this module (part of AtlasSimulatorOptions). */
export interface DatabaseSimOptions {
  /** The clusters each project has: a user's CLUSTER scopes must name one of its project's. */
  readonly clusters?: readonly { readonly groupId: string; readonly name: string }[];
  /**
   * Database users a project may hold ("a maximum of 100 database users per project", spec
   * createGroupDatabaseUser).
   * @defaultValue 100
   */
  readonly databaseUserLimit?: number;
}

/** One moment in a database user's life: created, deleted (by the API or by its deleteAfterDate), its end moved. */
export interface DatabaseUserEvent {
  readonly at: number;
  readonly kind: 'created' | 'deleted' | 'expired' | 'deleteAfterChanged';
  /** Its deleteAfterDate from then on (ms), null for none. */
  readonly deleteAfter: number | null;
}

/** What tests can see of the simulated database access (added to AtlasSimulator). */
export interface DatabaseSimControl {
  /** The project's database users now, as getGroupDatabaseUser answers them (never a password). */
  databaseUsers(groupId: string): Record<string, unknown>[];
  /** The project's IP access list now, as getGroupAccessListEntry answers each entry. */
  accessList(groupId: string): Record<string, unknown>[];
  /** Every event of one database user of the project, in order. */
  databaseUserTimeline(groupId: string, username: string): DatabaseUserEvent[];
  /** True when a password user of that name exists now with that very password. */
  canLogIn(groupId: string, username: string, password: string): boolean;
}

const V2_2023 = 'application/vnd.atlas.2023-01-01+json';
const WEEK_MS = 7 * 24 * 3600 * 1000;
// How often users and entries past their deleteAfterDate are swept away, besides on every call.
const SWEEP_MS = 250;
const AUTH_TYPES = ['awsIAMType', 'oidcAuthType', 'ldapAuthType', 'x509Type'] as const;

interface UserState {
  readonly databaseName: string;
  readonly username: string;
  doc: Record<string, unknown>;
  /** sha256(salt + password): the simulator, like Atlas, keeps no password. */
  secret: { readonly salt: string; readonly hash: string } | null;
  deleteAfter: number | null;
}

interface EntryState {
  readonly cidrBlock: string;
  comment: string | undefined;
  deleteAfter: number | null;
}

const hashOf = (salt: string, password: string) =>
  createHash('sha256').update(salt).update(password).digest('hex');

const userKey = (databaseName: string, username: string) => `${databaseName}/${username}`;

/** Whether the body declares an external kind (AWS IAM, x.509, LDAP, OIDC) or is SCRAM (every type NONE). */
const isExternal = (doc: Record<string, unknown>): boolean =>
  AUTH_TYPES.some((field) => doc[field] !== undefined && doc[field] !== 'NONE');

/** Creates the module: its routes, its control for tests, and `stop` for the sweep timer. */
export function createDatabaseAccessModule(
  context: SimModuleContext,
  options: DatabaseSimOptions,
): SimModule & { readonly control: DatabaseSimControl; stop(): void } {
  const limit = options.databaseUserLimit ?? 100;
  const clusters = options.clusters ?? [];
  const users = new Map<string, Map<string, UserState>>();
  const entries = new Map<string, Map<string, EntryState>>();
  const events = new Map<string, DatabaseUserEvent[]>();
  const inGroup = <T>(map: Map<string, Map<string, T>>, groupId: string): Map<string, T> => {
    let mine = map.get(groupId);
    if (!mine) {
      mine = new Map();
      map.set(groupId, mine);
    }
    return mine;
  };
  const usersOf = (groupId: string) => inGroup(users, groupId);
  const entriesOf = (groupId: string) => inGroup(entries, groupId);
  const record = (groupId: string, username: string, event: DatabaseUserEvent) => {
    const key = `${groupId}/${username}`;
    events.set(key, [...(events.get(key) ?? []), event]);
  };

  /** Atlas deletes a user or entry once its deleteAfterDate has passed (spec CloudDatabaseUser, NetworkPermissionEntry). */
  const sweep = () => {
    const now = Date.now();
    for (const [groupId, byKey] of users) {
      for (const [key, user] of byKey) {
        if (user.deleteAfter !== null && user.deleteAfter <= now) {
          byKey.delete(key);
          record(groupId, user.username, { at: now, kind: 'expired', deleteAfter: user.deleteAfter });
        }
      }
    }
    for (const byCidr of entries.values()) {
      for (const [cidr, entry] of byCidr)
        if (entry.deleteAfter !== null && entry.deleteAfter <= now) byCidr.delete(cidr);
    }
  };
  const timer = setInterval(sweep, SWEEP_MS);
  timer.unref();

  /**
   * A deleteAfterDate Atlas accepts: a date-time in the future, "within one week of making the API
   * request" (spec). Past: 400 EXPIRATION_DATE_IN_PAST; further: 400 EXPIRATION_DATE_EXCEEDS_MAX (docs
   * api-errors; the catalogue ties neither to deleteAfterDate, the client's pick, atlas-error.ts).
   */
  const deleteAfterOf = (value: unknown): number | null | SimAnswer => {
    if (value === undefined || value === null) return null;
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) {
      return context.error(
        400,
        'INVALID_DATE_FORMAT',
        `An invalid date value ${String(value)} was specified.`,
        [String(value)],
      );
    }
    const now = Date.now();
    if (ms <= now) {
      return context.error(
        400,
        'EXPIRATION_DATE_IN_PAST',
        'The specified expiration date must be in the future.',
      );
    }
    if (ms > now + WEEK_MS) {
      return context.error(
        400,
        'EXPIRATION_DATE_EXCEEDS_MAX',
        'The specified expiration date can be at most 7 days in the future.',
        [7],
      );
    }
    return ms;
  };

  /** Every CLUSTER scope must name a cluster of the project: 404 CLUSTER_NOT_FOUND (docs api-errors). */
  const unknownCluster = (groupId: string, scopes: unknown): SimAnswer | undefined => {
    for (const scope of Array.isArray(scopes) ? (scopes as Record<string, unknown>[]) : []) {
      if (scope.type !== 'CLUSTER') continue;
      if (!clusters.some((c) => c.groupId === groupId && c.name === scope.name)) {
        return context.error(
          404,
          'CLUSTER_NOT_FOUND',
          `No cluster named ${String(scope.name)} exists in group ${groupId}.`,
          [scope.name, groupId],
        );
      }
    }
    return undefined;
  };

  const projectMissing = (groupId: string) => context.scopeMissing({ kind: 'project', id: groupId });
  const userAnswer = (groupId: string, user: UserState) => ({
    ...user.doc,
    groupId,
    ...(user.deleteAfter === null ? {} : { deleteAfterDate: new Date(user.deleteAfter).toISOString() }),
    links: [
      {
        href: `/api/atlas/v2/groups/${groupId}/databaseUsers/${user.databaseName}/${user.username}`,
        rel: 'self',
      },
    ],
  });
  const entryAnswer = (groupId: string, entry: EntryState) => ({
    cidrBlock: entry.cidrBlock,
    ...(entry.comment === undefined ? {} : { comment: entry.comment }),
    ...(entry.deleteAfter === null ? {} : { deleteAfterDate: new Date(entry.deleteAfter).toISOString() }),
    groupId,
    links: [
      {
        href: `/api/atlas/v2/groups/${groupId}/accessList/${encodeURIComponent(entry.cidrBlock)}`,
        rel: 'self',
      },
    ],
  });
  // "No user with username %s exists." (docs api-errors USERNAME_NOT_FOUND).
  const noSuchUser = (username: string) =>
    context.error(404, 'USERNAME_NOT_FOUND', `No user with username ${username} exists.`, [username]);
  // "IP Address %s not on Atlas access list for group %s." (docs api-errors, current wording).
  const noSuchEntry = (groupId: string, value: string) =>
    context.error(
      404,
      'ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND',
      `IP Address ${value} not on Atlas access list for group ${groupId}.`,
      [value, groupId],
    );

  /** The fields of a CloudDatabaseUser the simulator keeps (password and read-only fields left out). */
  const keptFields = (body: Record<string, unknown>) => {
    const { password: _password, groupId: _groupId, links: _links, deleteAfterDate: _date, ...rest } = body;
    return rest;
  };

  const createUser = (groupId: string, body: unknown): SimAnswer => {
    const doc = (body ?? {}) as Record<string, unknown>;
    for (const field of ['databaseName', 'groupId', 'roles', 'username']) {
      if (doc[field] === undefined) {
        return context.error(400, 'MISSING_ATTRIBUTE', `The required attribute ${field} was not specified.`, [
          field,
        ]);
      }
    }
    const username = String(doc.username);
    const databaseName = String(doc.databaseName);
    if (
      isExternal(doc) &&
      databaseName !== '$external' &&
      doc.oidcAuthType !== 'IDP_GROUP' &&
      doc.ldapAuthType !== 'GROUP'
    ) {
      return context.error(
        400,
        'DATABASE_NAME_INVALID_EXTERNAL',
        'Database name invalid. Externally authenticated users can only be created on the $external database.',
      );
    }
    if (!isExternal(doc) && databaseName !== 'admin') {
      return context.error(
        400,
        'DATABASE_NAME_INVALID_ADMIN',
        `Database name invalid. ${username} can only be created on the admin database.`,
        [username],
      );
    }
    const password = typeof doc.password === 'string' ? doc.password : undefined;
    if (!isExternal(doc) && (password === undefined || password.length < 8)) {
      // "To authenticate with SCRAM-SHA, you must specify this parameter", minLength 8 (spec).
      return context.error(400, 'MISSING_ATTRIBUTE', 'The required attribute password was not specified.', [
        'password',
      ]);
    }
    const deleteAfter = deleteAfterOf(doc.deleteAfterDate);
    if (deleteAfter !== null && typeof deleteAfter === 'object') return deleteAfter;
    const cluster = unknownCluster(groupId, doc.scopes);
    if (cluster) return cluster;
    const mine = usersOf(groupId);
    const key = userKey(databaseName, username);
    if (mine.has(key)) {
      return context.error(409, 'USER_ALREADY_EXISTS', `A user with username ${username} already exists.`, [
        username,
      ]);
    }
    if (mine.size >= limit) {
      return context.error(
        403,
        'GROUP_USERS_LIMIT_EXCEEDED',
        `Groups can contain at most ${limit} database users.`,
        [limit],
      );
    }
    const salt = randomBytes(8).toString('hex');
    const user: UserState = {
      databaseName,
      username,
      doc: keptFields(doc),
      secret: isExternal(doc) || password === undefined ? null : { salt, hash: hashOf(salt, password) },
      deleteAfter,
    };
    mine.set(key, user);
    record(groupId, username, { at: Date.now(), kind: 'created', deleteAfter });
    return { status: 201, body: userAnswer(groupId, user) };
  };

  const updateUser = (groupId: string, databaseName: string, username: string, body: unknown): SimAnswer => {
    const user = usersOf(groupId).get(userKey(databaseName, username));
    if (!user) return noSuchUser(username);
    const doc = (body ?? {}) as Record<string, unknown>;
    const deleteAfter =
      doc.deleteAfterDate === undefined ? user.deleteAfter : deleteAfterOf(doc.deleteAfterDate);
    if (deleteAfter !== null && typeof deleteAfter === 'object') return deleteAfter;
    const cluster = unknownCluster(groupId, doc.scopes);
    if (cluster) return cluster;
    if (typeof doc.password === 'string') {
      if (user.secret === null || doc.password.length < 8) {
        return context.error(
          400,
          'VALIDATION_ERROR',
          'The request content produced the validation error: password.',
          ['password'],
        );
      }
      const salt = randomBytes(8).toString('hex');
      user.secret = { salt, hash: hashOf(salt, doc.password) };
    }
    const { username: _u, databaseName: _d, ...rest } = keptFields(doc);
    user.doc = { ...user.doc, ...rest };
    if (deleteAfter !== user.deleteAfter) {
      user.deleteAfter = deleteAfter;
      record(groupId, username, { at: Date.now(), kind: 'deleteAfterChanged', deleteAfter });
    }
    return { status: 200, body: userAnswer(groupId, user) };
  };

  const deleteUser = (groupId: string, databaseName: string, username: string): SimAnswer => {
    const mine = usersOf(groupId);
    const user = mine.get(userKey(databaseName, username));
    if (!user) return noSuchUser(username);
    mine.delete(userKey(databaseName, username));
    record(groupId, username, { at: Date.now(), kind: 'deleted', deleteAfter: user.deleteAfter });
    return { status: 204 };
  };

  /**
   * Adds or replaces entries ("Adds one or more access list entries", spec; an entry already there is
   * replaced, as Atlas's POST does [inferred: the spec does not say]); answers the whole list.
   */
  const addEntries = (groupId: string, body: unknown, path: string, query: URLSearchParams): SimAnswer => {
    const list = Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
    const accepted: EntryState[] = [];
    for (const entry of list) {
      if (entry.cidrBlock !== undefined && entry.ipAddress !== undefined) {
        return context.error(
          400,
          'MULTIPLE_VALUES_SPECIFIED_FOR_ONE_NETWORK_PERMISSION_ENTRY',
          'Should not specify both the IP address and the CIDR block.',
        );
      }
      const value = String(entry.cidrBlock ?? entry.ipAddress ?? '');
      const cidrBlock = normalizeCidr(value);
      if (cidrBlock === undefined) {
        return context.error(
          400,
          'INVALID_IP_ADDRESS_OR_CIDR_NOTATION',
          `The address ${value} must be in valid IP address or CIDR notation.`,
          [value],
        );
      }
      const comment = typeof entry.comment === 'string' ? entry.comment : undefined;
      if (comment !== undefined && comment.length > 80) {
        return context.error(
          400,
          'INVALID_NETWORK_PERMISSION_COMMENT',
          `The comment ${comment} must be 80 characters or less.`,
          [comment],
        );
      }
      const deleteAfter = deleteAfterOf(entry.deleteAfterDate);
      if (deleteAfter !== null && typeof deleteAfter === 'object') return deleteAfter;
      accepted.push({ cidrBlock, comment, deleteAfter });
    }
    const mine = entriesOf(groupId);
    for (const entry of accepted) mine.set(entry.cidrBlock, entry);
    return context.page(
      [...mine.values()].map((e) => entryAnswer(groupId, e)),
      path,
      query,
    );
  };

  const entryOf = (groupId: string, raw: string) => {
    const value = decodeURIComponent(raw);
    const cidr = normalizeCidr(value);
    return { value, entry: cidr === undefined ? undefined : entriesOf(groupId).get(cidr) };
  };

  const GROUP = '^/api/atlas/v2/groups/([^/]+)';
  const route = (
    method: string,
    tail: string,
    handle: (groupId: string, m: RegExpExecArray, body: unknown, query: URLSearchParams) => SimAnswer,
  ): SimRoute => ({
    method,
    pattern: new RegExp(`${GROUP}${tail}$`),
    mediaType: V2_2023,
    handle: (m, body, query) => {
      const groupId = m[1] as string;
      sweep();
      return projectMissing(groupId) ?? handle(groupId, m, body, query);
    },
  });
  const path = (groupId: string, tail: string) => `/api/atlas/v2/groups/${groupId}${tail}`;
  const name = (m: RegExpExecArray, i: number) => decodeURIComponent(m[i] as string);

  const routes: SimRoute[] = [
    route('GET', '/databaseUsers', (g, _m, _b, q) =>
      context.page(
        [...usersOf(g).values()].map((u) => userAnswer(g, u)),
        path(g, '/databaseUsers'),
        q,
      ),
    ),
    route('POST', '/databaseUsers', (g, _m, body) => createUser(g, body)),
    route('GET', '/databaseUsers/([^/]+)/([^/]+)', (g, m) => {
      const user = usersOf(g).get(userKey(name(m, 2), name(m, 3)));
      return user ? { status: 200, body: userAnswer(g, user) } : noSuchUser(name(m, 3));
    }),
    route('PATCH', '/databaseUsers/([^/]+)/([^/]+)', (g, m, body) =>
      updateUser(g, name(m, 2), name(m, 3), body),
    ),
    route('DELETE', '/databaseUsers/([^/]+)/([^/]+)', (g, m) => deleteUser(g, name(m, 2), name(m, 3))),
    route('GET', '/accessList', (g, _m, _b, q) =>
      context.page(
        [...entriesOf(g).values()].map((e) => entryAnswer(g, e)),
        path(g, '/accessList'),
        q,
      ),
    ),
    route('POST', '/accessList', (g, _m, body, q) => addEntries(g, body, path(g, '/accessList'), q)),
    route('GET', '/accessList/([^/]+)', (g, m) => {
      const { value, entry } = entryOf(g, m[2] as string);
      return entry ? { status: 200, body: entryAnswer(g, entry) } : noSuchEntry(g, value);
    }),
    route('DELETE', '/accessList/([^/]+)', (g, m) => {
      const { value, entry } = entryOf(g, m[2] as string);
      if (!entry) return noSuchEntry(g, value);
      entriesOf(g).delete(entry.cidrBlock);
      return { status: 204 };
    }),
  ];

  return {
    routes,
    // Both count per project (client: rate-limiter.ts rateKeyOf).
    buckets: [{ pattern: /\/groups\/([^/:]+)\/(?:databaseUsers|accessList)/, scope: 'project' }],
    control: {
      databaseUsers: (groupId) => {
        sweep();
        return [...usersOf(groupId).values()].map((u) => userAnswer(groupId, u));
      },
      accessList: (groupId) => {
        sweep();
        return [...entriesOf(groupId).values()].map((e) => entryAnswer(groupId, e));
      },
      databaseUserTimeline: (groupId, username) => [...(events.get(`${groupId}/${username}`) ?? [])],
      canLogIn: (groupId, username, password) => {
        sweep();
        const secret = usersOf(groupId).get(userKey('admin', username))?.secret;
        return secret !== undefined && secret !== null && hashOf(secret.salt, password) === secret.hash;
      },
    },
    stop: () => clearInterval(timer),
  };
}
