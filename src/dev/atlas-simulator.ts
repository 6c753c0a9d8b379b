import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAuthParams } from '../atlas/digest.js';
import { ATLAS_ORG_ROLES, ATLAS_PROJECT_ROLES } from '../atlas/role-names.js';
import { readBody, sendJson } from './http-util.js';

/** A user in the simulated Atlas, with roles per org and per project. */
export interface SimulatedAtlasUser {
  readonly id: string;
  readonly username: string;
  readonly orgRoles?: Readonly<Record<string, readonly string[]>>;
  readonly groupRoles?: Readonly<Record<string, readonly string[]>>;
}

/** Options for {@link startAtlasSimulator}. */
export interface AtlasSimulatorOptions {
  readonly apiKeys: readonly { readonly publicKey: string; readonly privateKey: string }[];
  readonly orgs: readonly { readonly id: string; readonly name: string }[];
  readonly projects: readonly { readonly id: string; readonly name: string; readonly orgId: string }[];
  readonly users: readonly SimulatedAtlasUser[];
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
}

/** One HTTP exchange as the simulator saw it (challenge round trips included, marked `auth: 'none'`). */
export interface RecordedAtlasCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly auth: 'none' | 'digest' | 'invalid';
  readonly mediaType: string | undefined;
  readonly body: unknown;
  readonly at: number;
}

/** A scripted answer for the next matching calls, checked before anything else. */
export interface AtlasInjection {
  readonly method?: string;
  /** Matches the path (without query). */
  readonly path?: RegExp;
  /** @defaultValue 1 */
  readonly times?: number;
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A scope in the simulated Atlas. */
export interface SimulatedScope {
  readonly kind: 'org' | 'project';
  readonly id: string;
}

/** A local stand-in for the Atlas Admin API: real Digest, media-type checks, per-user role state. */
export interface AtlasSimulator {
  /** Base URL to use as ATLAS_BASE_URL. */
  readonly url: string;
  readonly calls: readonly RecordedAtlasCall[];
  /** Authenticated calls only (what the client really did), in order. */
  authenticatedCalls(): RecordedAtlasCall[];
  rolesOf(username: string, scope: SimulatedScope): string[];
  setRoles(username: string, scope: SimulatedScope, roles: readonly string[]): void;
  inject(injection: AtlasInjection): void;
  close(): Promise<void>;
}

const REALM = 'MMS Public API';
const V2_2023 = 'application/vnd.atlas.2023-01-01+json';
const SUNSET = 'Thu, 01 Jul 2027 00:00:00 GMT';

interface UserState {
  id: string;
  username: string;
  orgRoles: Map<string, Set<string>>;
  groupRoles: Map<string, Set<string>>;
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

/** Starts the Atlas simulator on a local port. */
export async function startAtlasSimulator(options: AtlasSimulatorOptions): Promise<AtlasSimulator> {
  const keys = new Map(options.apiKeys.map((k) => [k.publicKey, k.privateKey]));
  const orgs = new Map(options.orgs.map((o) => [o.id, o]));
  const projects = new Map(options.projects.map((p) => [p.id, p]));
  const users = new Map<string, UserState>(
    options.users.map((u) => [
      u.id,
      {
        id: u.id,
        username: u.username,
        orgRoles: new Map(Object.entries(u.orgRoles ?? {}).map(([k, v]) => [k, new Set(v)])),
        groupRoles: new Map(Object.entries(u.groupRoles ?? {}).map(([k, v]) => [k, new Set(v)])),
      },
    ]),
  );
  const nonces = new Map<string, { issuedAt: number; lastNc: number }>();
  const calls: RecordedAtlasCall[] = [];
  const injections: (AtlasInjection & { left: number })[] = [];

  const error = (status: number, errorCode: string, detail: string, parameters: unknown[] = []): Answer => ({
    status,
    body: { detail, error: status, errorCode, parameters, reason: REASONS[status] ?? 'Error' },
  });
  const byUsername = (name: string) =>
    [...users.values()].find((u) => u.username.toLowerCase() === name.toLowerCase());
  const rolesMap = (user: UserState, scope: SimulatedScope) =>
    scope.kind === 'org' ? user.orgRoles : user.groupRoles;

  const challenge = (): Answer => {
    const nonce = randomBytes(24).toString('base64');
    nonces.set(nonce, { issuedAt: Date.now(), lastNc: 0 });
    return {
      ...error(401, 'UNAUTHORIZED', 'You are not authorized for this resource.'),
      headers: {
        'www-authenticate': `Digest realm="${REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=false`,
      },
    };
  };

  /** Checks a Digest Authorization header the way a server must (RFC 7616 section 3.4). */
  const verifyDigest = (header: string, method: string, uri: string): boolean => {
    if (!/^Digest\s/i.test(header)) return false;
    const p = parseAuthParams(header.replace(/^Digest\s+/i, ''));
    const username = p.get('username') ?? '';
    const password = keys.get(username);
    const nonce = nonces.get(p.get('nonce') ?? '');
    const nc = Number.parseInt(p.get('nc') ?? '', 16);
    const algorithm = (p.get('algorithm') ?? 'MD5').toUpperCase();
    if (password === undefined || !nonce || Date.now() - nonce.issuedAt > 60_000) return false;
    if (p.get('uri') !== uri || p.get('realm') !== REALM || p.get('qop') !== 'auth') return false;
    if (!Number.isInteger(nc) || nc <= nonce.lastNc) return false;
    const hashName = algorithm === 'SHA-256' ? 'sha256' : algorithm === 'MD5' ? 'md5' : undefined;
    if (!hashName) return false;
    const h = (s: string) => createHash(hashName).update(s).digest('hex');
    const expected = h(
      `${h(`${username}:${REALM}:${password}`)}:${p.get('nonce')}:${p.get('nc')}:${p.get('cnonce')}:auth:${h(`${method}:${uri}`)}`,
    );
    if (expected !== p.get('response')) return false;
    nonce.lastNc = nc;
    return true;
  };

  const checkRoles = (scope: SimulatedScope, roles: unknown, scopeName: string): Answer | string[] => {
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')) {
      return error(400, 'INVALID_JSON_ATTRIBUTE', 'Roles must be an array of strings.');
    }
    const allowed: readonly string[] = scope.kind === 'org' ? ATLAS_ORG_ROLES : ATLAS_PROJECT_ROLES;
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
    if (new Set(roles).size !== roles.length)
      return error(400, 'VALIDATION_ERROR', `Duplicate roles for ${scopeName}.`);
    return roles as string[];
  };

