import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import { invalidRoles } from '../../src/atlas/validate.js';
import { isAppError } from '../../src/errors.js';
import { AUTHS, FIXTURE, fixtureClient, startFixtureSimulator } from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

describe('validation before any Atlas call', () => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
  });

  afterEach(async () => {
    expect(simulator.calls).toEqual([]);
    await simulator.close();
  });

  it('refuses ids that are not 24 hex characters', async () => {
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.digest);
    const badOrg = await appErrorOf(() =>
      client.roles.readUser(FIXTURE.alice.email, { kind: 'org', id: 'acme' }),
    );
    expect(badOrg.message).toBe('orgId "acme" is not a 24-character hex Atlas id.');
    const badUser = await appErrorOf(() =>
      client.roles.setRoles({ kind: 'project', id: FIXTURE.project }, '../../admin', [], ['GROUP_READ_ONLY']),
    );
    expect(badUser.code).toBe('ATLAS_INVALID_INPUT');
    await client.close();
  });

  it('refuses roles the flavor does not have in that scope', async () => {
    const om = fixtureClient(simulator, 'ops-manager', AUTHS.digest);
    const error = await appErrorOf(() =>
      om.roles.setRoles(
        { kind: 'org', id: FIXTURE.org },
        FIXTURE.alice.id,
        ['ORG_MEMBER'],
        ['ORG_MEMBER', 'ORG_BILLING_ADMIN'],
      ),
    );
    expect(error.message).toBe(
      'ORG_BILLING_ADMIN is not an organization role of ops-manager (accepted: ORG_MEMBER, ORG_READ_ONLY, ORG_GROUP_CREATOR, ORG_OWNER).',
    );
    const atlas = fixtureClient(simulator, 'atlas-v2', AUTHS.digest);
    await expect(
      atlas.roles.setRoles(
        { kind: 'project', id: FIXTURE.project },
        FIXTURE.alice.id,
        [],
        ['group_read_only'],
      ),
    ).rejects.toSatisfy((e: unknown) => isAppError(e, 'ATLAS_INVALID_INPUT'));
    await om.close();
    await atlas.close();
  });

  it('never leaves a user with zero roles in a scope', async () => {
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const error = await appErrorOf(() =>
      client.roles.setRoles(
        { kind: 'project', id: FIXTURE.project },
        FIXTURE.alice.id,
        ['GROUP_READ_ONLY'],
        [],
      ),
    );
    expect(error.code).toBe('WOULD_REMOVE_ALL_ROLES');
    expect(error.message).toContain('Remove the user from it in Atlas instead');
    await client.close();
  });
});

describe('role names per flavor', () => {
  it('accepts any GROUP_ role on Atlas and only the documented ones on Cloud and Ops Manager', () => {
    expect(invalidRoles('atlas-v2', 'project', ['GROUP_SOMETHING_NEW', 'ORG_OWNER'])).toEqual(['ORG_OWNER']);
    expect(
      invalidRoles('cloud-manager', 'project', ['GROUP_AUTOMATION_ADMIN', 'GROUP_CLUSTER_MANAGER']),
    ).toEqual(['GROUP_CLUSTER_MANAGER']);
    expect(invalidRoles('atlas-v2', 'org', ['ORG_STREAM_PROCESSING_ADMIN'])).toEqual([]);
    expect(
      invalidRoles('cloud-manager', 'org', ['ORG_STREAM_PROCESSING_ADMIN', 'ORG_BILLING_READ_ONLY']),
    ).toEqual(['ORG_STREAM_PROCESSING_ADMIN']);
    expect(invalidRoles('ops-manager', 'org', ['ORG_BILLING_READ_ONLY'])).toEqual(['ORG_BILLING_READ_ONLY']);
  });
});
