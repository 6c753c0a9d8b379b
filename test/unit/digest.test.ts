import { describe, expect, it } from 'vitest';
import {
  buildDigestAuthorization,
  computeDigestResponse,
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
