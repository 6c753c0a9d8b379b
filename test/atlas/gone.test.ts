import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { AUTHS, FIXTURE, fixtureClient, startFixtureSimulator } from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };
const ALICE = { username: FIXTURE.alice.email, userId: FIXTURE.alice.id };
const FLAVORS: AtlasApiFlavor[] = ['atlas-v2', 'atlas-v2-2025', 'cloud-manager', 'atlas-v1'];

describe.each(FLAVORS)('what no longer exists, on %s', (flavor) => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
  });

  afterEach(async () => {
    await simulator.close();
  });

  it('finds nothing missing while the org, the project and the person exist', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    expect(await client.roles.findMissing(PROJECT, ALICE)).toBeNull();
    expect(await client.roles.findMissing(ORG, ALICE)).toBeNull();
    await client.close();
  });

  it('says the target is gone once the project, then the organization, is deleted', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    simulator.deleteProject(FIXTURE.project);
    expect(await client.roles.findMissing(PROJECT, ALICE)).toBe('target');
    expect(await client.roles.findMissing(ORG, ALICE)).toBeNull();
    simulator.deleteOrg(FIXTURE.org);
    expect(await client.roles.findMissing(ORG, ALICE)).toBe('target');
    await client.close();
  });

  it('says the user is gone once their account is deleted', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    simulator.deleteUser(FIXTURE.alice.email);
    expect(await client.roles.findMissing(PROJECT, ALICE)).toBe('user');
    expect(await client.roles.findMissing(ORG, ALICE)).toBe('user');
    await client.close();
  });

  it('does not take a person who only left the organization for a deleted one', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    simulator.setRoles(FIXTURE.alice.email, PROJECT, []);
    simulator.setRoles(FIXTURE.alice.email, ORG, []);
    expect(await client.roles.findMissing(PROJECT, ALICE)).toBeNull();
    await client.close();
  });
});

describe('the Atlas simulator, once things are deleted', () => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
  });

  afterEach(async () => {
    await simulator.close();
  });

  it('answers every call naming a deleted project with 404 GROUP_NOT_FOUND, in the ApiError body', async () => {
    for (const flavor of ['atlas-v2', 'atlas-v2-2025'] as const) {
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      await client.roles.readUser(FIXTURE.alice.email, PROJECT);
      await client.close();
    }
    const seen = simulator.calls.length;
    const before = Date.now();
    simulator.deleteProject(FIXTURE.project);
    // Her roles there end with the project, in her timeline.
    const timeline = simulator.timeline(FIXTURE.alice.email, PROJECT);
    expect(timeline.at(-1)?.roles).toEqual([]);
    expect(timeline.at(-1)?.at).toBeGreaterThanOrEqual(before);
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const error = await appErrorOf(() =>
      client.roles.setRoles(PROJECT, FIXTURE.alice.id, ['GROUP_READ_ONLY'], ['GROUP_OWNER']),
    );
    expect(error.code).toBe('ATLAS_TARGET_GONE');
    await appErrorOf(() => client.roles.members.listMembers(PROJECT));
    await client.close();
    const answers = simulator.calls
      .slice(seen)
      .filter((c) => c.auth === 'digest' && c.path.includes(FIXTURE.project));
    expect(answers.length).toBeGreaterThanOrEqual(2);
    for (const call of answers) {
      expect(call.status).toBe(404);
      expect(call.response).toEqual({
        detail: `No group with ID ${FIXTURE.project} exists.`,
        error: 404,
        errorCode: 'GROUP_NOT_FOUND',
        parameters: [FIXTURE.project],
        reason: 'Not Found',
      });
    }
  });

  it('refuses to delete an organization that still has projects, as Atlas does (ORG_NOT_EMPTY)', () => {
    expect(() => simulator.deleteOrg(FIXTURE.org)).toThrow(/ORG_NOT_EMPTY/);
    simulator.deleteProject(FIXTURE.project);
    simulator.deleteOrg(FIXTURE.org);
    expect(simulator.rolesOf(FIXTURE.owner.email, ORG)).toEqual([]);
  });

  it('answers a deleted account by id with USER_NOT_FOUND and by username with USERNAME_NOT_FOUND', async () => {
    simulator.deleteUser(FIXTURE.alice.email);
    const v2 = fixtureClient(simulator, 'atlas-v2', AUTHS.digest);
    expect((await appErrorOf(() => v2.roles.readUser(FIXTURE.alice.email, PROJECT))).details).toMatchObject({
      status: 404,
      errorCode: 'USERNAME_NOT_FOUND',
    });
    await v2.close();
    const v2025 = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const error = await appErrorOf(() =>
      v2025.roles.setRoles(PROJECT, FIXTURE.alice.id, ['GROUP_READ_ONLY'], ['GROUP_OWNER']),
    );
    expect(error.code).toBe('ATLAS_USER_NOT_FOUND');
    expect(error.details).toMatchObject({ status: 404, errorCode: 'USER_NOT_FOUND' });
    expect((await v2025.roles.members.listMembers(PROJECT)).map((m) => m.username)).toEqual([]);
    await v2025.close();
    // The timeline outlives the account: she held GROUP_READ_ONLY until the deletion.
    expect(simulator.timeline(FIXTURE.alice.email, PROJECT).map((c) => c.roles)).toEqual([
      ['GROUP_READ_ONLY'],
      [],
    ]);
  });

  it('answers 403 IP_ADDRESS_NOT_ON_ACCESS_LIST to a caller outside the API access list, with its address', async () => {
    simulator.restrictApiAccess(['198.51.100.7']);
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const error = await appErrorOf(() => client.roles.readUser(FIXTURE.alice.email, PROJECT));
    expect(error.code).toBe('ATLAS_AUTH_FAILED');
    expect(error.message).toContain('access list');
    expect(error.message).not.toContain('127.0.0.1');
    expect(error.details).toMatchObject({
      status: 403,
      errorCode: 'IP_ADDRESS_NOT_ON_ACCESS_LIST',
      detail: 'IP address 127.0.0.1 is not allowed to access this resource.',
    });
    simulator.restrictApiAccess(['127.0.0.1']);
    expect((await client.roles.readUser(FIXTURE.alice.email, PROJECT)).roles).toEqual(['GROUP_READ_ONLY']);
    await client.close();
  });
});
