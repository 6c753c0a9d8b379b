import { afterEach, describe, expect, it } from 'vitest';
import type { SimFederation } from '../../dev/atlas-sim/federation.js';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import type { AtlasFederationApi, OrgRoleMappings } from '../../src/atlas/federation-api.js';
import { createFederationCache } from '../../src/atlas/federation-cache.js';
import { createAtlasV2FederationApi } from '../../src/atlas/flavors/federation-v2.js';
import { AppError } from '../../src/errors.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureClient,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { defined } from '../support/defined.js';
import { appErrorOf } from '../support/errors.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };
const FEDERATION_ID = 'fe0000000000000000000001';
const IDP_ID = 'c2777a9eca931f29fc2f';

/** Readers get ORG_MEMBER and read-only on the project; writers read-write there. */
const ACME: SimFederation = {
  orgId: FIXTURE.org,
  federationSettingsId: FEDERATION_ID,
  identityProviderId: IDP_ID,
  roleMappings: [
    {
      externalGroupName: 'atlas-readers',
      assignments: [
        { orgId: FIXTURE.org, role: 'ORG_MEMBER' },
        { groupId: FIXTURE.project, role: 'GROUP_READ_ONLY' },
      ],
    },
    {
      externalGroupName: 'payments-writers',
      assignments: [
        { orgId: FIXTURE.org, role: 'ORG_MEMBER' },
        { groupId: FIXTURE.project, role: 'GROUP_DATA_ACCESS_READ_WRITE' },
      ],
    },
  ],
};

const EXPECTED: OrgRoleMappings = {
  orgId: FIXTURE.org,
  identityProviderId: IDP_ID,
  mappings: [
    {
      externalGroupName: 'atlas-readers',
      assignments: [
        { scope: ORG, role: 'ORG_MEMBER' },
        { scope: PROJECT, role: 'GROUP_READ_ONLY' },
      ],
    },
    {
      externalGroupName: 'payments-writers',
      assignments: [
        { scope: ORG, role: 'ORG_MEMBER' },
        { scope: PROJECT, role: 'GROUP_DATA_ACCESS_READ_WRITE' },
      ],
    },
  ],
};

const simulators: AtlasSimulator[] = [];
const start = async (federation?: readonly SimFederation[]) => {
  const simulator = await startFixtureSimulator(federation ? { federation } : {});
  simulators.push(simulator);
  return simulator;
};
const federationOf = (simulator: AtlasSimulator, flavor: AtlasApiFlavor = 'atlas-v2-2025') =>
  defined(fixtureClient(simulator, flavor, AUTHS.digest).federation, 'client.federation');

afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

