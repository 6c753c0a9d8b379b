import { describe, expect, it } from 'vitest';
import {
  buildDigestAuthorization,
  computeDigestResponse,
  createDigestSession,
  type DigestChallenge,
  parseAuthParams,
  parseDigestChallenge,
} from '../../src/atlas/digest.js';
import { defined } from '../support/defined.js';

// RFC 7616 section 3.9.1: the worked example for MD5 and SHA-256.
const RFC_CHALLENGE = (algorithm: string) =>
  `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
const RFC_INPUT = {
  username: 'Mufasa',
  password: 'Circle of Life',
  method: 'GET',
  uri: '/dir/index.html',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: 1,
};

describe('digest', () => {
  it('computes the RFC 7616 MD5 example response', () => {
    const challenge = parseDigestChallenge(RFC_CHALLENGE('MD5'));
    expect(challenge).toBeDefined();
    expect(computeDigestResponse({ ...RFC_INPUT, challenge: defined(challenge) })).toBe(
      '8ca523f5e9506fed4657c9700eebdbec',
    );
  });

  it('computes the RFC 7616 SHA-256 example response', () => {
    const challenge = parseDigestChallenge(RFC_CHALLENGE('SHA-256'));
    expect(computeDigestResponse({ ...RFC_INPUT, challenge: defined(challenge) })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('parses the challenge Atlas sends, defaulting to MD5 and qop=auth', () => {
    expect(
      parseDigestChallenge(
        'Digest realm="MMS Public API", domain="", nonce="abc/def+==", algorithm=MD5, qop="auth", stale=false',
      ),
    ).toEqual({
      realm: 'MMS Public API',
      nonce: 'abc/def+==',
      algorithm: 'MD5',
      qop: 'auth',
      opaque: undefined,
      stale: false,
    });
    expect(parseDigestChallenge('Digest realm="r", nonce="n"')?.algorithm).toBe('MD5');
  });

  it('refuses challenges it cannot answer', () => {
    expect(parseDigestChallenge('Basic realm="x"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", qop="auth-int"')).toBeUndefined();
    expect(parseDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-512-256')).toBeUndefined();
  });

  it('keeps commas and escaped quotes inside quoted values', () => {
    const params = parseAuthParams('a="x, y", b=plain, c="say \\"hi\\""');
    expect(params.get('a')).toBe('x, y');
    expect(params.get('b')).toBe('plain');
    expect(params.get('c')).toBe('say "hi"');
  });

  it('builds an Authorization header in the field order Atlas clients use', () => {
    const challenge = defined(parseDigestChallenge(RFC_CHALLENGE('MD5')));
    expect(buildDigestAuthorization({ ...RFC_INPUT, challenge })).toBe(
      'Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri="/dir/index.html", response="8ca523f5e9506fed4657c9700eebdbec", algorithm=MD5, opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", qop=auth, nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"',
    );
  });
});

const challengeWith = (nonce: string, stale = false): DigestChallenge => ({
  realm: 'MMS Public API',
  nonce,
  algorithm: 'MD5',
  qop: 'auth',
  opaque: undefined,
  stale,
});

describe('digest session', () => {
  const credentials = { username: RFC_INPUT.username, password: RFC_INPUT.password };

  it('signs nothing before it has a nonce', () => {
    expect(createDigestSession(credentials).sign('GET', '/a')).toBeUndefined();
  });

  it('counts nc up from 00000001 on one nonce, with a fresh cnonce each time, when it signs request after request', () => {
    const session = createDigestSession(credentials);
    session.accept(challengeWith('n1'));
    const signed = Array.from({ length: 5 }, (_, i) => defined(session.sign('GET', `/a/${i}`)));
    expect(signed.map((s) => [s.nonce, s.nc])).toEqual([
      ['n1', 1],
      ['n1', 2],
      ['n1', 3],
      ['n1', 4],
      ['n1', 5],
    ]);
    expect(new Set(signed.map((s) => s.cnonce)).size).toBe(5);
    expect(signed[2]?.authorization).toContain('nc=00000003');
    // Each header is the RFC 7616 response for exactly that nc and cnonce.
    const third = defined(signed[2]);
    expect(third.authorization).toContain(
      `response="${computeDigestResponse({ ...credentials, method: 'GET', uri: '/a/2', challenge: challengeWith('n1'), cnonce: third.cnonce, nc: 3 })}"`,
    );
  });

  it('starts nc over at 1 when a new challenge brings a new nonce, and keeps counting when the same nonce comes again', () => {
    const session = createDigestSession(credentials);
    session.accept(challengeWith('n1'));
    session.sign('GET', '/a');
    session.sign('GET', '/a');
    session.accept(challengeWith('n2', true));
    expect(defined(session.sign('GET', '/a'))).toMatchObject({ nonce: 'n2', nc: 1 });
    session.accept(challengeWith('n2'));
    expect(defined(session.sign('GET', '/a'))).toMatchObject({ nonce: 'n2', nc: 2 });
    session.accept(challengeWith('n1'));
    expect(defined(session.sign('GET', '/a'))).toMatchObject({ nonce: 'n1', nc: 3 });
  });

  it('gives concurrent signers distinct counts, and a resend with its own challenge does not move the cached nonce', () => {
    const session = createDigestSession(credentials);
    session.accept(challengeWith('n1'));
    const first = defined(session.sign('GET', '/a'));
    const resend = session.signWith(challengeWith('n9', true), 'GET', '/a');
    const second = defined(session.sign('GET', '/a'));
    expect([first.nc, second.nc, second.nonce]).toEqual([1, 2, 'n1']);
    expect(resend).toMatchObject({ nonce: 'n9', nc: 1 });
    expect(session.signWith(challengeWith('n9'), 'GET', '/a').nc).toBe(2);
  });

  it('tells a nonce one request used alone from one others signed with too', () => {
    const session = createDigestSession(credentials);
    session.accept(challengeWith('n1'));
    const alone = defined(session.sign('GET', '/a'));
    expect(session.usedAlone(alone)).toBe(true);
    const next = defined(session.sign('GET', '/a'));
    expect(session.usedAlone(alone)).toBe(false);
    expect(session.usedAlone(next)).toBe(false);
  });

  it('runs one handshake at a time: callers that arrive while it runs wait for it and get nothing back', async () => {
    const session = createDigestSession(credentials);
    let runs = 0;
    let finish: (value: string) => void = () => undefined;
    const run = () => {
      runs += 1;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    };
    const leader = session.handshake(run);
    const waiters = Array.from({ length: 5 }, () => session.handshake(run));
    finish('challenge');
    expect(await leader).toEqual({ value: 'challenge' });
    expect(await Promise.all(waiters)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(runs).toBe(1);
    // Once it is over, the next caller leads a new one.
    expect(await session.handshake(async () => 'second')).toEqual({ value: 'second' });
  });

  it('lets waiters go when the handshake fails, and hands the failure to its leader only', async () => {
    const session = createDigestSession(credentials);
    const leader = session.handshake(() => Promise.reject(new Error('reset')));
    const waiter = session.handshake(async () => 'never');
    await expect(leader).rejects.toThrow('reset');
    await expect(waiter).resolves.toBeUndefined();
  });
});