  const putRoles = (scope: SimulatedScope, userId: string, body: unknown): Answer => {
    const field = scope.kind === 'org' ? 'orgRoles' : 'groupRoles';
    const exists = scope.kind === 'org' ? orgs.has(scope.id) : projects.has(scope.id);
    if (!exists) {
      return scope.kind === 'org'
        ? error(404, 'ORG_NOT_FOUND', `No organization with ID ${scope.id} exists.`, [scope.id])
        : error(404, 'GROUP_NOT_FOUND', `No group with ID ${scope.id} exists.`, [scope.id]);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return error(400, 'INVALID_JSON', 'The request body must be a JSON object.');
    }
    const unknown = Object.keys(body).filter((k) => k !== field && k !== 'links');
    if (unknown.length > 0)
      return error(400, 'INVALID_ATTRIBUTE', `Invalid attribute ${unknown[0]} specified.`, [unknown[0]]);
    const user = users.get(userId);
    if (!user) return error(404, 'USER_NOT_FOUND', `No user with ID ${userId} exists.`, [userId]);
    const current = rolesMap(user, scope).get(scope.id);
    if (!current || current.size === 0) {
      return scope.kind === 'org'
        ? error(404, 'USER_NOT_IN_ORG', `User ${userId} is not in organization ${scope.id}.`, [
            userId,
            scope.id,
          ])
        : error(404, 'USER_NOT_IN_GROUP', `User ${userId} is not in group ${scope.id}.`, [userId, scope.id]);
    }
    const roles = checkRoles(scope, (body as Record<string, unknown>)[field], scope.id);
    if (!Array.isArray(roles)) return roles;
    if (scope.kind === 'org' && current.has('ORG_OWNER') && !roles.includes('ORG_OWNER')) {
      const owners = [...users.values()].filter((u) => u.orgRoles.get(scope.id)?.has('ORG_OWNER'));
      if (owners.length <= 1) {
        return error(
          403,
          'CANNOT_DEMOTE_LAST_ORG_OWNER',
          'Cannot demote the last owner of the organization.',
        );
      }
    }
    rolesMap(user, scope).set(scope.id, new Set(roles));
    return {
      status: 200,
      body: { [field]: roles },
      headers: { deprecation: '@1767225600', sunset: SUNSET, 'content-type': V2_2023 },
    };
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
    links: [],
  });

