import { afterEach, describe, expect, it } from 'vitest';
import { type AtlasSimulator, startAtlasSimulator } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import type { DatabaseUserSpec } from '../../src/atlas/database-access-api.js';
import type { DryRunWrite } from '../../src/atlas/http-client.js';
import { rateKeyOf } from '../../src/atlas/rate-limiter.js';
import { generatePassword } from '../../src/database-access/credentials.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureClient,
  fixtureConfig,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

const GROUP = FIXTURE.project;
const CLUSTERS = [
  { groupId: GROUP, name: 'orders' },
  { groupId: GROUP, name: 'payments' },
];
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const V2_FLAVORS: AtlasApiFlavor[] = ['atlas-v2', 'atlas-v2-2025'];

let simulator: AtlasSimulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(overrides: Parameters<typeof startFixtureSimulator>[0] = {}) {
  simulator = await startFixtureSimulator({ clusters: CLUSTERS, ...overrides });
  return simulator;
}

function passwordUser(overrides: Partial<DatabaseUserSpec> = {}): DatabaseUserSpec {
  return {
    username: 'rc-alice-orders-read-ar2q8zk4m',
    auth: 'password',
    password: generatePassword(),
    roles: [{ roleName: 'read', databaseName: 'orders' }],
    clusters: ['orders'],
    deleteAfter: Date.now() + 2 * 60 * MINUTE,
    description: 'Rolecall AR-2Q8ZK4M for alice@example.com',
    ...overrides,
  };
}

/** The bodies of the authenticated POST /databaseUsers the simulator received. */
const createBodies = (sim: AtlasSimulator) =>
  sim
    .authenticatedCalls()
    .filter((c) => c.method === 'POST' && c.path.endsWith('/databaseUsers'))
    .map((c) => c.body as Record<string, unknown>);