describe('federation role mappings (readRoleMappings)', () => {
  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'reads the mappings in force on %s, with each assignment on the organization or its project',
    async (flavor) => {
      const simulator = await start([ACME]);
      expect(await federationOf(simulator, flavor).readRoleMappings(FIXTURE.org)).toEqual(EXPECTED);
      const paths = simulator.authenticatedCalls().map((c) => `${c.method} ${c.path} ${c.status}`);
      expect(paths).toEqual([
        `GET /api/atlas/v2/orgs/${FIXTURE.org}/federationSettings 200`,
        `GET /api/atlas/v2/federationSettings/${FEDERATION_ID}/connectedOrgConfigs/${FIXTURE.org} 200`,
      ]);
    },
  );

  it.each(['atlas-v1', 'cloud-manager', 'ops-manager'] as AtlasApiFlavor[])(
    'is not on the %s client (no federation reads there)',
    async (flavor) => {
      const simulator = await start([ACME]);
      expect(fixtureClient(simulator, flavor, AUTHS.digest).federation).toBeUndefined();
    },
  );

  it('answers null for an organization without federation (404 RESOURCE_NOT_FOUND), not an error', async () => {
    const simulator = await start();
    const { logger, lines } = createCapturingLogger();
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest, logger);
    expect(await defined(client.federation, 'client.federation').readRoleMappings(FIXTURE.org)).toBeNull();
    const [call] = simulator.authenticatedCalls();
    expect(call?.status).toBe(404);
    expect(call?.response).toMatchObject({ errorCode: 'RESOURCE_NOT_FOUND' });
    // An answer, not a failure: nothing at warn level.
    const failed = lines.map((line) => JSON.parse(line) as { level: string; msg: string });
    expect(failed.filter((l) => l.msg === 'atlas call failed').map((l) => l.level)).toEqual(['debug']);
  });

  it('throws when the organization itself does not exist (404 ORG_NOT_FOUND)', async () => {
    const simulator = await start([ACME]);
    const error = await appErrorOf(() =>
      federationOf(simulator).readRoleMappings('6a00000000000000000000ff'),
    );
    expect(error.code).toBe('ATLAS_TARGET_GONE');
  });

  it('answers null when the identity provider is inactive: nobody signs in through it', async () => {
    const simulator = await start([{ ...ACME, identityProviderStatus: 'INACTIVE' }]);
    expect(await federationOf(simulator).readRoleMappings(FIXTURE.org)).toBeNull();
    expect(simulator.authenticatedCalls()).toHaveLength(1);
  });

  it('answers null when the federation has no identity provider', async () => {
    const simulator = await start([{ ...ACME, identityProviderId: null }]);
    expect(await federationOf(simulator).readRoleMappings(FIXTURE.org)).toBeNull();
  });

  it('answers null when hasRoleMappings is false, without reading the connected organization', async () => {
    const simulator = await start([{ ...ACME, roleMappings: [] }]);
    expect(await federationOf(simulator).readRoleMappings(FIXTURE.org)).toBeNull();
    expect(simulator.authenticatedCalls().map((c) => c.path)).toEqual([
      `/api/atlas/v2/orgs/${FIXTURE.org}/federationSettings`,
    ]);
  });

  it('reads listFederationSettingConnectedOrgConfigRoleMappings when the configuration leaves roleMappings out', async () => {
    const simulator = await start([ACME]);
    simulator.inject({
      method: 'GET',
      path: /\/connectedOrgConfigs\/[a-f0-9]{24}$/,
      status: 200,
      body: { orgId: FIXTURE.org, domainRestrictionEnabled: false, identityProviderId: IDP_ID },
    });
    expect(await federationOf(simulator).readRoleMappings(FIXTURE.org)).toEqual(EXPECTED);
    expect(simulator.authenticatedCalls().at(-1)?.path).toBe(
      `/api/atlas/v2/federationSettings/${FEDERATION_ID}/connectedOrgConfigs/${FIXTURE.org}/roleMappings`,
    );
  });

  it('sees mappings change (setRoleMappings) on the next read', async () => {
    const simulator = await start([ACME]);
    const federation = federationOf(simulator);
    simulator.setRoleMappings(FIXTURE.org, [
      { externalGroupName: 'owners', assignments: [{ orgId: FIXTURE.org, role: 'ORG_OWNER' }] },
    ]);
    expect((await federation.readRoleMappings(FIXTURE.org))?.mappings).toEqual([
      { externalGroupName: 'owners', assignments: [{ scope: ORG, role: 'ORG_OWNER' }] },
    ]);
  });

  it.each(['ACCESS_FORBIDDEN', 'SOMETHING_NEW'])(
    'says which role the key needs when Atlas answers 403 %s',
    async (errorCode) => {
      const simulator = await start([ACME]);
      simulator.inject({
        path: /\/federationSettings$/,
        status: 403,
        body: { error: 403, errorCode, detail: 'Forbidden.', reason: 'Forbidden' },
      });
      const error = await appErrorOf(() => federationOf(simulator).readRoleMappings(FIXTURE.org));
      expect(error.code).toBe('ATLAS_AUTH_FAILED');
      expect(error.retryable).toBe(false);
      expect(error.message).toContain('Organization Owner role');
      expect(error.message).toContain('federation settings');
    },
  );

  it('throws a retryable error when Atlas is down', async () => {
    const simulator = await start([ACME]);
    simulator.inject({ path: /\/federationSettings$/, status: 503, times: 10 });
    const error = await appErrorOf(() => federationOf(simulator).readRoleMappings(FIXTURE.org));
    expect(error.code).toBe('ATLAS_UNAVAILABLE');
    expect(error.retryable).toBe(true);
  });

  it('checks every id before it reaches a path, and an identity provider id Atlas sends', async () => {
    const simulator = await start([ACME]);
    const federation = federationOf(simulator);
    expect((await appErrorOf(() => federation.readRoleMappings('../orgs'))).code).toBe('ATLAS_INVALID_INPUT');
    expect(
      (await appErrorOf(() => federation.removedAtLogin(PROJECT, 'not-an-id', FIXTURE.alice.email, 0))).code,
    ).toBe('ATLAS_INVALID_INPUT');
    expect(
      (await appErrorOf(() => federation.removedAtLogin({ kind: 'org', id: 'x' }, FIXTURE.alice.id, 'a', 0)))
        .code,
    ).toBe('ATLAS_INVALID_INPUT');
    expect(simulator.authenticatedCalls()).toEqual([]);
    simulator.inject({
      path: /\/federationSettings$/,
      status: 200,
      body: {
        id: FEDERATION_ID,
        identityProviderId: 'not-20-hex',
        identityProviderStatus: 'ACTIVE',
        hasRoleMappings: true,
        federatedDomains: [],
      },
    });
    expect((await appErrorOf(() => federation.readRoleMappings(FIXTURE.org))).code).toBe('INTERNAL');
  });
});

