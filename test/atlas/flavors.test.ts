import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { AUTHS, FIXTURE, fixtureClient, startFixtureSimulator } from '../support/atlas-fixture.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };

/** The write calls each flavor makes when Alice gains a role and loses it again. */
const WRITES: Record<AtlasApiFlavor, { org: string[]; project: string[] }> = {
  'atlas-v2': {
    org: [`PUT /api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}/roles`],
    project: [`PUT /api/atlas/v2/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}/roles`],
  },
  'atlas-v2-2025': {
    org: [`POST /api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}:addRole`],
    project: [`POST /api/atlas/v2/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}:addRole`],
  },
  'cloud-manager': {
    org: [`PUT /api/public/v1.0/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}/roles`],
    project: [`PUT /api/public/v1.0/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}/roles`],
  },
  'ops-manager': {
    org: [`PUT /api/public/v1.0/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}/roles`],
    project: [`PUT /api/public/v1.0/groups/${FIXTURE.project}/users/${FIXTURE.alice.id}/roles`],
  },
  'atlas-v1': {
    org: [`PATCH /api/atlas/v1.0/users/${FIXTURE.alice.id}`],
    project: [`PATCH /api/atlas/v1.0/users/${FIXTURE.alice.id}`],
  },
};

const GRANTED = { org: 'ORG_READ_ONLY', project: 'GROUP_DATA_ACCESS_READ_ONLY' } as const;

const FLAVORS = Object.keys(WRITES) as AtlasApiFlavor[];

describe.each(FLAVORS)('Atlas client flavor %s', (flavor) => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator({
      publicApiProduct: flavor === 'ops-manager' ? 'ops-manager' : 'cloud-manager',
    });
  });

  afterEach(async () => {
    await simulator.close();
  });

  describe.each(['digest', 'oauth'] as const)('with %s auth', (auth) => {
    it.each([
      ['org', ORG],
      ['project', PROJECT],
    ] as const)('grants and revokes a %s role, leaving every other role alone', async (kind, scope) => {
      const client = fixtureClient(simulator, flavor, AUTHS[auth]);
      const role = GRANTED[kind];
      const before = await client.roles.readUser(FIXTURE.alice.email, scope);
      expect(before.userId).toBe(FIXTURE.alice.id);
      const held = kind === 'org' ? ['ORG_MEMBER'] : ['GROUP_READ_ONLY'];
      expect(before.roles).toEqual(held);

      await client.roles.setRoles(scope, before.userId, before.roles, [...before.roles, role]);
      expect(simulator.rolesOf(FIXTURE.alice.email, scope).sort()).toEqual([...held, role].sort());
      const other: AtlasScope = kind === 'org' ? PROJECT : ORG;
      expect(simulator.rolesOf(FIXTURE.alice.email, other)).toEqual(
        kind === 'org' ? ['GROUP_READ_ONLY'] : ['ORG_MEMBER'],
      );

      const during = await client.roles.readUser(FIXTURE.alice.email, scope);
      await client.roles.setRoles(scope, during.userId, during.roles, held);
      expect(simulator.rolesOf(FIXTURE.alice.email, scope)).toEqual(held);
      expect(simulator.rolesOf(FIXTURE.alice.email, other)).toEqual(
        kind === 'org' ? ['GROUP_READ_ONLY'] : ['ORG_MEMBER'],
      );

      const calls = simulator.authenticatedCalls();
      expect(calls.every((c) => c.auth === (auth === 'digest' ? 'digest' : 'bearer'))).toBe(true);
      expect(calls.every((c) => c.status < 300)).toBe(true);
      const writes = calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`);
      expect(writes[0]).toBe(WRITES[flavor][kind][0]);
      await client.close();
      if (auth === 'oauth') expect(simulator.tokens).toEqual({ issued: 1, revoked: 1 });
    });
  });
});

describe('atlas-v2-2025 role changes', () => {
  it('adds every new role before removing any old one, so the user always holds a role', async () => {
    const simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    await client.roles.setRoles(
      PROJECT,
      FIXTURE.alice.id,
      ['GROUP_READ_ONLY'],
      ['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_OWNER'],
    );
    const writes = simulator
      .authenticatedCalls()
      .filter((c) => c.method === 'POST')
      .map((c) => `${c.path.split(':').pop()} ${JSON.stringify(c.body)}`);
    expect(writes).toEqual([
      'addRole {"groupRole":"GROUP_DATA_ACCESS_READ_ONLY"}',
      'addRole {"groupRole":"GROUP_OWNER"}',
      'removeRole {"groupRole":"GROUP_READ_ONLY"}',
    ]);
    expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT).sort()).toEqual([
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_OWNER',
    ]);
    await client.close();
    await simulator.close();
  });

  it('treats a role that is already there (409 on a retried add) as done', async () => {
    const simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    await client.roles.setRoles(ORG, FIXTURE.alice.id, ['ORG_READ_ONLY'], ['ORG_MEMBER', 'ORG_READ_ONLY']);
    expect(simulator.authenticatedCalls().map((c) => c.status)).toEqual([409]);
    await client.close();
    await simulator.close();
  });

  it('reads project roles as none when the user is in the org but not the project', async () => {
    const simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    expect(await client.roles.readUser(FIXTURE.owner.email, PROJECT)).toEqual({
      userId: FIXTURE.owner.id,
      roles: [],
    });
    await client.close();
    await simulator.close();
  });
});
