import { createHash, randomBytes } from 'node:crypto';

/** Hash algorithms Rolecall can answer a Digest challenge with (RFC 7616 section 3.3). */
export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** The parameters of a `WWW-Authenticate: Digest ...` challenge. */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm: DigestAlgorithm;
  readonly qop: 'auth';
  readonly opaque: string | undefined;
  readonly stale: boolean;
}

/** Everything needed to compute one Digest `response` value. */
export interface DigestInput {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  /** The request-target exactly as sent: path plus query. */
  readonly uri: string;
  readonly challenge: DigestChallenge;
  readonly cnonce: string;
  /** Nonce count, 1 for the first use of a nonce. */
  readonly nc: number;
}

const HASH_NAMES: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

/** Splits an auth-param list (`a="x, y", b=z`) into a map, honouring quoted strings and escapes. */
export function parseAuthParams(text: string): Map<string, string> {
  const params = new Map<string, string>();
  const pattern = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/y;
  let match = pattern.exec(text);
  while (match !== null && match[0] !== '') {
    const key = (match[1] as string).toLowerCase();
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
    params.set(key, value);
    match = pattern.exec(text);
  }
  return params;
}

/** Reads a Digest challenge; undefined when the header is not one Rolecall can answer. */
export function parseDigestChallenge(header: string): DigestChallenge | undefined {
  const scheme = /^\s*Digest\s+/i.exec(header);
  if (!scheme) return undefined;
  const params = parseAuthParams(header.slice(scheme[0].length));
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) return undefined;
  const algorithmName = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithmName !== 'MD5' && algorithmName !== 'SHA-256') return undefined;
  const qops = (params.get('qop') ?? 'auth').split(',').map((q) => q.trim().toLowerCase());
  if (!qops.includes('auth')) return undefined;
  return {
    realm,
    nonce,
    algorithm: algorithmName,
    qop: 'auth',
    opaque: params.get('opaque'),
    stale: (params.get('stale') ?? 'false').toLowerCase() === 'true',
  };
}

/** Computes the `response` value of RFC 7616 section 3.4.1 for qop=auth. */
export function computeDigestResponse(input: DigestInput): string {
  const h = (value: string) =>
    createHash(HASH_NAMES[input.challenge.algorithm]).update(value, 'utf8').digest('hex');
  const ha1 = h(`${input.username}:${input.challenge.realm}:${input.password}`);
  const ha2 = h(`${input.method.toUpperCase()}:${input.uri}`);
  return h(`${ha1}:${input.challenge.nonce}:${formatNonceCount(input.nc)}:${input.cnonce}:auth:${ha2}`);
}

/** Builds the `Authorization: Digest ...` header value for one request. */
export function buildDigestAuthorization(input: DigestInput): string {
  const { challenge } = input;
  const quoted = (value: string) => `"${value.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [
    `username=${quoted(input.username)}`,
    `realm=${quoted(challenge.realm)}`,
    `nonce=${quoted(challenge.nonce)}`,
    `uri=${quoted(input.uri)}`,
    `response=${quoted(computeDigestResponse(input))}`,
    `algorithm=${challenge.algorithm}`,
    ...(challenge.opaque === undefined ? [] : [`opaque=${quoted(challenge.opaque)}`]),
    'qop=auth',
    `nc=${formatNonceCount(input.nc)}`,
    `cnonce=${quoted(input.cnonce)}`,
  ];
  return `Digest ${parts.join(', ')}`;
}

/** A fresh client nonce: 16 hex characters from 8 random bytes. */
export function createCnonce(): string {
  return randomBytes(8).toString('hex');
}

/** `nc` as 8 lowercase hex digits. */
export function formatNonceCount(nc: number): string {
  return nc.toString(16).padStart(8, '0');
}

/** The largest `nc` 8 hex digits hold; a nonce used that often is dropped for a new handshake. */
const MAX_NONCE_COUNT = 0xffffffff;
/** How many nonces keep their count: the current one and those of recent resends. */
const COUNTED_NONCES = 32;

/** One signed request: its Authorization header, and the nonce and count it used. */
export interface DigestSigned {
  readonly authorization: string;
  readonly nonce: string;
  readonly nc: number;
  readonly cnonce: string;
}

/**
 * One client's Digest state, so that a nonce serves many requests (RFC 7616 section 3.4: the same
 * nonce with an increasing nc and a fresh cnonce) instead of a challenge per request.
 */
export interface DigestSession {
  /** Signs a request with the cached nonce (the next nc, a fresh cnonce); undefined when there is none. */
  sign(method: string, uri: string): DigestSigned | undefined;
  /** Signs a request with `challenge`'s nonce (the next nc for that nonce), without caching it. */
  signWith(challenge: DigestChallenge, method: string, uri: string): DigestSigned;
  /** Caches `challenge`'s nonce for the requests that follow; a nonce seen before keeps its count. */
  accept(challenge: DigestChallenge): void;
  /** True when no other request signed with `signed`'s nonce: its 401 cannot be a neighbour's doing. */
  usedAlone(signed: DigestSigned): boolean;
  /**
   * Runs `run` (the request whose 401 brings a challenge) unless another caller's is under way, in
   * which case it waits for that one and resolves undefined: concurrent first calls share one challenge.
   */
  handshake<T>(run: () => Promise<T>): Promise<{ readonly value: T } | undefined>;
}

/** Creates the Digest session of one client (one API key). */
export function createDigestSession(credentials: {
  readonly username: string;
  readonly password: string;
}): DigestSession {
  let current: DigestChallenge | undefined;
  // The last nc given out per nonce, oldest first; bounded, and never dropping the current nonce.
  const counts = new Map<string, number>();
  let running: Promise<unknown> | undefined;

  const nextCount = (nonce: string): number => {
    const nc = (counts.get(nonce) ?? 0) + 1;
    counts.delete(nonce);
    counts.set(nonce, nc);
    if (counts.size > COUNTED_NONCES) {
      const oldest = [...counts.keys()].find((n) => n !== current?.nonce);
      if (oldest !== undefined) counts.delete(oldest);
    }
    return nc;
  };

  const signWith = (challenge: DigestChallenge, method: string, uri: string): DigestSigned => {
    const nc = nextCount(challenge.nonce);
    const cnonce = createCnonce();
    const authorization = buildDigestAuthorization({ ...credentials, method, uri, challenge, cnonce, nc });
    return { authorization, nonce: challenge.nonce, nc, cnonce };
  };

  return {
    sign(method, uri) {
      if (current && (counts.get(current.nonce) ?? 0) >= MAX_NONCE_COUNT) current = undefined;
      return current && signWith(current, method, uri);
    },
    signWith,
    accept(challenge) {
      current = challenge;
    },
    usedAlone: (signed) => signed.nc === 1 && counts.get(signed.nonce) === 1,
    async handshake<T>(run: () => Promise<T>) {
      if (running) {
        await running.catch(() => undefined);
        return undefined;
      }
      const mine = run();
      running = mine;
      try {
        return { value: await mine };
      } finally {
        if (running === mine) running = undefined;
      }
    },
  };
}