describe('roles a federated login took back (ssoLogin, removedAtLogin)', () => {
  it('finds the login that undid a role Rolecall granted, and nothing before `since`', async () => {
    const simulator = await start([ACME]);
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const federation = defined(client.federation);
    const since = Date.now();
    // Rolecall's grant (an API key's write): Alice gains read-write on the project.
    await client.roles.setRoles(
      PROJECT,
      FIXTURE.alice.id,
      ['GROUP_READ_ONLY'],
      ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE'],
    );
    expect(await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since)).toBeNull();
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['atlas-readers']);
    const loggedIn = Date.now();
    expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
    expect(simulator.timeline(FIXTURE.alice.email, PROJECT).map((c) => c.roles)).toEqual([
      ['GROUP_READ_ONLY'],
      ['GROUP_DATA_ACCESS_READ_WRITE', 'GROUP_READ_ONLY'],
      ['GROUP_READ_ONLY'],
    ]);
    const at = defined(
      await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since),
    );
    // Atlas writes `created` to the millisecond: the event's time, between the grant and now.
    expect(at).toBeGreaterThanOrEqual(since);
    expect(at).toBeLessThanOrEqual(loggedIn);
    // Her organization roles did not change (ORG_MEMBER before and after): no event there.
    expect(await federation.removedAtLogin(ORG, FIXTURE.alice.id, FIXTURE.alice.email, since)).toBeNull();
    // Nothing from before `since`.
    expect(
      await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, at + 1),
    ).toBeNull();
    // Nor for someone else.
    expect(await federation.removedAtLogin(PROJECT, FIXTURE.owner.id, FIXTURE.owner.email, since)).toBeNull();
  });

  it('finds a login whose mappings give no project role (REMOVED_FROM_GROUP), and an organization role taken back', async () => {
    const simulator = await start([
      {
        ...ACME,
        roleMappings: [
          { externalGroupName: 'staff', assignments: [{ orgId: FIXTURE.org, role: 'ORG_READ_ONLY' }] },
        ],
      },
    ]);
    const federation = federationOf(simulator);
    const since = Date.now();
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['staff']);
    expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT)).toEqual([]);
    expect(simulator.rolesOf(FIXTURE.alice.email, ORG)).toEqual(['ORG_READ_ONLY']);
    expect(await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since)).toEqual(
      expect.any(Number),
    );
    expect(await federation.removedAtLogin(ORG, FIXTURE.alice.id, FIXTURE.alice.email, since)).toEqual(
      expect.any(Number),
    );
  });

  it('finds a login whose mappings give no organization role (REMOVED_FROM_ORG)', async () => {
    const simulator = await start([
      {
        ...ACME,
        roleMappings: [
          {
            externalGroupName: 'project-only',
            assignments: [{ groupId: FIXTURE.project, role: 'GROUP_OWNER' }],
          },
        ],
      },
    ]);
    const since = Date.now();
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['project-only']);
    expect(simulator.rolesOf(FIXTURE.alice.email, ORG)).toEqual([]);
    const at = await federationOf(simulator).removedAtLogin(
      ORG,
      FIXTURE.alice.id,
      FIXTURE.alice.email,
      since,
    );
    expect(at).toBeGreaterThanOrEqual(since);
    const eventTypes = simulator
      .authenticatedCalls()
      .map((c) => new URL(c.path, 'http://x').searchParams.get('eventType'));
    expect(eventTypes).toEqual(['USER_ROLES_CHANGED_AUDIT', 'REMOVED_FROM_ORG']);
  });

  it('changes nothing at a login without role mappings in force', async () => {
    const simulator = await start([{ ...ACME, identityProviderStatus: 'INACTIVE' }]);
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, []);
    expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT)).toEqual(['GROUP_READ_ONLY']);
    expect(simulator.timeline(FIXTURE.alice.email, PROJECT)).toHaveLength(1);
    expect(
      await federationOf(simulator).removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, 0),
    ).toBeNull();
  });

  it('reads every page, and answers the first login since `since`', async () => {
    const simulator = await start([ACME]);
    const since = Date.now();
    for (let i = 0; i < 5; i += 1) {
      simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, [
        i % 2 === 0 ? 'payments-writers' : 'atlas-readers',
      ]);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const { http } = fixtureHttp(simulator);
    const federation = createAtlasV2FederationApi(http, { pageSize: 2 });
    const first = defined(
      await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since),
    );
    const pages = simulator
      .authenticatedCalls()
      .filter((c) => c.path.includes('/events') && c.path.includes('USER_ROLES_CHANGED_AUDIT'));
    expect(pages.map((c) => new URL(c.path, 'http://x').searchParams.get('pageNum'))).toEqual([
      '1',
      '2',
      '3',
    ]);
    const events = simulator
      .authenticatedCalls()
      .flatMap((c) => (c.response as { results?: { created: string }[] } | undefined)?.results ?? [])
      .map((e) => Date.parse(e.created));
    expect(first).toBe(Math.min(...events));
    await http.close();
  });

  it('leaves out changes an API key made, someone else made, or that target someone else', async () => {
    const simulator = await start([ACME]);
    const since = Date.now() - 60_000;
    const created = new Date().toISOString();
    const event = (id: string, extra: Record<string, unknown>) => ({
      id,
      created,
      eventTypeName: 'USER_ROLES_CHANGED_AUDIT',
      groupId: FIXTURE.project,
      orgId: FIXTURE.org,
      targetUsername: FIXTURE.alice.email,
      ...extra,
    });
    simulator.inject({
      path: /\/groups\/[a-f0-9]{24}\/events$/,
      status: 200,
      times: 2,
      body: {
        results: [
          event('e00000000000000000000001', {
            apiKeyId: '6d0000000000000000000001',
            publicKey: 'fixturepub',
          }),
          event('e00000000000000000000002', { userId: FIXTURE.owner.id, username: FIXTURE.owner.email }),
          event('e00000000000000000000003', {
            userId: FIXTURE.owner.id,
            username: FIXTURE.owner.email,
            targetUsername: FIXTURE.owner.email,
          }),
        ],
        totalCount: 3,
      },
    });
    const federation = federationOf(simulator);
    expect(await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since)).toBeNull();
    // The same answer with Alice's own change in it (her sign-in): that one counts.
    simulator.inject({
      path: /\/groups\/[a-f0-9]{24}\/events$/,
      status: 200,
      times: 2,
      body: {
        results: [
          event('e00000000000000000000004', { userId: FIXTURE.alice.id, username: FIXTURE.alice.email }),
        ],
      },
    });
    expect(await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since)).toBe(
      Date.parse(created),
    );
  });
});

