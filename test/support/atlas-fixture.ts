import {
  type AtlasSimulator,
  type AtlasSimulatorOptions,
  startAtlasSimulator,
} from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor, AtlasAuthConfig, AtlasConfig } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import { type AtlasHttpOptions, createAtlasHttp } from '../../src/atlas/http-client.js';
import { createLogger, type Logger } from '../../src/ops/logger.js';

/** Ids and credentials of the Atlas fixture. */
export const FIXTURE = {
  org: '6a0000000000000000000001',
  project: '6b0000000000000000000001',
  alice: { id: '6c0000000000000000000001', email: 'alice@example.com' },
  owner: { id: '6c0000000000000000000002', email: 'owner@example.com' },
  apiKey: { publicKey: 'fixturepub', privateKey: 'fixture-private-key-5ec7e7' },
  serviceAccount: { clientId: 'mdb_sa_id_fixture', clientSecret: 'mdb_sa_sk_fixture-secret-9f3a' },
} as const;

/** Both kinds of credentials, as config. */
export const AUTHS: Record<'digest' | 'oauth', AtlasAuthConfig> = {
  digest: { kind: 'digest', ...FIXTURE.apiKey },
  oauth: { kind: 'oauth', ...FIXTURE.serviceAccount },
};

/** Starts a simulator with one org, one project, Alice (member of both) and an org owner. */
export function startFixtureSimulator(
  overrides: Partial<AtlasSimulatorOptions> = {},
): Promise<AtlasSimulator> {
  return startAtlasSimulator({
    apiKeys: [FIXTURE.apiKey],
    serviceAccounts: [FIXTURE.serviceAccount],
    orgs: [{ id: FIXTURE.org, name: 'acme' }],
    projects: [{ id: FIXTURE.project, name: 'payments-prod', orgId: FIXTURE.org }],
    users: [
      {
        id: FIXTURE.alice.id,
        username: FIXTURE.alice.email,
        orgRoles: { [FIXTURE.org]: ['ORG_MEMBER'] },
        groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
      },
      { id: FIXTURE.owner.id, username: FIXTURE.owner.email, orgRoles: { [FIXTURE.org]: ['ORG_OWNER'] } },
    ],
    ...overrides,
  });
}

/** A logger that keeps its lines, to check what was (and was not) written. */
export function createCapturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }), lines };
}

/** An Atlas config for the simulator, generous limits, fast retries. */
export function fixtureConfig(
  simulator: AtlasSimulator,
  api: AtlasApiFlavor,
  auth: AtlasAuthConfig,
): AtlasConfig {
  return {
    api,
    baseUrl: simulator.url,
    auth,
    timeoutMs: 2_000,
    maxRetries: 3,
    pageSize: 500,
    dryRun: false,
    rateLimits: {
      org: { capacity: 500, refillPerMinute: 250 },
      project: { capacity: 1200, refillPerMinute: 500 },
      user: { capacity: 2500, refillPerMinute: 2000 },
    },
  };
}

/** The full client for a flavor and auth, against the simulator. */
export function fixtureClient(
  simulator: AtlasSimulator,
  api: AtlasApiFlavor,
  auth: AtlasAuthConfig,
  logger?: Logger,
) {
  return createAtlasClient(fixtureConfig(simulator, api, auth), {
    logger: logger ?? createCapturingLogger().logger,
    backoff: { baseMs: 10, capMs: 50 },
  });
}

/** Just the HTTP layer, with recorded sleeps instead of real ones. */
export function fixtureHttp(simulator: AtlasSimulator, overrides: Partial<AtlasHttpOptions> = {}) {
  const sleeps: number[] = [];
  const { logger, lines } = createCapturingLogger();
  const http = createAtlasHttp({
    baseUrl: simulator.url,
    auth: AUTHS.digest,
    logger,
    timeoutMs: 500,
    maxRetries: 3,
    backoff: { baseMs: 10, capMs: 100 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { http, sleeps, lines };
}
