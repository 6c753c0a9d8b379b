import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAuthParams } from '../src/atlas/digest.js';
import {
  ATLAS_ORG_ROLES,
  ATLAS_PROJECT_ROLES,
  CLOUD_MANAGER_ORG_ROLES,
  CLOUD_MANAGER_PROJECT_ROLES,
  OPS_MANAGER_ORG_ROLES,
} from '../src/atlas/role-names.js';
import type { AtlasScope } from '../src/lib/scope.js';
import {
  createDatabaseAccessModule,
  type DatabaseSimControl,
  type DatabaseSimOptions,
} from './atlas-sim/database.js';
import { createFederationModule, type SimFederation, type SimRoleMapping } from './atlas-sim/federation.js';
import type { SimAnswer, SimModule, SimModuleContext, SimRoute } from './atlas-sim/module.js';
import {
  createTeamsModule,
  type SimulatedTeam,
  type TeamMembershipChange,
  type TeamsSimHooks,
} from './atlas-sim/teams.js';
import { readBody, sendJson } from './http-util.js';

/** A user in the simulated Atlas, with roles per org and per project. */
export interface SimulatedAtlasUser {
  readonly id: string;
  readonly username: string;
  readonly orgRoles?: Readonly<Record<string, readonly string[]>>;
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
}

/**
 * An invitation to an organization that is not accepted (yet): the v2 lists show it with its
 * `orgMembershipStatus` and the roles it carries (spec `OrgPendingUserResponse`), but the person is no
 * member. removeOrgUser and removeGroupUser take it back.
 */
export interface SimulatedInvitation {
  /** 24 hex; generated when absent. */
  readonly id?: string;
  readonly username: string;
  readonly orgId: string;
  readonly orgRoles?: readonly string[];
  /** Project roles the invitation carries, per groupId of a project of `orgId`. */
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
  /** @defaultValue 'PENDING' */
  readonly status?: 'PENDING' | 'INVITATION_EXPIRED' | 'INVITATION_REJECTED';
  /** @defaultValue 'admin@example.com' */
  readonly inviterUsername?: string;
}

/** What {@link AtlasSimulator.seedUsers} gives each of the users it adds. */
export interface SeedTemplate {
  /** Roles per orgId. */
  readonly orgRoles?: Readonly<Record<string, readonly string[]>>;
  /** Roles per groupId. */
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
  /**
   * Usernames are `{usernamePrefix}{n}@example.com`, n from 1.
   * @defaultValue 'member'
   */
  readonly usernamePrefix?: string;
}

/** A server-side token bucket, as Atlas enforces per endpoint set and scope. */
export interface SimulatedBucket {
  readonly capacity: number;
  readonly refillPerMinute: number;
}

/** Options for {@link startAtlasSimulator} (database access: `clusters`, `databaseUserLimit`). */
export interface AtlasSimulatorOptions extends DatabaseSimOptions {
  /** Programmatic API keys (HTTP Digest). */
  readonly apiKeys?: readonly { readonly publicKey: string; readonly privateKey: string }[];
  /** Service accounts (OAuth 2.0 client credentials). */
  readonly serviceAccounts?: readonly { readonly clientId: string; readonly clientSecret: string }[];
  /** @defaultValue 3600 */
  readonly tokenLifetimeSeconds?: number;
  readonly orgs: readonly { readonly id: string; readonly name: string }[];
  readonly projects: readonly { readonly id: string; readonly name: string; readonly orgId: string }[];
  readonly users: readonly SimulatedAtlasUser[];
  /** Invitations not accepted yet (listed by the v2 list calls as PENDING, …). */
  readonly invitations?: readonly SimulatedInvitation[];
  /** Teams of the organizations, with their members (usernames) and project roles (dev/atlas-sim/teams.ts). */
  readonly teams?: readonly SimulatedTeam[];
  /** Which product answers under /api/public/v1.0 (their org roles differ). @defaultValue 'cloud-manager' */
  readonly publicApiProduct?: 'cloud-manager' | 'ops-manager';
  /**
   * Enforce rate limits like Atlas (NOTES.md section 9): every request takes a token, Digest
   * challenges included; an empty bucket answers 429.
   */
  readonly rateLimits?: {
    readonly org: SimulatedBucket;
    readonly project: SimulatedBucket;
    readonly user: SimulatedBucket;
  };
  /**
   * `RateLimit-Limit` (the bucket's capacity) and `RateLimit-Remaining` (whole tokens left) on the 2xx
   * answers of calls that took a token. Atlas "might not always return" them (NOTES.md section 9): turn
   * them off to see a client cope without.
   * @defaultValue true
   */
  readonly rateLimitHeaders?: boolean;
  /**
   * How long a Digest nonce is good for; a correct request with an older one is answered 401 with a new
   * challenge saying `stale=true` (RFC 7616 section 3.3).
   * @defaultValue 60
   */
  readonly nonceLifetimeSeconds?: number;
  /**
   * How a Digest nonce count is checked. `replay` (RFC 7616 section 3.4: "if the same nc value is seen
   * twice, then the request is a replay") refuses an nc already used with that nonce, whatever the
   * order concurrent requests arrive in; `strict` refuses any nc not above the highest seen so far;
   * `once` takes one request per nonce, as a server that allows no reuse at all would (each call then
   * needs a challenge of its own, as the official Atlas clients ask for).
   * @defaultValue 'replay'
   */
  readonly nonceCounting?: 'replay' | 'strict' | 'once';
  /** Organizations with federated authentication and their role mappings (atlas-sim/federation.ts). */
  readonly federation?: readonly SimFederation[];
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
}

/** One HTTP exchange as the simulator saw it (challenge round trips included, marked `auth: 'none'`). */
export interface RecordedAtlasCall {
  readonly method: string;
  /** Path and query, as sent. */
  readonly path: string;
  readonly status: number;
  readonly auth: 'none' | 'digest' | 'bearer' | 'invalid';
  readonly accept: string | undefined;
  readonly contentType: string | undefined;
  /** Content-Type when there was a body, else Accept. */
  readonly mediaType: string | undefined;
  readonly body: unknown;
  /** The body answered (undefined for none, e.g. a 204). */
  readonly response: unknown;
  readonly at: number;
  /** The nonce and count of a request signed with Digest (valid or not); absent for any other. */
  readonly digest?: { readonly nonce: string; readonly nc: string };
  /** The Digest challenge answered (a 401 with `WWW-Authenticate: Digest`): its new nonce, and whether it said stale. */
  readonly challenge?: { readonly nonce: string; readonly stale: boolean };
}

/** A scripted answer for the next matching calls, checked after authentication (`holdMs`: before). */
export interface AtlasInjection {
  readonly method?: string;
  /** Matches the path (without query). */
  readonly path?: RegExp;
  /** @defaultValue 1, or unlimited when `untilMs` is set */
  readonly times?: number;
  /** Answer this way until this time (ms since epoch), then stop: an outage of a known length. */
  readonly untilMs?: number;
  /** Answer with this status (and body, headers). */
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering (or before resetting). */
  readonly delayMs?: number;
  /** Drop the connection instead of answering. */
  readonly reset?: boolean;
  /**
   * Hold the matching requests this long before looking at them at all (rate limit and authentication
   * included), so requests sent after them are checked first: the order concurrent requests can
   * arrive in over a real network. An injection with `holdMs` does nothing else.
   */
  readonly holdMs?: number;
}

/** One moment in a person's roles on one scope: what they held from `at` on ([] = not a member). */
export interface RoleChange {
  readonly at: number;
  readonly roles: readonly string[];
}

/**
 * A local stand-in for the Atlas Admin API, Cloud/Ops Manager and the OAuth token endpoint (database
 * access: `databaseUsers`, `accessList`, `databaseUserTimeline`, `canLogIn`).
 */