/** A federation port that answers from a script, counting its reads; each read waits for `release`. */
function scriptedApi(answers: (OrgRoleMappings | null | Error)[]) {
  const reads: string[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const api: Pick<AtlasFederationApi, 'readRoleMappings'> = {
    async readRoleMappings(orgId) {
      reads.push(orgId);
      await gate;
      const answer = answers.shift();
      if (answer instanceof Error) throw answer;
      return answer ?? null;
    },
  };
  return {
    api,
    reads,
    hold() {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
  };
}

const OUTAGE = new AppError('ATLAS_UNAVAILABLE', 'Atlas is busy or unavailable right now.', {
  retryable: true,
});

describe('federation cache (createFederationCache)', () => {
  it('answers from memory within ttl and reads again after it', async () => {
    let now = 1_000;
    const second: OrgRoleMappings = { ...EXPECTED, mappings: EXPECTED.mappings.slice(0, 1) };
    const script = scriptedApi([EXPECTED, second]);
    const cache = createFederationCache(script.api, { ttlMs: 100, now: () => now });
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    now += 99;
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    expect(script.reads).toHaveLength(1);
    now += 1;
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(second);
    expect(script.reads).toHaveLength(2);
  });

  it('reads once for callers asking at the same time (single flight per organization)', async () => {
    const script = scriptedApi([EXPECTED, null]);
    const cache = createFederationCache(script.api, { ttlMs: 100, now: () => 0 });
    script.hold();
    const asked = [
      cache.roleMappings(FIXTURE.org),
      cache.roleMappings(FIXTURE.org),
      cache.roleMappings(FIXTURE.org),
    ];
    const other = cache.roleMappings('6a0000000000000000000002');
    script.release();
    expect(await Promise.all(asked)).toEqual([EXPECTED, EXPECTED, EXPECTED]);
    expect(await other).toBeNull();
    expect(script.reads).toEqual([FIXTURE.org, FIXTURE.org.replace(/1$/, '2')]);
  });

  it('keeps answering the previous read for at most 2×ttl when reads fail, then throws (fail closed)', async () => {
    let now = 0;
    const script = scriptedApi([EXPECTED, OUTAGE, OUTAGE, OUTAGE]);
    const { logger, lines } = createCapturingLogger();
    const cache = createFederationCache(script.api, { ttlMs: 100, now: () => now, logger });
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    now = 150;
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    now = 199;
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    now = 200;
    expect(await appErrorOf(() => cache.roleMappings(FIXTURE.org))).toBe(OUTAGE);
    expect(script.reads).toHaveLength(4);
    const warned = lines.filter((l) => l.includes('answering the previous read'));
    expect(warned).toHaveLength(2);
    expect(
      warned.every((l) => l.includes('"code":"ATLAS_UNAVAILABLE"') && !l.includes('Atlas is busy')),
    ).toBe(true);
  });

  it('throws at once when the first read fails: there is no previous answer', async () => {
    const script = scriptedApi([OUTAGE, null]);
    const cache = createFederationCache(script.api, { ttlMs: 100, now: () => 0 });
    expect(await appErrorOf(() => cache.roleMappings(FIXTURE.org))).toBe(OUTAGE);
    expect(await cache.roleMappings(FIXTURE.org)).toBeNull();
  });

  it('refreshAll reads every organization asked about, whatever its age, and says which failed', async () => {
    const now = 0;
    const other = '6a0000000000000000000002';
    const script = scriptedApi([EXPECTED, null, null, OUTAGE]);
    const cache = createFederationCache(script.api, { ttlMs: 100, now: () => now });
    await cache.roleMappings(FIXTURE.org);
    await cache.roleMappings(other);
    expect(await cache.refreshAll()).toEqual({
      refreshed: [FIXTURE.org],
      failed: [{ orgId: other, code: 'ATLAS_UNAVAILABLE' }],
    });
    expect(script.reads).toEqual([FIXTURE.org, other, FIXTURE.org, other]);
    // The refreshed answer (null) is what callers now get, without another read.
    expect(await cache.roleMappings(FIXTURE.org)).toBeNull();
    expect(await cache.roleMappings(other)).toBeNull();
    expect(script.reads).toHaveLength(4);
  });

  it('works over the real client: one pair of federation calls per ttl', async () => {
    const simulator = await start([ACME]);
    let now = 0;
    const cache = createFederationCache(federationOf(simulator), { ttlMs: 1_000, now: () => now });
    await Promise.all([cache.roleMappings(FIXTURE.org), cache.roleMappings(FIXTURE.org)]);
    expect(await cache.roleMappings(FIXTURE.org)).toEqual(EXPECTED);
    expect(simulator.authenticatedCalls()).toHaveLength(2);
    now = 1_000;
    await cache.roleMappings(FIXTURE.org);
    expect(simulator.authenticatedCalls()).toHaveLength(4);
  });
});