describe('database access (atlas-v2 flavors)', () => {
  it.each(V2_FLAVORS)('creates, reads, lists, extends and deletes a password user on %s', async (flavor) => {
    const sim = await start();
    const client = fixtureClient(sim, flavor, AUTHS.digest);
    const database = client.database;
    expect(database).toBeDefined();
    if (!database) return;
    const spec = passwordUser();
    expect(await database.createUser(GROUP, spec)).toEqual({ created: true });
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(true);

    const read = await database.readUser(GROUP, 'password', spec.username);
    expect(read).toEqual({
      username: spec.username,
      databaseName: 'admin',
      auth: 'password',
      roles: [{ roleName: 'read', databaseName: 'orders' }],
      clusters: ['orders'],
      deleteAfter: new Date(spec.deleteAfter).getTime(),
      description: spec.description,
    });
    expect(await database.listUsers(GROUP)).toEqual([read]);

    const later = spec.deleteAfter + 3 * 60 * MINUTE;
    await database.updateUser(GROUP, 'password', spec.username, { deleteAfter: later });
    expect((await database.readUser(GROUP, 'password', spec.username))?.deleteAfter).toBe(later);
    // The extension keeps the user's scopes and roles, and its password.
    expect(sim.databaseUsers(GROUP)[0]).toMatchObject({ scopes: [{ name: 'orders', type: 'CLUSTER' }] });
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(true);

    expect(await database.deleteUser(GROUP, 'password', spec.username)).toEqual({ deleted: true });
    expect(await database.deleteUser(GROUP, 'password', spec.username)).toEqual({ deleted: false });
    expect(await database.readUser(GROUP, 'password', spec.username)).toBeNull();
    expect(sim.databaseUserTimeline(GROUP, spec.username).map((e) => e.kind)).toEqual([
      'created',
      'deleteAfterChanged',
      'deleted',
    ]);
    await client.close();
  });

  it('sends each kind of identity as the spec says (databaseName, auth type, scopes, deleteAfterDate)', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.oauth);
    const deleteAfter = Date.now() + DAY;
    const common = { roles: [{ roleName: 'readWrite', databaseName: 'orders', collectionName: 'carts' }] };
    const external = (username: string, auth: 'oidc' | 'aws-iam'): DatabaseUserSpec => {
      const { password: _none, ...rest } = passwordUser({ deleteAfter, ...common });
      return { ...rest, username, auth };
    };
    const specs: DatabaseUserSpec[] = [
      passwordUser({ deleteAfter, ...common, clusters: ['orders', 'payments'] }),
      external('5dd7496c7a3e5a648454341c/alice@example.com', 'oidc'),
      external('arn:aws:iam::123456789012:role/alice', 'aws-iam'),
      external('arn:aws:iam::123456789012:user/bob', 'aws-iam'),
    ];
    for (const spec of specs)
      expect(await client.database?.createUser(GROUP, spec)).toEqual({ created: true });

    const bodies = createBodies(sim);
    const iso = new Date(deleteAfter).toISOString();
    const expected = { groupId: GROUP, deleteAfterDate: iso, roles: common.roles };
    expect(bodies[0]).toMatchObject({ ...expected, databaseName: 'admin', username: specs[0]?.username });
    expect(bodies[0]?.scopes).toEqual([
      { name: 'orders', type: 'CLUSTER' },
      { name: 'payments', type: 'CLUSTER' },
    ]);
    expect(bodies[0]?.password).toBe(specs[0]?.password);
    expect(Object.keys(bodies[0] ?? {})).not.toContain('oidcAuthType');
    expect(bodies[1]).toMatchObject({ ...expected, databaseName: '$external', oidcAuthType: 'USER' });
    expect(bodies[2]).toMatchObject({ ...expected, databaseName: '$external', awsIAMType: 'ROLE' });
    expect(bodies[3]).toMatchObject({ ...expected, databaseName: '$external', awsIAMType: 'USER' });
    for (const body of bodies.slice(1)) expect(Object.keys(body)).not.toContain('password');

    // Usernames with '/' and ':' survive the path (encoded) both ways.
    for (const spec of specs.slice(1)) {
      const read = await client.database?.readUser(GROUP, spec.auth, spec.username);
      expect(read).toMatchObject({ username: spec.username, databaseName: '$external', auth: spec.auth });
      expect(await client.database?.deleteUser(GROUP, spec.auth, spec.username)).toEqual({ deleted: true });
    }
    const paths = sim
      .authenticatedCalls()
      .filter((c) => c.method === 'DELETE')
      .map((c) => c.path);
    expect(paths[0]).toBe(
      `/api/atlas/v2/groups/${GROUP}/databaseUsers/%24external/5dd7496c7a3e5a648454341c%2Falice%40example.com`,
    );
    await client.close();
  });

  it('lets Atlas delete a user once its deleteAfterDate has passed, and records when', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2', AUTHS.digest);
    const spec = passwordUser({ deleteAfter: Date.now() + 600 });
    await client.database?.createUser(GROUP, spec);
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(true);
    // Nobody calls: the simulator's own sweep deletes it, as Atlas would.
    const expired = await waitUntil(
      () => sim.databaseUserTimeline(GROUP, spec.username).find((e) => e.kind === 'expired'),
      5_000,
      'the user to expire',
    );
    expect(expired.at).toBeGreaterThanOrEqual(spec.deleteAfter);
    expect(expired.at).toBeLessThan(spec.deleteAfter + 1_000);
    expect(await client.database?.readUser(GROUP, 'password', spec.username)).toBeNull();
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(false);
    expect(await client.database?.deleteUser(GROUP, 'password', spec.username)).toEqual({ deleted: false });
    const gone = await appErrorOf(() =>
      client.database?.updateUser(GROUP, 'password', spec.username, { deleteAfter: Date.now() + DAY }),
    );
    expect(gone.code).toBe('ATLAS_USER_NOT_FOUND');
    expect(gone.message).toContain('no longer in Atlas');
    await client.close();
  });

  it('refuses an end more than a week ahead, or already past, in words', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.digest);
    const tooFar = await appErrorOf(() =>
      client.database?.createUser(GROUP, passwordUser({ deleteAfter: Date.now() + 8 * DAY })),
    );
    expect(tooFar).toMatchObject({ code: 'ATLAS_REJECTED', retryable: false });
    expect(tooFar.details.errorCode).toBe('EXPIRATION_DATE_EXCEEDS_MAX');
    expect(tooFar.message).toContain('at most one week from now');
    const past = await appErrorOf(() =>
      client.database?.createUser(GROUP, passwordUser({ deleteAfter: Date.now() - MINUTE })),
    );
    expect(past.details.errorCode).toBe('EXPIRATION_DATE_IN_PAST');
    // An extension past a week is refused too, and leaves the user as it was.
    const spec = passwordUser();
    await client.database?.createUser(GROUP, spec);
    const extension = await appErrorOf(() =>
      client.database?.updateUser(GROUP, 'password', spec.username, {
        deleteAfter: Date.now() + 7 * DAY + MINUTE,
      }),
    );
    expect(extension.details.errorCode).toBe('EXPIRATION_DATE_EXCEEDS_MAX');
    expect((await client.database?.readUser(GROUP, 'password', spec.username))?.deleteAfter).toBe(
      spec.deleteAfter,
    );
    expect(sim.databaseUsers(GROUP)).toHaveLength(1);
    await client.close();
  });

  it('answers created: false for a user that is already there, and refuses an unknown cluster', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.digest);
    const spec = passwordUser();
    expect(await client.database?.createUser(GROUP, spec)).toEqual({ created: true });
    expect(await client.database?.createUser(GROUP, { ...spec, password: generatePassword() })).toEqual({
      created: false,
    });
    // The first password still works; the second was never set.
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(true);
    const unknown = await appErrorOf(() =>
      client.database?.createUser(GROUP, passwordUser({ username: 'rc-bob', clusters: ['analytics'] })),
    );
    expect(unknown.details.errorCode).toBe('CLUSTER_NOT_FOUND');
    expect(unknown.message).toContain('no cluster of that name in this project');
    expect(sim.databaseUsers(GROUP)).toHaveLength(1);
    await client.close();
  });

  it('says when "already there" may be its own earlier try, whose answer was lost', async () => {
    const sim = await start();
    const config = { ...fixtureConfig(sim, 'atlas-v2-2025', AUTHS.oauth), timeoutMs: 200 };
    const client = createAtlasClient(config, {
      logger: createCapturingLogger().logger,
      backoff: { baseMs: 10, capMs: 50 },
    });
    // The first try is carried out but answered too late; the retry, held until then, finds the user.
    sim.inject({ method: 'POST', path: /\/databaseUsers$/, delayMs: 400 });
    const spec = passwordUser();
    const created = client.database?.createUser(GROUP, spec);
    const isCreate = (c: { method: string; path: string }) =>
      c.method === 'POST' && c.path.endsWith('/databaseUsers');
    await waitUntil(() => (sim.received.some(isCreate) ? true : undefined), 2_000, 'the first try');
    sim.inject({ method: 'POST', path: /\/databaseUsers$/, holdMs: 600 });
    expect(await created).toEqual({ created: false, afterLostAnswer: true });
    expect(sim.received.filter(isCreate).length).toBeGreaterThanOrEqual(2);
    expect(sim.databaseUsers(GROUP)).toHaveLength(1);
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(true);
    await client.close();
  });

  it('refuses the 101st database user of a project clearly, and lists all 100 across pages', async () => {
    const sim = await start();
    const config = { ...fixtureConfig(sim, 'atlas-v2', AUTHS.digest), pageSize: 30 };
    const client = createAtlasClient(config, { logger: createCapturingLogger().logger });
    for (let n = 0; n < 100; n += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          client.database?.createUser(GROUP, passwordUser({ username: `rc-u${n + i}` })),
        ),
      );
    }
    const listed = (await client.database?.listUsers(GROUP)) ?? [];
    expect(listed).toHaveLength(100);
    expect(new Set(listed.map((u) => u.username)).size).toBe(100);
    const refused = await appErrorOf(() =>
      client.database?.createUser(GROUP, passwordUser({ username: 'rc-u100' })),
    );
    expect(refused).toMatchObject({ code: 'ATLAS_REJECTED', retryable: false });
    expect(refused.details).toMatchObject({ status: 403, errorCode: 'GROUP_USERS_LIMIT_EXCEEDED' });
    expect(refused.message).toBe(
      'This project already has as many database users as Atlas allows in one project (100 unless MongoDB Support raised it), so Rolecall cannot create one for this grant. An Atlas project owner can delete database users nobody needs any more (or ask MongoDB Support for a higher limit); then ask again. (Atlas GROUP_USERS_LIMIT_EXCEEDED)',
    );
    await client.close();
  });

  it('adds a temporary IP access list entry, leaves one already there alone, and removes it', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.digest);
    const deleteAfter = Date.now() + 2 * 60 * MINUTE;
    const add = (cidrBlock: string) =>
      client.database?.addAccessListEntry(GROUP, {
        cidrBlock,
        deleteAfter,
        comment: 'Rolecall AR-2Q8ZK4M alice',
      });
    expect(await add('203.0.113.9')).toEqual({ created: true });
    expect(await client.database?.readAccessListEntry(GROUP, '203.0.113.9/32')).toEqual({
      cidrBlock: '203.0.113.9/32',
      deleteAfter,
      comment: 'Rolecall AR-2Q8ZK4M alice',
    });
    expect(await add('203.0.113.9/32')).toEqual({ created: false });
    expect(await add('2001:db8::1')).toEqual({ created: true });
    expect(sim.accessList(GROUP).map((e) => e.cidrBlock)).toEqual([
      '203.0.113.9/32',
      '2001:db8:0:0:0:0:0:1/128',
    ]);

    // Someone's permanent entry: Rolecall must not make it temporary (Atlas would then delete it).
    const { http } = fixtureHttp(sim);
    await http.send({
      method: 'POST',
      path: `/api/atlas/v2/groups/${GROUP}/accessList`,
      body: [{ cidrBlock: '198.51.100.0/24', comment: 'office' }],
      mediaType: 'application/vnd.atlas.2023-01-01+json',
      operation: 'adding the office',
    });
    expect(await add('198.51.100.0/24')).toEqual({ created: false });
    expect(await client.database?.readAccessListEntry(GROUP, '198.51.100.0/24')).toEqual({
      cidrBlock: '198.51.100.0/24',
      deleteAfter: null,
      comment: 'office',
    });
    await http.close();

    expect(await client.database?.removeAccessListEntry(GROUP, '203.0.113.9')).toEqual({ deleted: true });
    expect(await client.database?.removeAccessListEntry(GROUP, '203.0.113.9')).toEqual({ deleted: false });
    expect(await client.database?.readAccessListEntry(GROUP, '203.0.113.9')).toBeNull();
    expect(await client.database?.removeAccessListEntry(GROUP, '2001:0db8::0001/128')).toEqual({
      deleted: true,
    });
    expect(sim.accessList(GROUP).map((e) => e.cidrBlock)).toEqual(['198.51.100.0/24']);
    await client.close();
  });

  it('lets Atlas delete an access list entry past its deleteAfterDate, and refuses one a week ahead', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2', AUTHS.digest);
    const deleteAfter = Date.now() + 400;
    await client.database?.addAccessListEntry(GROUP, { cidrBlock: '192.0.2.7', deleteAfter, comment: 'x' });
    expect(sim.accessList(GROUP)).toHaveLength(1);
    await waitUntil(
      () => (sim.accessList(GROUP).length === 0 ? true : undefined),
      5_000,
      'the entry to expire',
    );
    expect(Date.now()).toBeGreaterThanOrEqual(deleteAfter);
    expect(await client.database?.readAccessListEntry(GROUP, '192.0.2.7')).toBeNull();
    const tooFar = await appErrorOf(() =>
      client.database?.addAccessListEntry(GROUP, {
        cidrBlock: '192.0.2.8',
        deleteAfter: Date.now() + 8 * DAY,
        comment: 'x',
      }),
    );
    expect(tooFar.details.errorCode).toBe('EXPIRATION_DATE_EXCEEDS_MAX');
    await client.close();
  });

  it('checks ids, CIDR blocks and names before anything is sent', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.digest);
    const refusals = await Promise.all([
      appErrorOf(() => client.database?.listUsers('not-a-project')),
      appErrorOf(() => client.database?.readUser('../../orgs', 'password', 'x')),
      appErrorOf(() => client.database?.readAccessListEntry(GROUP, '10.0.0.1/33')),
      appErrorOf(() => client.database?.removeAccessListEntry(GROUP, '10.0.0.1/../../x')),
      appErrorOf(() => client.database?.readAccessListEntry(GROUP, '2001:db8::1::2')),
      appErrorOf(() => client.database?.createUser(GROUP, passwordUser({ clusters: [] }))),
      appErrorOf(() => client.database?.createUser(GROUP, passwordUser({ clusters: ['../x'] }))),
      appErrorOf(() => client.database?.createUser(GROUP, passwordUser({ password: 'short' }))),
      appErrorOf(() =>
        client.database?.updateUser(GROUP, 'oidc', 'idp/alice@example.com', { password: generatePassword() }),
      ),
    ]);
    expect(refusals.map((e) => e.code)).toEqual(Array(refusals.length).fill('ATLAS_INVALID_INPUT'));
    expect(sim.authenticatedCalls()).toEqual([]);
    await client.close();
  });

  it('changes a password so that only the new one works', async () => {
    const sim = await start();
    const client = fixtureClient(sim, 'atlas-v2', AUTHS.digest);
    const spec = passwordUser();
    await client.database?.createUser(GROUP, spec);
    const next = generatePassword();
    await client.database?.updateUser(GROUP, 'password', spec.username, { password: next });
    expect(sim.canLogIn(GROUP, spec.username, next)).toBe(true);
    expect(sim.canLogIn(GROUP, spec.username, spec.password ?? '')).toBe(false);
    expect((await client.database?.readUser(GROUP, 'password', spec.username))?.deleteAfter).toBe(
      spec.deleteAfter,
    );
    await client.close();
  });

  it.each(['atlas-v1', 'cloud-manager', 'ops-manager'] as AtlasApiFlavor[])(
    'has no database access on %s',
    async (flavor) => {
      const sim = await start();
      const client = fixtureClient(sim, flavor, AUTHS.digest);
      expect(client.database).toBeUndefined();
      expect('database' in client).toBe(false);
      await client.close();
    },
  );

  it('counts database user and access list calls against the project bucket', () => {
    const users = rateKeyOf(`/api/atlas/v2/groups/${GROUP}/databaseUsers/%24external/arn%3Aaws`);
    const list = rateKeyOf(`/api/atlas/v2/groups/${GROUP}/accessList/10.0.0.1%2F32`);
    expect(users).toEqual({ key: `databaseUsers-group:${GROUP}`, bucket: 'project' });
    expect(list).toEqual({ key: `accessList-group:${GROUP}`, bucket: 'project' });
    expect(rateKeyOf(`/api/atlas/v2/groups/${GROUP}/databaseUsers`).bucket).toBe('project');
  });
});