export interface AtlasSimulator extends DatabaseSimControl {
  /** Base URL to use as ATLAS_BASE_URL. */
  readonly url: string;
  readonly calls: readonly RecordedAtlasCall[];
  /** Every request as it arrived, before any answer: method, path and arrival time. */
  readonly received: readonly { readonly method: string; readonly path: string; readonly at: number }[];
  /** Authenticated calls only (what the client really did), in order. */
  authenticatedCalls(): RecordedAtlasCall[];
  /** Access tokens issued and revoked so far. */
  readonly tokens: { readonly issued: number; readonly revoked: number };
  rolesOf(username: string, scope: AtlasScope): string[];
  /**
   * Adds `count` users at once, each with the roles of `template` (ids generated, usernames
   * `{prefix}{n}@example.com`), recorded in their timelines as their state from now; returns them.
   * For tests that need hundreds of members.
   */
  seedUsers(count: number, template: SeedTemplate): SimulatedAtlasUser[];
  /** Adds an invitation not accepted yet; returns its id. */
  invite(invitation: SimulatedInvitation): string;
  /** The invitations not accepted yet, as they stand. */
  invitations(): SimulatedInvitation[];
  /** Changes roles by hand, as an owner would in the Atlas UI; [] removes the person from the scope. */
  setRoles(username: string, scope: AtlasScope, roles: readonly string[]): void;
  /**
   * Every state a person's roles on a scope went through, with when (roles sorted): the first entry is
   * the state at start-up, then one per change, by the API or by hand.
   */
  timeline(username: string, scope: AtlasScope): RoleChange[];
  inject(injection: AtlasInjection): void;
  /** The usernames in a team, sorted. */
  teamMembers(teamId: string): string[];
  /** Sets a team's members by hand, as an owner would in the Atlas UI (recorded in the team timelines). */
  setTeamMembers(teamId: string, usernames: readonly string[]): void;
  /** Renames a team, as an owner would in the Atlas UI: its id and members stay. */
  renameTeam(teamId: string, name: string): void;
  /**
   * Every state of a person's membership of a team, with when: the first entry is the state at start-up,
   * then one per change (by the API, by hand, or by leaving the organization).
   */
  teamTimeline(teamId: string, username: string): TeamMembershipChange[];
  /**
   * Deletes a project, as its owner would in Atlas: its members lose their roles there (recorded in
   * their timelines) and from then on every call naming it answers 404 GROUP_NOT_FOUND "No group with
   * ID %s exists." (NOTES.md section 6), in the ApiError body `{detail, error, errorCode, parameters,
   * reason}` (section 3).
   */
  deleteProject(groupId: string): void;
  /**
   * Deletes an organization. Atlas refuses while it still has projects (409 ORG_NOT_EMPTY "Organization
   * cannot be deleted because it still contains active groups.", docs api-errors), so this throws then:
   * delete its projects first. From then on every call naming it answers 404 ORG_NOT_FOUND "No
   * organization with ID %s exists." (NOTES.md section 6).
   */
  deleteOrg(orgId: string): void;
  /**
   * Deletes a person's Atlas account: they leave every organization and project (recorded in their
   * timelines, which stay readable) and from then on calls naming their id answer 404 USER_NOT_FOUND
   * "No user with ID %s exists.", calls naming their username 404 USERNAME_NOT_FOUND "No user with
   * username %s exists." (NOTES.md section 6), and the member lists leave them out.
   */
  deleteUser(username: string): void;
  /**
   * Turns on an API access list (null turns it off): every authenticated call from an address not in
   * `allowed` answers 403 IP_ADDRESS_NOT_ON_ACCESS_LIST "IP address %s is not allowed to access this
   * resource." with the address as its parameter (the docs' api-errors catalogue lists it under its
   * older name IP_ADDRESS_NOT_ON_WHITELIST; Atlas answers with the current name today). The token
   * endpoint is not behind it ("the token can be created from any IP address", NOTES.md section 8b).
   */
  restrictApiAccess(allowed: readonly string[] | null): void;
  /** Makes every Digest nonce issued so far stale now: their next correct use gets 401 with `stale=true`. */
  expireNonces(): void;
  /**
   * Sets the tokens left in the bucket `path` counts against (the one a call to it would take from),
   * as if another client of the same key had spent them; refills from now. Needs `rateLimits`.
   */
  setBucketTokens(path: string, tokens: number): void;
  /** Replaces an organization's federation role mappings (atlas-sim/federation.ts). */
  setRoleMappings(orgId: string, mappings: readonly SimRoleMapping[]): void;
  /**
   * A federated login: with role mappings in force, the person's roles in the organization and its
   * projects become exactly what the mappings give `idpGroups`, recorded in timelines and as events.
   */
  ssoLogin(username: string, orgId: string, idpGroups: readonly string[]): void;
  close(): Promise<void>;
}

const REALM = 'MMS Public API';
const V2_2023 = 'application/vnd.atlas.2023-01-01+json';
const V2_2025 = 'application/vnd.atlas.2025-02-19+json';
const JSON_TYPE = 'application/json';
const DEPRECATED = { deprecation: '@1767225600', sunset: 'Thu, 01 Jul 2027 00:00:00 GMT' } as const;

interface UserState {
  id: string;
  username: string;
  orgRoles: Map<string, Set<string>>;
  groupRoles: Map<string, Set<string>>;
}

interface InvitationState {
  id: string;
  username: string;
  orgId: string;
  orgRoles: string[];
  groupRoles: Map<string, string[]>;
  status: 'PENDING' | 'INVITATION_EXPIRED' | 'INVITATION_REJECTED';
  inviterUsername: string;
  createdAt: number;
}

type Answer = SimAnswer;

/** A 24-hex id from a number, under a two-character prefix (`5e…` users, `5f…` invitations). */
function simulatedId(prefix: string, n: number): string {
  return `${prefix}${n.toString(16).padStart(22, '0')}`;
}

const toState = (u: SimulatedAtlasUser): UserState => ({
  id: u.id,
  username: u.username,
  orgRoles: new Map(Object.entries(u.orgRoles ?? {}).map(([k, v]) => [k, new Set(v)])),
  groupRoles: new Map(Object.entries(u.groupRoles ?? {}).map(([k, v]) => [k, new Set(v)])),
});

