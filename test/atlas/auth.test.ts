import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureClient,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };

describe('service-account (OAuth) auth', () => {
  let simulator: AtlasSimulator;

  afterEach(async () => {
    await simulator.close();
  });

  it('fetches one token for many calls, including concurrent first calls', async () => {
    simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.oauth);
    await Promise.all(Array.from({ length: 20 }, () => client.roles.readUser(FIXTURE.alice.email, PROJECT)));
    for (let i = 0; i < 20; i += 1) await client.roles.readUser(FIXTURE.alice.email, PROJECT);
    expect(simulator.tokens.issued).toBe(1);
    expect(simulator.authenticatedCalls()).toHaveLength(40);
    await client.close();
    expect(simulator.tokens.revoked).toBe(1);
  });

  it('refreshes the token before it expires', async () => {
    simulator = await startFixtureSimulator({ tokenLifetimeSeconds: 2 });
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.oauth);
    await client.roles.readUser(FIXTURE.alice.email, PROJECT);
    await new Promise((resolve) => setTimeout(resolve, 1_850));
    await client.roles.readUser(FIXTURE.alice.email, PROJECT);
    expect(simulator.tokens.issued).toBe(2);
    expect(simulator.calls.filter((c) => c.status === 401)).toEqual([]);
    await client.close();
  });

  it('gets a new token once when Atlas rejects the cached one', async () => {
    simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.oauth);
    await client.roles.readUser(FIXTURE.alice.email, PROJECT);
    simulator.inject({ status: 401, body: { error: 401, errorCode: 'UNAUTHORIZED', detail: 'expired' } });
    expect((await client.roles.readUser(FIXTURE.alice.email, PROJECT)).roles).toEqual(['GROUP_READ_ONLY']);
    expect(simulator.tokens.issued).toBe(2);
    await client.close();
  });

  it('says which variables to check when the service account is refused', async () => {
    simulator = await startFixtureSimulator();
    const client = fixtureClient(simulator, 'atlas-v2', {
      kind: 'oauth',
      clientId: FIXTURE.serviceAccount.clientId,
      clientSecret: 'wrong',
    });
    const error = await appErrorOf(() => client.roles.readUser(FIXTURE.alice.email, PROJECT));
    expect(error.code).toBe('ATLAS_AUTH_FAILED');
    expect(error.message).toContain('invalid_client: Invalid credentials provided.');
    expect(error.message).toContain('Check ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET');
    await client.close();
  });
});

describe('API key (Digest) auth', () => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
  });

  afterEach(async () => {
    await simulator.close();
  });

  it('answers the challenge once, replays the body with the signed request, and signs the next call at once', async () => {
    const client = fixtureClient(simulator, 'atlas-v2', AUTHS.digest);
    await client.roles.setRoles(
      PROJECT,
      FIXTURE.alice.id,
      ['GROUP_READ_ONLY'],
      ['GROUP_READ_ONLY', 'GROUP_OWNER'],
    );
    await client.roles.setRoles(
      PROJECT,
      FIXTURE.alice.id,
      ['GROUP_READ_ONLY', 'GROUP_OWNER'],
      ['GROUP_READ_ONLY'],
    );
    expect(simulator.calls.map((c) => [c.status, c.auth, JSON.stringify(c.body), c.digest?.nc])).toEqual([
      [401, 'none', '{"groupRoles":["GROUP_READ_ONLY","GROUP_OWNER"]}', undefined],
      [200, 'digest', '{"groupRoles":["GROUP_READ_ONLY","GROUP_OWNER"]}', '00000001'],
      [200, 'digest', '{"groupRoles":["GROUP_READ_ONLY"]}', '00000002'],
    ]);
    await client.close();
  });

  it('names the role the key needs when the key is wrong', async () => {
    const client = fixtureClient(simulator, 'atlas-v2', {
      kind: 'digest',
      publicKey: FIXTURE.apiKey.publicKey,
      privateKey: 'nope',
    });
    const error = await appErrorOf(() =>
      client.roles.setRoles(
        PROJECT,
        FIXTURE.alice.id,
        ['GROUP_READ_ONLY'],
        ['GROUP_READ_ONLY', 'GROUP_OWNER'],
      ),
    );
    expect(error.code).toBe('ATLAS_AUTH_FAILED');
    expect(error.message).toContain('needs the Project Owner role');
    expect(simulator.authenticatedCalls()).toEqual([]);
    await client.close();
  });
});

describe('secrets', () => {
  it('never appear in log lines or error messages, whatever fails', async () => {
    const simulator = await startFixtureSimulator();
    const { logger, lines } = createCapturingLogger();
    const messages: string[] = [];
    const collect = async (run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (error) {
        messages.push(String(error), JSON.stringify(error), (error as Error).stack ?? '');
      }
    };
    for (const auth of [AUTHS.digest, AUTHS.oauth]) {
      const client = fixtureClient(simulator, 'atlas-v2', auth, logger);
      await collect(() => client.roles.readUser('nobody@example.com', PROJECT));
      simulator.inject({
        status: 403,
        body: { error: 403, errorCode: 'IP_ADDRESS_NOT_ON_WHITELIST', detail: 'IP not allowed' },
      });
      await collect(() =>
        client.roles.setRoles(PROJECT, FIXTURE.alice.id, ['GROUP_READ_ONLY'], ['GROUP_OWNER']),
      );
      simulator.inject({ reset: true, times: 10 });
      await collect(() => client.roles.readUser(FIXTURE.alice.email, PROJECT));
      await client.close();
    }
    const badKey = fixtureClient(
      simulator,
      'atlas-v2',
      { kind: 'oauth', clientId: 'x', clientSecret: FIXTURE.serviceAccount.clientSecret },
      logger,
    );
    await collect(() => badKey.roles.readUser(FIXTURE.alice.email, PROJECT));
    await badKey.close();

    expect(messages.length).toBeGreaterThanOrEqual(7 * 3);
    expect(lines.length).toBeGreaterThan(0);
    const everything = [...lines, ...messages].join('\n');
    for (const secret of [FIXTURE.apiKey.privateKey, FIXTURE.serviceAccount.clientSecret, 'sim.']) {
      expect(everything).not.toContain(secret);
    }
    await simulator.close();
  });
});