  const route = (method: string, path: string, body: unknown): Answer => {
    let m = /^\/api\/atlas\/v2\/users\/byName\/([^/]+)$/.exec(path);
    if (m && method === 'GET') {
      const name = decodeURIComponent(m[1] as string);
      const user = byUsername(name);
      if (!user) return error(404, 'USERNAME_NOT_FOUND', `No user with username ${name} exists.`, [name]);
      return {
        status: 200,
        body: cloudAppUser(user),
        headers: { deprecation: '@1767225600', sunset: SUNSET },
      };
    }
    m = /^\/api\/atlas\/v2\/orgs\/([^/]+)\/users\/([^/]+)\/roles$/.exec(path);
    if (m && method === 'PUT') return putRoles({ kind: 'org', id: m[1] as string }, m[2] as string, body);
    m = /^\/api\/atlas\/v2\/groups\/([^/]+)\/users\/([^/]+)\/roles$/.exec(path);
    if (m && method === 'PUT') return putRoles({ kind: 'project', id: m[1] as string }, m[2] as string, body);
    return error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const uri = req.url ?? '/';
    const path = new URL(uri, 'http://localhost').pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = await readBody(req);
    let body: unknown;
    let answer: Answer;
    let auth: RecordedAtlasCall['auth'] = 'none';
    const authorization = req.headers.authorization;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const injection = injections.find(
      (i) =>
        i.left > 0 &&
        (i.method === undefined || i.method === method) &&
        (i.path === undefined || i.path.test(path)),
    );
    if (authorization === undefined) {
      answer = challenge();
    } else if (!verifyDigest(authorization, method, uri)) {
      auth = 'invalid';
      answer = challenge();
    } else {
      auth = 'digest';
      const accept = req.headers.accept;
      const contentType = req.headers['content-type'];
      if (injection) {
        injection.left -= 1;
        answer = {
          status: injection.status,
          body: injection.body,
          ...(injection.headers ? { headers: { ...injection.headers } } : {}),
        };
      } else if (accept !== V2_2023 || (body !== undefined && contentType !== V2_2023)) {
        answer = error(
          406,
          'NOT_ACCEPTABLE',
          `Invalid accept header or version date: ${accept ?? '(none)'}.`,
        );
      } else {
        answer = route(method, path, body);
      }
    }
    calls.push({
      method,
      path: uri,
      status: answer.status,
      auth,
      mediaType: req.headers['content-type'] ?? req.headers.accept,
      body,
      at: Date.now(),
    });
    const ok = answer.status < 400;
    sendJson(res, answer.status, answer.body, {
      ...(ok ? { 'content-type': V2_2023 } : {}),
      ...answer.headers,
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) =>
      sendJson(res, 500, { error: 500, errorCode: 'UNEXPECTED_ERROR', detail: String(e) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    calls,
    authenticatedCalls: () => calls.filter((c) => c.auth !== 'none'),
    rolesOf(username, scope) {
      const user = byUsername(username);
      return user ? [...(rolesMap(user, scope).get(scope.id) ?? [])] : [];
    },
    setRoles(username, scope, roles) {
      const user = byUsername(username);
      if (!user) throw new Error(`no simulated user ${username}`);
      rolesMap(user, scope).set(scope.id, new Set(roles));
    },
    inject: (injection) => injections.push({ ...injection, left: injection.times ?? 1 }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

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
