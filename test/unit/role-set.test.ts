import { describe, expect, it } from 'vitest';
import { rolesAfterGrant, rolesAfterRevoke, rolesToAdd, sameRoles } from '../../src/requests/role-set.js';

describe('role-set', () => {
  it('adds only roles not already held', () => {
    expect(rolesToAdd(['GROUP_READ_ONLY'], ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'])).toEqual([
      'GROUP_DATA_ACCESS_READ_ONLY',
    ]);
  });

  it('adds nothing when every role is held', () => {
    expect(rolesToAdd(['A', 'B'], ['B', 'A'])).toEqual([]);
  });

  it('keeps existing roles first after a grant', () => {
    expect(rolesAfterGrant(['B', 'A'], ['C'])).toEqual(['B', 'A', 'C']);
  });

  it('revokes exactly the added roles and keeps roles granted by others meanwhile', () => {
    expect(rolesAfterRevoke(['A', 'C', 'D'], ['C'])).toEqual(['A', 'D']);
  });

  it('does not fail when an added role was already removed by someone else', () => {
    expect(rolesAfterRevoke(['A'], ['C'])).toEqual(['A']);
  });

  it('compares role sets regardless of order and duplicates', () => {
    expect(sameRoles(['A', 'B'], ['B', 'A', 'A'])).toBe(true);
    expect(sameRoles(['A'], ['A', 'B'])).toBe(false);
  });
});