type Route = SimRoute;

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Starts the Atlas simulator on a local port. */
export async function startAtlasSimulator(options: AtlasSimulatorOptions): Promise<AtlasSimulator> {
  const keys = new Map((options.apiKeys ?? []).map((k) => [k.publicKey, k.privateKey]));
  const accounts = new Map((options.serviceAccounts ?? []).map((a) => [a.clientId, a.clientSecret]));
  const orgs = new Map(options.orgs.map((o) => [o.id, o]));
  const projects = new Map(options.projects.map((p) => [p.id, p]));
  const users = new Map<string, UserState>(options.users.map((u) => [u.id, toState(u)]));
  // Deleted accounts: gone for the API, kept so their timelines stay readable.
  const deletedUsers = new Map<string, UserState>();
  let accessList: ReadonlySet<string> | null = null;
  // Every nonce issued: when, whether expireNonces() made it stale, the counts used with it.
  const nonces = new Map<string, { issuedAt: number; expired: boolean; lastNc: number; used: Set<number> }>();
  const nonceLifetimeMs = (options.nonceLifetimeSeconds ?? 60) * 1000;
  const accessTokens = new Map<string, number>();
  const tokenCounts = { issued: 0, revoked: 0 };
  const buckets = new Map<string, { tokens: number; at: number }>();
  const startedAt = Date.now();
  // Each user's roles when they appeared (start-up, or seedUsers): the first entry of their timeline.
  const initial = new Map<string, { at: number; user: SimulatedAtlasUser }>(
    options.users.map((u) => [u.id, { at: startedAt, user: u }]),
  );
  let nextId = 1;
  let baseUrl = '';
  const changes: { userId: string; key: string; at: number; roles: string[] }[] = [];
  const calls: RecordedAtlasCall[] = [];
  const received: { method: string; path: string; at: number }[] = [];
  const injections: (AtlasInjection & { left: number })[] = [];
  const invitations = new Map<string, InvitationState>();
  const addInvitation = (invitation: SimulatedInvitation): InvitationState => {
    let id = invitation.id;
    while (id === undefined || invitations.has(id)) id = simulatedId('5f', nextId++);
    const state: InvitationState = {
      id,
      username: invitation.username,
      orgId: invitation.orgId,
      orgRoles: [...(invitation.orgRoles ?? [])],
      groupRoles: new Map(Object.entries(invitation.groupRoles ?? {}).map(([k, v]) => [k, [...v]])),
      status: invitation.status ?? 'PENDING',
      inviterUsername: invitation.inviterUsername ?? 'admin@example.com',
      createdAt: Date.now(),
    };
    invitations.set(id, state);
    return state;
  };
  for (const invitation of options.invitations ?? []) addInvitation(invitation);
  const publicOrgRoles: readonly string[] =
    options.publicApiProduct === 'ops-manager' ? OPS_MANAGER_ORG_ROLES : CLOUD_MANAGER_ORG_ROLES;

  const error = (status: number, errorCode: string, detail: string, parameters: unknown[] = []): Answer => ({
    status,
    body: { detail, error: status, errorCode, parameters, reason: REASONS[status] ?? 'Error' },
  });
  const byUsername = (name: string) =>
    [...users.values()].find((u) => u.username.toLowerCase() === name.toLowerCase());
  const rolesMap = (user: UserState, scope: AtlasScope) =>
    scope.kind === 'org' ? user.orgRoles : user.groupRoles;
  const heldIn = (user: UserState, scope: AtlasScope) =>
    rolesMap(user, scope).get(scope.id) ?? new Set<string>();
  const isMember = (user: UserState, scope: AtlasScope) => heldIn(user, scope).size > 0;
  /** The one place roles change: keeps the timeline. An empty list removes the person from the scope. */
  const writeRoles = (user: UserState, scope: AtlasScope, roles: Iterable<string>) => {
    const next = new Set(roles);
    const before = [...heldIn(user, scope)].sort();
    if (next.size === 0) rolesMap(user, scope).delete(scope.id);
    else rolesMap(user, scope).set(scope.id, next);
    const after = [...next].sort();
    if (before.join() !== after.join())
      changes.push({ userId: user.id, key: `${scope.kind}:${scope.id}`, at: Date.now(), roles: after });
    // Out of the organization is out of its teams.
    if (scope.kind === 'org' && next.size === 0) teams.leaveOrg(user.id, scope.id);
  };
  const orgOfScope = (scope: AtlasScope) => (scope.kind === 'org' ? scope.id : projects.get(scope.id)?.orgId);

  /** A 401 with a new nonce; `stale` when the request was right but its nonce too old (RFC 7616 section 3.3). */
  const challenge = (stale: boolean): { answer: Answer; nonce: string } => {
    const nonce = randomBytes(24).toString('base64');
    nonces.set(nonce, { issuedAt: Date.now(), expired: false, lastNc: 0, used: new Set() });
    const answer = {
      ...error(401, 'UNAUTHORIZED', 'You are not authorized for this resource.'),
      headers: {
        'www-authenticate': `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=${stale}`,
      },
    };
    return { answer, nonce };
  };

  /**
   * Checks a Digest Authorization header the way a server must (RFC 7616 section 3.4): `stale` for a
   * correct response on a known nonce past its lifetime, `invalid` for anything else wrong (an unknown
   * nonce, a wrong response, a count already used).
   */
  const verifyDigest = (header: string, method: string, uri: string): 'digest' | 'stale' | 'invalid' => {
    const p = parseAuthParams(header.replace(/^Digest\s+/i, ''));
    const username = p.get('username') ?? '';
    const password = keys.get(username);
    const nonce = nonces.get(p.get('nonce') ?? '');
    const ncText = p.get('nc') ?? '';
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
    if (password === undefined || !nonce) return 'invalid';
    if (p.get('uri') !== uri || p.get('realm') !== REALM || p.get('qop') !== 'auth') return 'invalid';
    if (!/^[0-9a-f]{8}$/i.test(ncText)) return 'invalid';
    const hashName = algorithm === 'SHA-256' ? 'sha256' : algorithm === 'MD5' ? 'md5' : undefined;
    if (!hashName) return 'invalid';
    const h = (s: string) => createHash(hashName).update(s).digest('hex');
    const expected = h(
      `${h(`${username}:${REALM}:${password}`)}:${p.get('nonce')}:${ncText}:${p.get('cnonce')}:auth:${h(`${method}:${uri}`)}`,
    );
    if (expected !== p.get('response')) return 'invalid';
    if (nonce.expired || Date.now() - nonce.issuedAt > nonceLifetimeMs) return 'stale';
    const nc = Number.parseInt(ncText, 16);
    const counting = options.nonceCounting ?? 'replay';
    const replay =
      counting === 'strict'
        ? nc <= nonce.lastNc
        : counting === 'once'
          ? nonce.used.size > 0
          : nonce.used.has(nc);
    if (replay) return 'invalid';
    nonce.lastNc = Math.max(nonce.lastNc, nc);
    nonce.used.add(nc);
    return 'digest';
  };

  const verifyBearer = (header: string): boolean => {
    const expires = accessTokens.get(header.replace(/^Bearer\s+/i, ''));
    return expires !== undefined && Date.now() < expires;
  };

  /** The Atlas bucket a path counts against: its key here and its size; undefined without rateLimits. */
  const bucketOf = (path: string): { key: string; config: SimulatedBucket } | undefined => {
    const limits = options.rateLimits;
    if (!limits) return undefined;
    const org = /\/orgs\/([^/:]+)\/users/.exec(path);
    const group = /\/groups\/([^/:]+)\/users/.exec(path);
    const project = /\/groups\/([^/:]+)$/.exec(path);
    // GET /orgs/{orgId}: the "Organizations" endpoint set, ORGANIZATION scope (NOTES.md section 9).
    const organization = /\/orgs\/([^/:]+)$/.exec(path);
    for (const { pattern, scope } of modules.flatMap((m) => m.buckets ?? [])) {
      const hit = pattern.exec(path);
      if (hit) {
        return scope === 'org'
          ? { key: `org:${hit[1]}`, config: limits.org }
          : { key: `group:${hit[1]}`, config: limits.project };
      }
    }
    if (org) return { key: `org:${org[1]}`, config: limits.org };
    if (group) return { key: `group:${group[1]}`, config: limits.project };
    if (project) return { key: `project:${project[1]}`, config: limits.project };
    if (organization) return { key: `organization:${organization[1]}`, config: limits.org };
    return { key: 'user', config: limits.user };
  };

  /**
   * Takes a token from the Atlas bucket this path counts against: a 429 when it is empty, else the
   * RateLimit headers for a 2xx answer (none without rateLimits). Every request takes one, a Digest
   * challenge's unsigned request included: whether Atlas counts those is undocumented (NOTES.md
   * section 9), and counting them is the side a client must be ready for.
   */
  const rateLimit = (path: string): { limited: Answer } | { headers: Record<string, string> } => {
    const bucket = bucketOf(path);
    if (!bucket) return { headers: {} };
    const { key, config } = bucket;
    const now = Date.now();
    const rate = config.refillPerMinute / 60_000;
    const state = buckets.get(key) ?? { tokens: config.capacity, at: now };
    const tokens = Math.min(config.capacity, state.tokens + (now - state.at) * rate);
    if (tokens >= 1) {
      buckets.set(key, { tokens: tokens - 1, at: now });
      if (options.rateLimitHeaders === false) return { headers: {} };
      return {
        headers: {
          'ratelimit-limit': String(config.capacity),
          'ratelimit-remaining': String(Math.floor(tokens - 1)),
        },
      };
    }
    buckets.set(key, { tokens, at: now });
    const retryAfter = Math.max(1, Math.ceil((1 - tokens) / rate / 1000));
    if (path.startsWith('/api/public/')) {
      // Cloud Manager / Ops Manager answer with the older RATE_LIMITED body: a quota, no wait.
      const limit = config.refillPerMinute;
      return {
        limited: error(
          429,
          'RATE_LIMITED',
          `Resource ${path} is limited to ${limit} requests every 1 minutes.`,
          [path, limit, 1],
        ),
      };
    }
    return {
      limited: {
        ...error(
          429,
          'RATE_LIMITED_TOKEN_BUCKET',
          `Rate limit exceeded for ${path}. Please retry after ${retryAfter} seconds.`,
          [path, retryAfter, config.capacity, config.refillPerMinute, 60],
        ),
        headers: { 'retry-after': String(retryAfter) },
      },
    };
  };

  const checkRoles = (scope: AtlasScope, roles: unknown, product: 'atlas' | 'public'): Answer | string[] => {
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')) {
      return error(400, 'INVALID_JSON_ATTRIBUTE', 'Roles must be an array of strings.');
    }
    const allowed: readonly string[] =
      product === 'atlas'
        ? scope.kind === 'org'
          ? ATLAS_ORG_ROLES
          : ATLAS_PROJECT_ROLES
        : scope.kind === 'org'
          ? publicOrgRoles
          : CLOUD_MANAGER_PROJECT_ROLES;
    const bad = roles.find((r) => !allowed.includes(r as string));
    if (bad !== undefined) {
      return scope.kind === 'org'
        ? error(400, 'INVALID_ROLE_FOR_ORG', `Role ${bad} invalid for organization ${scope.id}.`, [
            bad,
            scope.id,
          ])
        : error(400, 'INVALID_ROLE_FOR_GROUP', `Role ${bad} is invalid for group ${scope.id}.`, [
            bad,
            scope.id,
          ]);
    }
    if (roles.length === 0) {
      return error(
        403,
        'CANNOT_REMOVE_ALL_USER_ROLES',
        'You cannot remove all roles from a user. Specify at least one role.',
      );
    }
    if (new Set(roles).size !== roles.length) return error(400, 'VALIDATION_ERROR', 'Roles must not repeat.');
    return roles as string[];
  };

  /** Atlas rejects fields it does not know with 400 instead of ignoring them. */
  const unknownAttribute = (body: object, allowed: string): Answer | undefined => {
    const extra = Object.keys(body).find((k) => k !== allowed);
    return extra === undefined
      ? undefined
      : error(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${extra} specified.`, [extra]);
  };

  const scopeMissing = (scope: AtlasScope): Answer | undefined => {
    if (scope.kind === 'org' && !orgs.has(scope.id)) {
      return error(404, 'ORG_NOT_FOUND', `No organization with ID ${scope.id} exists.`, [scope.id]);
    }
    if (scope.kind === 'project' && !projects.has(scope.id)) {
      return error(404, 'GROUP_NOT_FOUND', `No group with ID ${scope.id} exists.`, [scope.id]);
    }
    return undefined;
  };

  const notMember = (userId: string, scope: AtlasScope): Answer =>
    scope.kind === 'org'
      ? error(404, 'USER_NOT_IN_ORG', `User ${userId} is not in organization ${scope.id}.`, [
          userId,
          scope.id,
        ])
      : error(404, 'USER_NOT_IN_GROUP', `User ${userId} is not in group ${scope.id}.`, [userId, scope.id]);

  /** A call naming a user id Atlas does not know (never existed, or deleted). */
  const noSuchUser = (userId: string): Answer =>
    error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);

  const lastOwner = (user: UserState, scope: AtlasScope, next: readonly string[]): Answer | undefined => {
    if (scope.kind !== 'org' || !heldIn(user, scope).has('ORG_OWNER') || next.includes('ORG_OWNER'))
      return undefined;
    const owners = [...users.values()].filter((u) => u.orgRoles.get(scope.id)?.has('ORG_OWNER'));
    return owners.length <= 1
      ? error(403, 'CANNOT_DEMOTE_LAST_ORG_OWNER', 'Cannot demote the last owner of the organization.')
      : undefined;
  };

  /** PUT …/roles with the full list (v2 2023-01-01 and public v1.0). */
  const putRoles = (
    scope: AtlasScope,
    userId: string,
    body: unknown,
    product: 'atlas' | 'public',
  ): Answer => {
    const field = scope.kind === 'org' ? 'orgRoles' : 'groupRoles';
    const missing = scopeMissing(scope);
    if (missing) return missing;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return error(400, 'INVALID_JSON', 'The request body must be a JSON object.');
    }
    const unknown = unknownAttribute(body, field);
    if (unknown) return unknown;
    const user = users.get(userId);
    if (!user) return error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);
    if (!isMember(user, scope)) return notMember(userId, scope);
    const roles = checkRoles(scope, (body as Record<string, unknown>)[field], product);
    if (!Array.isArray(roles)) return roles;
    const owner = lastOwner(user, scope, roles);
    if (owner) return owner;
    writeRoles(user, scope, roles);
    return { status: 200, body: { [field]: roles }, headers: product === 'atlas' ? { ...DEPRECATED } : {} };
  };

  /** POST …:addRole / :removeRole (v2 2025-02-19). */
  const changeOne = (
    scope: AtlasScope,
    userId: string,
    body: unknown,
    verb: 'addRole' | 'removeRole',
  ): Answer => {
    const field = scope.kind === 'org' ? 'orgRole' : 'groupRole';
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const unknown = unknownAttribute(record, field);
    if (unknown) return unknown;
    const role = record[field];
    if (typeof role !== 'string')
      return error(400, 'MISSING_ATTRIBUTE', `The required attribute ${field} was not specified.`);
    const checked = checkRoles(scope, [role], 'atlas');
    if (!Array.isArray(checked)) return checked;
    const user = users.get(userId);
    if (!user && !invitations.has(userId)) return noSuchUser(userId);
    const orgId = orgOfScope(scope);
    if (!user || orgId === undefined || !isMember(user, { kind: 'org', id: orgId })) {
      return notMember(userId, { kind: 'org', id: orgId ?? scope.id });
    }
    const held = new Set(heldIn(user, scope));
    if (verb === 'addRole') {
      if (held.has(role))
        return error(409, 'USER_ALREADY_HAS_ROLE', `User ${userId} already has role ${role}.`);
      held.add(role);
    } else {
      if (!held.has(role))
        return error(409, 'ROLE_NOT_ASSIGNED', `User ${userId} does not have role ${role}.`);
      if (held.size === 1) {
        return error(
          403,
          'CANNOT_REMOVE_ALL_USER_ROLES',
          'You cannot remove all roles from a user. Specify at least one role.',
        );
      }
      const owner = lastOwner(
        user,
        scope,
        [...held].filter((r) => r !== role),
      );
      if (owner) return owner;
      held.delete(role);
    }
    writeRoles(user, scope, held);
    return { status: 200, body: scope.kind === 'org' ? orgUser(user, scope.id) : groupUser(user, scope.id) };
  };

  const cloudAppUser = (user: UserState) => ({
    id: user.id,
    username: user.username,
    emailAddress: user.username,
    roles: [
      ...[...user.orgRoles].flatMap(([orgId, roles]) => [...roles].map((roleName) => ({ orgId, roleName }))),
      ...[...user.groupRoles].flatMap(([groupId, roles]) =>
        [...roles].map((roleName) => ({ groupId, roleName })),
      ),
    ],
    // Spec `CloudAppUser.teamIds`: every team of the account, whatever the organization.
    teamIds: teams.teamIdsOf(user.id),
    links: [],
  });

  /** The profile fields an active user has in the 2025-02-19 answers (spec `OrgActiveUserResponse`). */
  const profile = (user: UserState) => {
    const local = user.username.split('@')[0] ?? user.username;
    return {
      firstName: local.charAt(0).toUpperCase() + local.slice(1),
      lastName: 'Example',
      createdAt: new Date(startedAt).toISOString(),
    };
  };

  /** The invitation fields of a pending entry (spec `OrgPendingUserResponse`), expiring after 30 days. */
  const invited = (invitation: InvitationState) => ({
    id: invitation.id,
    username: invitation.username,
    orgMembershipStatus: invitation.status,
    invitationCreatedAt: new Date(invitation.createdAt).toISOString(),
    invitationExpiresAt:
      invitation.status === 'INVITATION_REJECTED'
        ? null
        : new Date(invitation.createdAt + 30 * 86_400_000).toISOString(),
    inviterUsername: invitation.inviterUsername,
  });

  const pendingOrgUser = (invitation: InvitationState) => ({
    ...invited(invitation),
    teamIds: teams.teamIdsOf(invitation.id, invitation.orgId),
    roles: {
      orgRoles: [...invitation.orgRoles],
      groupRoleAssignments: [...invitation.groupRoles].map(([groupId, groupRoles]) => ({
        groupId,
        groupRoles: [...groupRoles],
      })),
    },
  });

  const pendingGroupUser = (invitation: InvitationState, groupId: string) => ({
    ...invited(invitation),
    roles: [...(invitation.groupRoles.get(groupId) ?? [])],
  });

  const orgUser = (user: UserState, orgId: string) => ({
    id: user.id,
    username: user.username,
    orgMembershipStatus: 'ACTIVE',
    ...profile(user),
    // Spec `OrgUserResponse.teamIds`: the teams of this organization the person is in.
    teamIds: teams.teamIdsOf(user.id, orgId),
    roles: {
      orgRoles: [...heldIn(user, { kind: 'org', id: orgId })],
      groupRoleAssignments: [...user.groupRoles]
        .filter(([groupId]) => projects.get(groupId)?.orgId === orgId)
        .map(([groupId, roles]) => ({ groupId, groupRoles: [...roles] })),
    },
  });

  const groupUser = (user: UserState, groupId: string) => ({
    id: user.id,
    username: user.username,
    orgMembershipStatus: 'ACTIVE',
    ...profile(user),
    roles: [...heldIn(user, { kind: 'project', id: groupId })],
  });

  /** PATCH /api/atlas/v1.0/users/{id}: replaces the roles of every scope present in the body. */
  const patchV1 = (userId: string, body: unknown): Answer => {
    const user = users.get(userId);
    if (!user) return error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);
    const list = (body as { roles?: unknown } | undefined)?.roles;
    if (!Array.isArray(list)) return error(400, 'INVALID_JSON_ATTRIBUTE', 'roles must be an array.');
    const next = new Map<string, { scope: AtlasScope; roles: string[] }>();
    for (const entry of list as { orgId?: string; groupId?: string; roleName?: string }[]) {
      const scope: AtlasScope | undefined = entry.orgId
        ? { kind: 'org', id: entry.orgId }
        : entry.groupId
          ? { kind: 'project', id: entry.groupId }
          : undefined;
      if (!scope || typeof entry.roleName !== 'string')
        return error(400, 'ROLE_NEEDS_GROUP_ID', 'Each role needs an orgId or a groupId.');
      const key = `${scope.kind}:${scope.id}`;
      next.set(key, { scope, roles: [...(next.get(key)?.roles ?? []), entry.roleName] });
    }
    for (const { scope, roles } of next.values()) {
      const missing = scopeMissing(scope);
      if (missing) return missing;
      const checked = checkRoles(scope, roles, 'atlas');
      if (!Array.isArray(checked)) return checked;
      const owner = lastOwner(user, scope, checked);
      if (owner) return owner;
    }
    for (const { scope, roles } of next.values()) writeRoles(user, scope, roles);
    return { status: 200, body: cloudAppUser(user) };
  };

  /** POST /api/atlas/v2/groups/{groupId}/users (addGroupUsers, 2025-02-19). */
  const addGroupUser = (groupId: string, body: unknown): Answer => {
    const scope: AtlasScope = { kind: 'project', id: groupId };
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const record = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const extra = Object.keys(record).find((k) => k !== 'username' && k !== 'roles');
    if (extra !== undefined)
      return error(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${extra} specified.`, [extra]);
    if (typeof record.username !== 'string')
      return error(400, 'MISSING_ATTRIBUTE', 'The required attribute username was not specified.');
    const roles = checkRoles(scope, record.roles, 'atlas');
    if (!Array.isArray(roles)) return roles;
    const username = record.username;
    const user = byUsername(username);
    const orgId = orgOfScope(scope) ?? '';
    if (!user || !isMember(user, { kind: 'org', id: orgId })) {
      // Not in the organization: Atlas (re)invites them, with these project roles.
      const invitation =
        [...invitations.values()].find(
          (i) => i.orgId === orgId && i.username.toLowerCase() === username.toLowerCase(),
        ) ?? addInvitation({ username, orgId });
      invitation.status = 'PENDING';
      invitation.groupRoles.set(groupId, roles);
      return { status: 201, body: pendingGroupUser(invitation, groupId) };
    }
    if (isMember(user, scope)) {
      return error(409, 'USER_ALREADY_IN_GROUP', `User ${user.username} is already in group ${groupId}.`, [
        user.username,
        groupId,
      ]);
    }
    writeRoles(user, scope, roles);
    return { status: 201, body: groupUser(user, groupId) };
  };

  /** DELETE /api/atlas/v2/groups/{groupId}/users/{userId} (removeGroupUser). */
  const removeGroupUser = (groupId: string, userId: string): Answer => {
    const scope: AtlasScope = { kind: 'project', id: groupId };
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const invitation = invitations.get(userId);
    if (invitation?.groupRoles.has(groupId)) {
      invitation.groupRoles.delete(groupId);
      return { status: 204 };
    }
    const user = users.get(userId);
    if (!user) return noSuchUser(userId);
    if (!isMember(user, scope)) return notMember(userId, scope);
    writeRoles(user, scope, []);
    return { status: 204 };
  };

  /**
   * DELETE /api/atlas/v2/orgs/{orgId}/users/{userId} (removeOrgUser, 2025-02-19): an active member
   * leaves the organization and every project of it; a pending invitation is taken back. The last
   * ORG_OWNER stays: 403 CANNOT_DELETE_LAST_ADMIN (NOTES.md sections 5 and 6).
   */
  const removeOrgUser = (orgId: string, userId: string): Answer => {
    const scope: AtlasScope = { kind: 'org', id: orgId };
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const invitation = invitations.get(userId);
    if (invitation?.orgId === orgId) {
      invitations.delete(userId);
      teams.leaveOrg(userId, orgId);
      return { status: 204 };
    }
    const user = users.get(userId);
    if (!user) return noSuchUser(userId);
    if (!isMember(user, scope)) return notMember(userId, scope);
    const owners = [...users.values()].filter((u) => u.orgRoles.get(orgId)?.has('ORG_OWNER'));
    if (heldIn(user, scope).has('ORG_OWNER') && owners.length <= 1) {
      return error(
        403,
        'CANNOT_DELETE_LAST_ADMIN',
        'An organization needs to have at least one owner. You cannot demote or remove the last owner.',
      );
    }
    for (const groupId of [...user.groupRoles.keys()]) {
      if (projects.get(groupId)?.orgId === orgId) writeRoles(user, { kind: 'project', id: groupId }, []);
    }
    writeRoles(user, scope, []);
    return { status: 204 };
  };

  /**
   * DELETE {base}/groups/{groupId}/users/{userId} on the v1.0 APIs ("Remove One User from One Project";
   * the docs say no response body). The project's last GROUP_OWNER stays: 403 CANNOT_DELETE_LAST_OWNER
   * (Cloud Manager and older Atlas error catalogues, NOTES.md section 5).
   */
  const removeV1GroupUser = (groupId: string, userId: string): Answer => {
    const scope: AtlasScope = { kind: 'project', id: groupId };
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const user = users.get(userId);
    if (!user) return error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);
    if (!isMember(user, scope)) return notMember(userId, scope);
    const owners = [...users.values()].filter((u) => u.groupRoles.get(groupId)?.has('GROUP_OWNER'));
    if (heldIn(user, scope).has('GROUP_OWNER') && owners.length <= 1) {
      return error(403, 'CANNOT_DELETE_LAST_OWNER', 'Cannot remove the last owner from the group.');
    }
    writeRoles(user, scope, []);
    return { status: 204 };
  };

  /**
   * One page of a list, with the paging of every Atlas list call (spec parameters `itemsPerPage` 1–500,
   * default 100; `pageNum` from 1, default 1; `includeCount`, default true): `results`, `totalCount`
   * and `links` (self, and previous / next where there are such pages). Atlas does not document the
   * errorCode for bad paging values; the simulator answers 400 INVALID_PARAMETER.
   */
  const page = (items: readonly unknown[], path: string, query: URLSearchParams): Answer => {
    const integer = (name: string, fallback: number, min: number, max: number): number | Answer => {
      const raw = query.get(name);
      if (raw === null) return fallback;
      const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      return Number.isInteger(value) && value >= min && value <= max
        ? value
        : error(
            400,
            'INVALID_PARAMETER',
            `Invalid parameter ${name}: ${raw} is not between ${min} and ${max}.`,
            [name],
          );
    };
    const itemsPerPage = integer('itemsPerPage', 100, 1, 500);
    if (typeof itemsPerPage !== 'number') return itemsPerPage;
    const pageNum = integer('pageNum', 1, 1, Number.MAX_SAFE_INTEGER);
    if (typeof pageNum !== 'number') return pageNum;
    const start = (pageNum - 1) * itemsPerPage;
    const results = items.slice(start, start + itemsPerPage);
    const href = (n: number) => {
      const params = new URLSearchParams(query);
      params.set('pageNum', String(n));
      params.set('itemsPerPage', String(itemsPerPage));
      return `${baseUrl}${path}?${params.toString()}`;
    };
    const links = [
      ...(pageNum > 1 ? [{ href: href(pageNum - 1), rel: 'previous' }] : []),
      { href: href(pageNum), rel: 'self' },
      ...(start + itemsPerPage < items.length ? [{ href: href(pageNum + 1), rel: 'next' }] : []),
    ];
    return {
      status: 200,
      body: {
        links,
        results,
        ...(query.get('includeCount') === 'false' ? {} : { totalCount: items.length }),
      },
    };
  };

  /** Which membership states a v2 list asks for (`orgMembershipStatuses`, or the deprecated singular); default ACTIVE and PENDING. */
  const statusesAsked = (query: URLSearchParams): Set<string> | Answer => {
    const many = query.getAll('orgMembershipStatuses');
    const one = query.getAll('orgMembershipStatus');
    if (many.length > 0 && one.length > 0) {
      return error(
        400,
        'INVALID_PARAMETER',
        'orgMembershipStatuses cannot be combined with orgMembershipStatus.',
        ['orgMembershipStatuses'],
      );
    }
    const asked = [...many, ...one];
    const bad = asked.find(
      (s) => !['ACTIVE', 'PENDING', 'INVITATION_EXPIRED', 'INVITATION_REJECTED'].includes(s),
    );
    if (bad !== undefined)
      return error(400, 'INVALID_ENUM_VALUE', `An invalid enumeration value ${bad} was specified.`, [bad]);
    return new Set(asked.length > 0 ? asked : ['ACTIVE', 'PENDING']);
  };

  /** GET /api/atlas/v2/orgs/{orgId}/users and /groups/{groupId}/users (listOrgUsers, listGroupUsers, 2025-02-19). */
  const listV2 = (scope: AtlasScope, path: string, query: URLSearchParams): Answer => {
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const statuses = statusesAsked(query);
    if (!(statuses instanceof Set)) return statuses;
    if (scope.kind === 'project' && query.get('includeOrgUsers') === 'true') {
      // Which roles Atlas shows for implicit access is undocumented: refuse rather than guess.
      return error(400, 'INVALID_PARAMETER', 'includeOrgUsers=true is not simulated.', ['includeOrgUsers']);
    }
    const name = query.get('username')?.toLowerCase();
    const named = (username: string) => name === undefined || username.toLowerCase() === name;
    const active = statuses.has('ACTIVE')
      ? [...users.values()].filter((u) => isMember(u, scope) && named(u.username))
      : [];
    const pending = [...invitations.values()].filter(
      (i) =>
        statuses.has(i.status) &&
        named(i.username) &&
        (scope.kind === 'org' ? i.orgId === scope.id : (i.groupRoles.get(scope.id)?.length ?? 0) > 0),
    );
    const items =
      scope.kind === 'org'
        ? [...active.map((u) => orgUser(u, scope.id)), ...pending.map((i) => pendingOrgUser(i))]
        : [
            ...active.map((u) => groupUser(u, scope.id)),
            ...pending.map((i) => pendingGroupUser(i, scope.id)),
          ];
    return page(items, path, query);
  };

  /** GET {base}/orgs/{id}/users and {base}/groups/{id}/users on the v1.0 APIs: active members as CloudAppUser, every role listed. */
  const listV1 = (scope: AtlasScope, path: string, query: URLSearchParams): Answer => {
    const missing = scopeMissing(scope);
    if (missing) return missing;
    const members = [...users.values()].filter((u) => isMember(u, scope));
    return page(
      members.map((u) => cloudAppUser(u)),
      path,
      query,
    );
  };

  const byNameAnswer = (name: string, headers: Record<string, string> = {}): Answer => {
    // The spec's userName pattern allows lower case only; Atlas usernames are stored that way.
    if (name !== name.toLowerCase()) {
      return error(400, 'INVALID_PARAMETER', `Invalid parameter userName: ${name} is not a valid username.`, [
        'userName',
      ]);
    }
    const user = byUsername(name);
    if (!user) return error(404, 'USERNAME_NOT_FOUND', `No user with username ${name} exists.`, [name]);
    return { status: 200, body: cloudAppUser(user), headers };
  };

  /** getGroup (spec `Group`), or 404 GROUP_NOT_FOUND. */
  const projectAnswer = (groupId: string): Answer => {
    const project = projects.get(groupId);
    if (!project) return error(404, 'GROUP_NOT_FOUND', `No group with ID ${groupId} exists.`, [groupId]);
    return {
      status: 200,
      body: {
        id: project.id,
        name: project.name,
        orgId: project.orgId,
        clusterCount: 0,
        created: new Date(startedAt).toISOString(),
      },
    };
  };

  /** getOrg (spec `AtlasOrganization`), or 404 ORG_NOT_FOUND. */
  const orgAnswer = (orgId: string): Answer => {
    const org = orgs.get(orgId);
    if (!org) return error(404, 'ORG_NOT_FOUND', `No organization with ID ${orgId} exists.`, [orgId]);
    return { status: 200, body: { id: org.id, name: org.name, isDeleted: false, links: [] } };
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/users\/byName\/([^/]+)$/,
      mediaType: V2_2023,
      handle: (m) => byNameAnswer(decodeURIComponent(m[1] as string), { ...DEPRECATED }),
    },
    {
      method: 'PUT',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/users\/([^/]+)\/roles$/,
      mediaType: V2_2023,
      handle: (m, body) => putRoles({ kind: 'org', id: m[1] as string }, m[2] as string, body, 'atlas'),
    },
    {
      method: 'PUT',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/users\/([^/]+)\/roles$/,
      mediaType: V2_2023,
      handle: (m, body) => putRoles({ kind: 'project', id: m[1] as string }, m[2] as string, body, 'atlas'),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/:]+)$/,
      mediaType: V2_2023,
      handle: (m) => projectAnswer(m[1] as string),
    },
    {
      // getOrg (2023-01-01): spec `AtlasOrganization`.
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/:]+)$/,
      mediaType: V2_2023,
      handle: (m) => orgAnswer(m[1] as string),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/users$/,
      mediaType: V2_2025,
      handle: (m, _body, query) => listV2({ kind: 'org', id: m[1] as string }, m[0], query),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/users$/,
      mediaType: V2_2025,
      handle: (m, _body, query) => listV2({ kind: 'project', id: m[1] as string }, m[0], query),
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/users\/([^/:]+)$/,
      mediaType: V2_2025,
      handle: (m) => removeOrgUser(m[1] as string, m[2] as string),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/users\/([^/:]+)$/,
      mediaType: V2_2025,
      handle: (m) => {
        const scope: AtlasScope = { kind: 'org', id: m[1] as string };
        const missing = scopeMissing(scope);
        if (missing) return missing;
        const user = users.get(m[2] as string);
        if (!user && !invitations.has(m[2] as string)) return noSuchUser(m[2] as string);
        return user && isMember(user, scope)
          ? { status: 200, body: orgUser(user, scope.id) }
          : notMember(m[2] as string, scope);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/users\/([^/:]+)$/,
      mediaType: V2_2025,
      handle: (m) => {
        const scope: AtlasScope = { kind: 'project', id: m[1] as string };
        const missing = scopeMissing(scope);
        if (missing) return missing;
        const user = users.get(m[2] as string);
        if (!user && !invitations.has(m[2] as string)) return noSuchUser(m[2] as string);
        return user && isMember(user, scope)
          ? { status: 200, body: groupUser(user, scope.id) }
          : notMember(m[2] as string, scope);
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/atlas\/v2\/(orgs|groups)\/([^/]+)\/users\/([^/:]+):(addRole|removeRole)$/,
      mediaType: V2_2025,
      handle: (m, body) =>
        changeOne(
          { kind: m[1] === 'orgs' ? 'org' : 'project', id: m[2] as string },
          m[3] as string,
          body,
          m[4] as 'addRole' | 'removeRole',
        ),
    },
    {
      method: 'POST',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/users$/,
      mediaType: V2_2025,
      handle: (m, body) => addGroupUser(m[1] as string, body),
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/users\/([^/:]+)$/,
      mediaType: V2_2025,
      handle: (m) => removeGroupUser(m[1] as string, m[2] as string),
    },
    {
      // "Get One Organization" / "Get One Project" on the v1.0 APIs.
      method: 'GET',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/(orgs|groups)\/([^/]+)$/,
      mediaType: JSON_TYPE,
      handle: (m) => (m[1] === 'orgs' ? orgAnswer(m[2] as string) : projectAnswer(m[2] as string)),
    },
    {
      method: 'GET',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/(orgs|groups)\/([^/]+)\/users$/,
      mediaType: JSON_TYPE,
      handle: (m, _body, query) =>
        listV1({ kind: m[1] === 'orgs' ? 'org' : 'project', id: m[2] as string }, m[0], query),
    },
    {
      method: 'DELETE',
      pattern: /^\/api\/(?:public|atlas)\/v1\.0\/groups\/([^/]+)\/users\/([^/]+)$/,
      mediaType: JSON_TYPE,
      handle: (m) => removeV1GroupUser(m[1] as string, m[2] as string),
    },
    {
      method: 'GET',
      pattern: /^\/api\/public\/v1\.0\/users\/byName\/([^/]+)$/,
      mediaType: JSON_TYPE,
      handle: (m) => byNameAnswer(decodeURIComponent(m[1] as string)),
    },
    {
      method: 'PUT',
      pattern: /^\/api\/public\/v1\.0\/(orgs|groups)\/([^/]+)\/users\/([^/]+)\/roles$/,
      mediaType: JSON_TYPE,
      handle: (m, body) =>
        putRoles(
          { kind: m[1] === 'orgs' ? 'org' : 'project', id: m[2] as string },
          m[3] as string,
          body,
          'public',
        ),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v1\.0\/users\/byName\/([^/]+)$/,
      mediaType: JSON_TYPE,
      handle: (m) => byNameAnswer(decodeURIComponent(m[1] as string)),
    },
    {
      method: 'GET',
      pattern: /^\/api\/atlas\/v1\.0\/users\/([a-f0-9]{24})$/,
      mediaType: JSON_TYPE,
      handle: (m) => {
        const user = users.get(m[1] as string);
        return user ? { status: 200, body: cloudAppUser(user) } : noSuchUser(m[1] as string);
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/api\/atlas\/v1\.0\/users\/([a-f0-9]{24})$/,
      mediaType: JSON_TYPE,
      handle: (m, body) => patchV1(m[1] as string, body),
    },
  ];

  /** What the modules (teams, federation, database access) may use of the core simulator. */
  const moduleContext: SimModuleContext = {
    error,
    scopeMissing,
    orgOfProject: (groupId) => projects.get(groupId)?.orgId,
    projectsOf: (orgId) => [...projects.values()].filter((p) => p.orgId === orgId).map((p) => p.id),
    userById: (id) => users.get(id),
    userByUsername: (username) => byUsername(username),
    isMember: (userId, scope) => {
      const user = users.get(userId);
      return user !== undefined && isMember(user, scope);
    },
    setRolesOf: (userId, scope, roles) => {
      const user = users.get(userId);
      if (!user) throw new Error(`no simulated user ${userId}`);
      const before = [...heldIn(user, scope)];
      writeRoles(user, scope, roles);
      return before;
    },
    newId: (prefix) => simulatedId(prefix, nextId++),
    page,
  };
  /** What the teams module reads of the core: the people and invitations, in the spec's shapes. */
  const teamHooks: TeamsSimHooks = {
    orgUserOf: (userId, orgId) => {
      const user = users.get(userId);
      if (user) return orgUser(user, orgId);
      const invitation = invitations.get(userId);
      return invitation ? pendingOrgUser(invitation) : undefined;
    },
    cloudAppUserOf: (userId) => {
      const user = users.get(userId);
      return user ? cloudAppUser(user) : undefined;
    },
    invitationOf: (id) => invitations.get(id),
    invitationFor: (username, orgId) =>
      [...invitations.values()].find(
        (i) => i.orgId === orgId && i.username.toLowerCase() === username.toLowerCase(),
      ),
  };
  const teams = createTeamsModule(moduleContext, teamHooks, options.teams ?? []);
  // Each module keeps its own state; its routes answer after the core's.
  const database = createDatabaseAccessModule(moduleContext, options);
  const moduleFactories: ((context: SimModuleContext) => SimModule)[] = [() => teams, () => database];
  const modules = moduleFactories.map((create) => create(moduleContext));
  // Federation: its control (setRoleMappings, ssoLogin) is the simulator's too.
  const federation = createFederationModule(moduleContext, options.federation ?? []);
  modules.push(federation);
  for (const module of modules) routes.push(...module.routes);

  /** POST /api/oauth/token and /api/oauth/revoke, Basic-authenticated with the service account. */
  const oauth = (path: string, authorization: string | undefined, raw: string): Answer => {
    const [id = '', secret = ''] = Buffer.from((authorization ?? '').replace(/^Basic\s+/i, ''), 'base64')
      .toString('utf8')
      .split(':')
      .map(decodeURIComponent);
    if (!authorization?.startsWith('Basic ') || accounts.get(id) !== secret) {
      return {
        status: 401,
        body: { error: 'invalid_client', error_description: 'Invalid credentials provided.' },
      };
    }
    const form = new URLSearchParams(raw);
    if (path === '/api/oauth/revoke') {
      if (accessTokens.delete(form.get('token') ?? '')) tokenCounts.revoked += 1;
      return { status: 200, body: {} };
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant type.' },
      };
    }
    const token = `sim.${randomBytes(24).toString('base64url')}`;
    const lifetime = options.tokenLifetimeSeconds ?? 3600;
    accessTokens.set(token, Date.now() + lifetime * 1000);
    tokenCounts.issued += 1;
    return { status: 200, body: { access_token: token, expires_in: lifetime, token_type: 'Bearer' } };
  };

  const matches = (i: AtlasInjection & { left: number }, method: string, path: string) =>
    i.left > 0 &&
    (i.untilMs === undefined || Date.now() < i.untilMs) &&
    (i.method === undefined || i.method === method) &&
    (i.path === undefined || i.path.test(path));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const uri = req.url ?? '/';
    const url = new URL(uri, 'http://localhost');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    received.push({ method, path: uri, at: Date.now() });
    const hold = injections.find((i) => i.holdMs !== undefined && matches(i, method, path));
    if (hold) {
      hold.left -= 1;
      await new Promise((resolve) => setTimeout(resolve, hold.holdMs));
    }
    const accept = req.headers.accept;
    const contentType = req.headers['content-type'];
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const authorization = req.headers.authorization;
    let auth: RecordedAtlasCall['auth'] = 'none';
    let answer: Answer | undefined;
    let rateHeaders: Record<string, string> = {};
    let digest: RecordedAtlasCall['digest'];
    let challenged: RecordedAtlasCall['challenge'];
    if (path.startsWith('/api/oauth/')) {
      answer =
        method === 'POST' ? oauth(path, authorization, raw) : error(405, 'METHOD_NOT_ALLOWED', 'POST only.');
    } else {
      const taken = rateLimit(path);
      if ('limited' in taken) answer = taken.limited;
      else rateHeaders = taken.headers;
      if (!answer) {
        let stale = false;
        if (authorization?.startsWith('Bearer ')) {
          auth = verifyBearer(authorization) ? 'bearer' : 'invalid';
        } else if (authorization?.startsWith('Digest ')) {
          const verdict = verifyDigest(authorization, method, uri);
          const p = parseAuthParams(authorization.replace(/^Digest\s+/i, ''));
          digest = { nonce: p.get('nonce') ?? '', nc: p.get('nc') ?? '' };
          auth = verdict === 'digest' ? 'digest' : 'invalid';
          stale = verdict === 'stale';
        }
        const caller = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
        if ((auth === 'digest' || auth === 'bearer') && accessList !== null && !accessList.has(caller)) {
          answer = error(
            403,
            'IP_ADDRESS_NOT_ON_ACCESS_LIST',
            `IP address ${caller} is not allowed to access this resource.`,
            [caller],
          );
        } else if (auth === 'none' || auth === 'invalid') {
          if (authorization?.startsWith('Bearer ')) {
            answer = {
              ...error(401, 'UNAUTHORIZED', 'Invalid or expired access token.'),
              headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
            };
          } else {
            const issued = challenge(stale);
            answer = issued.answer;
            challenged = { nonce: issued.nonce, stale };
          }
        }
      }
    }
    const injection =
      answer === undefined
        ? injections.find((i) => i.holdMs === undefined && matches(i, method, path))
        : undefined;
    if (injection) {
      injection.left -= 1;
      if (injection.delayMs) await new Promise((resolve) => setTimeout(resolve, injection.delayMs));
      if (injection.reset) {
        calls.push({
          method,
          path: uri,
          status: 0,
          auth,
          accept,
          contentType,
          mediaType: contentType ?? accept,
          body,
          response: undefined,
          at: Date.now(),
          ...(digest ? { digest } : {}),
        });
        req.socket.destroy();
        return;
      }
      if (injection.status !== undefined) {
        answer = {
          status: injection.status,
          body: injection.body,
          ...(injection.headers ? { headers: { ...injection.headers } } : {}),
        };
      }
    }
    if (!answer) {
      const route = routes.find((r) => r.method === method && r.pattern.test(path));
      if (!route) {
        answer = error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]);
      } else if (accept !== route.mediaType || (body !== undefined && contentType !== route.mediaType)) {
        answer = error(
          406,
          'NOT_ACCEPTABLE',
          `Invalid accept header or version date: ${accept ?? '(none)'}.`,
        );
      } else {
        answer = route.handle(route.pattern.exec(path) as RegExpExecArray, body, url.searchParams);
        if (answer.status < 300)
          answer = { ...answer, headers: { 'content-type': route.mediaType, ...answer.headers } };
      }
    }
    if (answer.status >= 200 && answer.status < 300) {
      answer = { ...answer, headers: { ...rateHeaders, ...answer.headers } };
    }
    calls.push({
      method,
      path: uri,
      status: answer.status,
      auth,
      accept,
      contentType,
      mediaType: contentType ?? accept,
      body,
      response: answer.body,
      at: Date.now(),
      ...(digest ? { digest } : {}),
      ...(challenged ? { challenge: challenged } : {}),
    });
    if (!res.destroyed) sendJson(res, answer.status, answer.body, answer.headers ?? {});
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) =>
      sendJson(res, 500, { error: 500, errorCode: 'UNEXPECTED_ERROR', detail: String(e) }),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  baseUrl = url;

  return {
    url,
    calls,
    received,
    tokens: tokenCounts,
    authenticatedCalls: () => calls.filter((c) => c.auth === 'digest' || c.auth === 'bearer'),
    rolesOf(username, scope) {
      const user = byUsername(username);
      return user ? [...heldIn(user, scope)] : [];
    },
    seedUsers(count, template) {
      const at = Date.now();
      const prefix = template.usernamePrefix ?? 'member';
      const taken = new Set([...users.values()].map((u) => u.username.toLowerCase()));
      const seeded: SimulatedAtlasUser[] = [];
      for (let n = 1; seeded.length < count; n += 1) {
        const username = `${prefix}${n}@example.com`;
        if (taken.has(username)) continue;
        let id = simulatedId('5e', nextId++);
        while (users.has(id)) id = simulatedId('5e', nextId++);
        const user: SimulatedAtlasUser = {
          id,
          username,
          ...(template.orgRoles ? { orgRoles: template.orgRoles } : {}),
          ...(template.groupRoles ? { groupRoles: template.groupRoles } : {}),
        };
        users.set(id, toState(user));
        initial.set(id, { at, user });
        seeded.push(user);
      }
      return seeded;
    },
    invite: (invitation) => addInvitation(invitation).id,
    invitations: () =>
      [...invitations.values()].map((i) => ({
        id: i.id,
        username: i.username,
        orgId: i.orgId,
        orgRoles: [...i.orgRoles],
        groupRoles: Object.fromEntries([...i.groupRoles].map(([k, v]) => [k, [...v]])),
        status: i.status,
        inviterUsername: i.inviterUsername,
      })),
    setRoles(username, scope, roles) {
      const user = byUsername(username);
      if (!user) throw new Error(`no simulated user ${username}`);
      writeRoles(user, scope, roles);
    },
    timeline(username, scope) {
      const user =
        byUsername(username) ??
        [...deletedUsers.values()].find((u) => u.username.toLowerCase() === username.toLowerCase());
      if (!user) return [];
      const key = `${scope.kind}:${scope.id}`;
      const mine = changes.filter((c) => c.userId === user.id && c.key === key);
      const first = initial.get(user.id);
      const held = scope.kind === 'org' ? first?.user.orgRoles : first?.user.groupRoles;
      const start = [...(held?.[scope.id] ?? [])];
      return [
        { at: first?.at ?? startedAt, roles: start.sort() },
        ...mine.map(({ at, roles }) => ({ at, roles })),
      ];
    },
    deleteProject(groupId) {
      if (!projects.delete(groupId)) throw new Error(`no simulated project ${groupId}`);
      const scope: AtlasScope = { kind: 'project', id: groupId };
      for (const user of users.values()) if (isMember(user, scope)) writeRoles(user, scope, []);
      for (const invitation of invitations.values()) invitation.groupRoles.delete(groupId);
    },
    deleteOrg(orgId) {
      if (!orgs.has(orgId)) throw new Error(`no simulated organization ${orgId}`);
      if ([...projects.values()].some((p) => p.orgId === orgId)) {
        throw new Error(
          `409 ORG_NOT_EMPTY: Organization cannot be deleted because it still contains active groups (${orgId}).`,
        );
      }
      orgs.delete(orgId);
      teams.dropOrg(orgId);
      const scope: AtlasScope = { kind: 'org', id: orgId };
      for (const user of users.values()) if (isMember(user, scope)) writeRoles(user, scope, []);
      for (const [id, invitation] of invitations) if (invitation.orgId === orgId) invitations.delete(id);
    },
    deleteUser(username) {
      const user = byUsername(username);
      if (!user) throw new Error(`no simulated user ${username}`);
      for (const orgId of [...user.orgRoles.keys()]) writeRoles(user, { kind: 'org', id: orgId }, []);
      for (const groupId of [...user.groupRoles.keys()])
        writeRoles(user, { kind: 'project', id: groupId }, []);
      users.delete(user.id);
      deletedUsers.set(user.id, user);
    },
    restrictApiAccess(allowed) {
      accessList = allowed === null ? null : new Set(allowed);
    },
    expireNonces() {
      for (const nonce of nonces.values()) nonce.expired = true;
    },
    setBucketTokens(path, tokens) {
      const bucket = bucketOf(path);
      if (!bucket) throw new Error('setBucketTokens needs the rateLimits option');
      buckets.set(bucket.key, { tokens: Math.min(bucket.config.capacity, tokens), at: Date.now() });
    },
    teamMembers: (teamId) => teams.teamMembers(teamId),
    setTeamMembers: (teamId, usernames) => teams.setTeamMembers(teamId, usernames),
    renameTeam: (teamId, name) => teams.renameTeam(teamId, name),
    teamTimeline: (teamId, username) => teams.teamTimeline(teamId, username),
    setRoleMappings: (orgId, mappings) => federation.setRoleMappings(orgId, mappings),
    ssoLogin: (username, orgId, idpGroups) => federation.ssoLogin(username, orgId, idpGroups),
    inject: (injection) =>
      injections.push({
        ...injection,
        left: injection.times ?? (injection.untilMs === undefined ? 1 : Number.POSITIVE_INFINITY),
      }),
    ...database.control,
    close: () =>
      new Promise((resolve) => {
        database.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
