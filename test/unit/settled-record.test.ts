import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { readStoredHash } from '../../src/requests/request-codec.js';
import { chunksOf, compressSettled, expandSettled, joinChunks } from '../../src/requests/settled-record.js';

/** A packed field as the write script makes it: field -> the field's JSON text. */
const PACKED = JSON.stringify({
  requesterId: '"U0ALICE"',
  granteeId: '"U0ALICE"',
  target: '{"name":"payments-prod","kind":"project","id":"5f1a2b3c4d5e6f7a8b9c0d1e"}',
  roles: '["GROUP_DATA_ACCESS_READ_ONLY"]',
  reason: '"incident \\"42\\" ✓"',
  createdAt: '1796657304721',
  attempt: '1',
  trail: '[{"at":"1796657304722","actor":"U0ALICE","to":"submitted","detail":"requested"}]',
  // Fields this release does not know (another release's): kept as they are.
  startsAt: '1796660000000',
  bundle: '{"name":"on-call","items":["GROUP_READ_ONLY"]}',
});

describe('settled records', () => {
  it('compresses a packed field and expands it back to the same fields and values, unknown fields included', () => {
    const z = compressSettled(PACKED);
    expect(z.length).toBeLessThan(PACKED.length / 2);
    const expanded = JSON.parse(expandSettled('AR-0001', z)) as Record<string, string>;
    const original = JSON.parse(PACKED) as Record<string, string>;
    expect(Object.keys(expanded).sort()).toEqual(Object.keys(original).sort());
    for (const [field, text] of Object.entries(original)) {
      expect(JSON.parse(expanded[field] ?? 'undefined')).toEqual(JSON.parse(text));
    }
  });

  it('stores z in hash fields of at most 64 bytes (Redis keeps such a hash compact) and puts it back together', () => {
    const z = compressSettled(PACKED);
    const chunks = chunksOf(z);
    expect(Object.keys(chunks)).toEqual(Array.from({ length: Math.ceil(z.length / 64) }, (_, i) => `z${i}`));
    expect(Object.values(chunks).every((chunk) => chunk.length <= 64)).toBe(true);
    expect(joinChunks({ state: Buffer.from('revoked'), ...chunks })?.equals(z)).toBe(true);
    expect(joinChunks({ state: Buffer.from('revoked') })).toBeUndefined();
  });

  it('reads a compressed hash as the packed one it came from', () => {
    const hash = readStoredHash('AR-0001', {
      state: Buffer.from('revoked'),
      schema: Buffer.from('4'),
      ...chunksOf(compressSettled(PACKED)),
    });
    expect(Object.keys(hash).sort()).toEqual(['packed', 'schema', 'state']);
    expect(JSON.parse(hash.packed ?? '{}')).toMatchObject({ requesterId: '"U0ALICE"', attempt: '1' });
  });

  it('refuses, in words, a record compressed in a format a newer release wrote', () => {
    const z = compressSettled(PACKED);
    z[0] = 9;
    const error = (() => {
      try {
        return expandSettled('AR-0001', z);
      } catch (caught) {
        return caught;
      }
    })();
    expect(isAppError(error, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('AR-0001 was compressed by a newer Rolecall (format 9)');
  });
});