describe('database passwords never leak', () => {
  it('records a dry-run create with the password redacted, in the record and in every log line', async () => {
    const sim = await start();
    const { logger, lines } = createCapturingLogger();
    const writes: DryRunWrite[] = [];
    const client = createAtlasClient(
      { ...fixtureConfig(sim, 'atlas-v2-2025', AUTHS.digest), dryRun: true },
      { logger, onDryRun: (write) => writes.push(write) },
    );
    const spec = passwordUser();
    const password = spec.password ?? '';
    expect(await client.database?.createUser(GROUP, spec)).toEqual({ created: true });
    await client.database?.updateUser(GROUP, 'password', spec.username, { password }).catch(() => undefined);
    expect(writes).toHaveLength(1);
    expect(writes[0]?.body).toMatchObject({ username: spec.username, password: '[redacted]' });
    expect(JSON.stringify(writes)).not.toContain(password);
    expect(lines.some((line) => line.includes('dry run'))).toBe(true);
    expect(lines.join('\n')).not.toContain(password);
    expect(sim.databaseUsers(GROUP)).toEqual([]);
    await client.close();
  });

  it('keeps the password out of the error and every log line when Atlas echoes it back', async () => {
    const sim = await start();
    const { logger, lines } = createCapturingLogger();
    const client = fixtureClient(sim, 'atlas-v2-2025', AUTHS.digest, logger);
    const spec = passwordUser();
    const password = spec.password ?? '';
    const echo = {
      error: 400,
      errorCode: 'VALIDATION_ERROR',
      detail: `The request content produced the validation error: password ${password} is invalid.`,
      parameters: [password],
      reason: 'Bad Request',
    };
    sim.inject({ method: 'POST', path: /\/databaseUsers$/, status: 400, body: echo });
    const error = await appErrorOf(() => client.database?.createUser(GROUP, spec));
    expect(error.details.errorCode).toBe('VALIDATION_ERROR');
    expect(String(error.details.detail)).toContain('[redacted]');
    expect(`${error.message} ${JSON.stringify(error.details)}`).not.toContain(password);
    // The password did reach Atlas, intact.
    expect(createBodies(sim)[0]?.password).toBe(password);

    await client.database?.createUser(GROUP, spec);
    sim.inject({ method: 'PATCH', path: /\/databaseUsers\//, status: 400, body: echo });
    const update = await appErrorOf(() =>
      client.database?.updateUser(GROUP, 'password', spec.username, { password }),
    );
    expect(`${update.message} ${JSON.stringify(update.details)}`).not.toContain(password);
    expect(lines.some((line) => line.includes('atlas call failed'))).toBe(true);
    expect(lines.join('\n')).not.toContain(password);
    await client.close();
  });

  it('a simulator with the default options keeps no database users and refuses every cluster', async () => {
    simulator = await startAtlasSimulator({
      orgs: [],
      projects: [{ id: GROUP, name: 'p', orgId: FIXTURE.org }],
      users: [],
      apiKeys: [FIXTURE.apiKey],
    });
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.digest);
    const refused = await appErrorOf(() => client.database?.createUser(GROUP, passwordUser()));
    expect(refused.details.errorCode).toBe('CLUSTER_NOT_FOUND');
    expect(simulator.databaseUsers(GROUP)).toEqual([]);
    await client.close();
  });
});
