import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, type Redis } from 'ioredis';
import type { AtlasApiFlavor } from '../src/atlas/atlas-options.js';
import { type Rolecall, type RolecallOverrides, startRolecall } from '../src/compose/start-rolecall.js';
import { type Config, parseConfig, type RunMode } from '../src/config.js';
import { redisKeys } from '../src/lib/redis-keys.js';
import { createLogger } from '../src/ops/logger.js';
import type { RedisConfig } from '../src/ops/redis.js';
import { createRedisClient } from '../src/ops/redis.js';
import { type AtlasSimulator, type AtlasSimulatorOptions, startAtlasSimulator } from './atlas-simulator.js';
import { createSlackDriver, type SlackDriver } from './slack-driver.js';
import { type SimulatedSlackUser, type SlackSimulator, startSlackSimulator } from './slack-simulator.js';

/** The cast of the demo and the tests. */
export const PEOPLE = {
  alice: { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  bob: { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  carol: { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
  mallory: { id: 'U0MALLORY', name: 'mallory', email: 'mallory@example.com' },
  dave: { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
  /** Her Slack profile email has capitals; her Atlas username, like every Atlas username, does not. */
  dana: { id: 'U0DANA', name: 'dana', email: 'Dana.Smith@Example.com' },
  /** A multi-channel guest. */
  gus: { id: 'U0GUS', name: 'gus', email: 'gus@example.com', guest: 'multi' },
  /** A deactivated account. */
  dee: { id: 'U0DEE', name: 'dee', email: 'dee@example.com', deleted: true },
  /** Someone from a partner's workspace, in a shared channel (Slack Connect). */
  pat: { id: 'U0PAT', name: 'pat', email: 'pat@partner.example', teamId: 'T0PARTNER' },
} as const satisfies Record<string, SimulatedSlackUser>;

/** Slack channels of the sandbox workspace. */
export const CHANNELS = { approvals: 'C0APPROVALS', general: 'C0GENERAL', payments: 'C0PAYMENTS' } as const;

/** The sandbox's Atlas organization and project. */
export const ATLAS = {
  org: { id: '5f1a2b3c4d5e6f7a8b9c0d10', name: 'acme' },
  project: { id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-prod' },
  apiKey: { publicKey: 'sandboxpub', privateKey: '8d2c7f1e-sandbox-private-key' },
  serviceAccount: { clientId: 'mdb_sa_id_sandbox', clientSecret: 'mdb_sa_sk_sandbox-secret' },
  userIds: {
    alice: '64b000000000000000000a11',
    bob: '64b000000000000000000b0b',
    carol: '64b000000000000000000ca1',
    mallory: '64b000000000000000000ba0',
    dana: '64b000000000000000000da0',
  },
} as const;

const SANDBOX_APP_TOKEN = 'xapp-sandbox-token';

/** The Enterprise Grid organization of an org-wide sandbox; its one workspace is the sandbox's. */
export const SANDBOX_ENTERPRISE = { id: 'E0ROLECALL', name: 'Rolecall Org', teams: ['T0ROLECALL'] } as const;

/** The sandbox's policy file. */
export const SANDBOX_POLICY = `# Rolecall sandbox policy
approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
  - name: ${ATLAS.org.name}
    org: ${ATLAS.org.id}
    approvers: [${PEOPLE.carol.id}]
    roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY, ORG_GROUP_CREATOR]
`;

/** Options for {@link startSandbox}. */
export interface SandboxOptions {
  readonly redisUrl: string;
  /** PEM of the CA of a `rediss://` Redis (the app gets it as REDIS_TLS_CA). */
  readonly redisTlsCa?: string;
  /** @defaultValue a random `rolecall-sandbox-…` prefix */
  readonly prefix?: string;
  /** Extra or replacement environment variables for Rolecall. */
  readonly env?: Readonly<Record<string, string>>;
  readonly overrides?: RolecallOverrides;
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  readonly slackPort?: number;
  readonly atlasPort?: number;
  /** What the in-process app runs. @defaultValue 'all' */
  readonly mode?: RunMode;
  /** More organizations, projects and users for the Atlas simulator, beside the sandbox's own. */
  readonly atlas?: {
    readonly orgs?: AtlasSimulatorOptions['orgs'];
    readonly projects?: AtlasSimulatorOptions['projects'];
    readonly users?: AtlasSimulatorOptions['users'];
    readonly teams?: AtlasSimulatorOptions['teams'];
    readonly federation?: AtlasSimulatorOptions['federation'];
    readonly clusters?: AtlasSimulatorOptions['clusters'];
    readonly databaseUserLimit?: AtlasSimulatorOptions['databaseUserLimit'];
  };
  /** Make the Atlas simulator enforce rate limits like Atlas (429 on an empty bucket). @defaultValue none */
  readonly atlasRateLimits?: AtlasSimulatorOptions['rateLimits'];
  /** The policy file's text. @defaultValue {@link SANDBOX_POLICY} */
  readonly policy?: string;
  /** More people in the Slack workspace, beside the sandbox's cast (benchmarks need many). */
  readonly slackUsers?: readonly SimulatedSlackUser[];
  /** Slack user groups (`S…`) and their members. @defaultValue none */
  readonly userGroups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Install the app org-wide in an Enterprise Grid organization ({@link SANDBOX_ENTERPRISE}, whose
   * one workspace is the sandbox's) instead of in the workspace. @defaultValue false
   */
  readonly orgWide?: boolean;
  /**
   * ATLAS_API. The flow suites run on both `atlas-v2` and the product's default `atlas-v2-2025`
   * (test/support/flow-flavors.ts); every flavor is exercised by test/e2e/atlas-flavors.test.ts.
   * @defaultValue 'atlas-v2' (the 2023-01-01 PUT calls the tests' timelines were first written against)
   */
  readonly atlasApi?: AtlasApiFlavor;
  /** Authenticate to Atlas with the sandbox service account (OAuth) instead of the API key (Digest). */
  readonly serviceAccount?: boolean;
  /** Socket Mode instead of HTTP: the WebSocket URL apps.connections.open hands out. */
  readonly socketModeUrl?: string;
  /**
   * Let Rolecall post its "started on an empty Redis store" notice in the approvals channels, as a
   * real first start does. Off by default so each test's channels hold only what the test does: the
   * notice is marked as given before the app starts (the app still creates the store's epoch).
   * @defaultValue false
   */
  readonly announceEmptyStore?: boolean;
}

/** Rolecall wired to local Slack and Atlas simulators, plus a driver that speaks for the people. */
export interface Sandbox {
  readonly config: Config;
  /** The environment Rolecall was configured from, to start more processes (workers) alike. */
  readonly env: Readonly<Record<string, string>>;
  /** The running application; replaced by {@link Sandbox.restart}. */
  readonly rolecall: Rolecall;
  readonly slack: SlackSimulator;
  readonly atlas: AtlasSimulator;
  readonly driver: SlackDriver;
  readonly eventsUrl: string;
  readonly signingSecret: string;
  /**
   * Stops the application and starts a new one on the same Redis prefix and simulators, after
   * `downMs` with nothing running (a Rolecall that was down for a while).
   */
  restart(downMs?: number): Promise<void>;
  /** Stops Rolecall and the simulators and deletes every Redis key under the prefix. */
  stop(): Promise<void>;
}

/** Starts simulators and the real application (same composition root as `npm start`). */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const prefix = options.prefix ?? `rolecall-sandbox-${randomBytes(4).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  const slack = await startSlackSimulator({
    botToken: 'xoxb-sandbox-token',
    users: [...Object.values(PEOPLE), ...(options.slackUsers ?? [])],
    channels: Object.values(CHANNELS),
    ...(options.userGroups === undefined ? {} : { userGroups: options.userGroups }),
    ...(options.orgWide ? { enterprise: SANDBOX_ENTERPRISE } : {}),
    ...(options.slackPort === undefined ? {} : { port: options.slackPort }),
    ...(options.socketModeUrl === undefined
      ? {}
      : { socketMode: { appToken: SANDBOX_APP_TOKEN, url: options.socketModeUrl } }),
  });
  const atlas = await startAtlasSimulator({
    apiKeys: [ATLAS.apiKey],
    serviceAccounts: [ATLAS.serviceAccount],
    orgs: [ATLAS.org, ...(options.atlas?.orgs ?? [])],
    projects: [{ ...ATLAS.project, orgId: ATLAS.org.id }, ...(options.atlas?.projects ?? [])],
    users: [
      {
        id: ATLAS.userIds.alice,
        username: PEOPLE.alice.email,
        orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
        groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      },
      {
        id: ATLAS.userIds.bob,
        username: PEOPLE.bob.email,
        orgRoles: { [ATLAS.org.id]: ['ORG_OWNER'] },
        groupRoles: { [ATLAS.project.id]: ['GROUP_OWNER'] },
      },
      { id: ATLAS.userIds.carol, username: PEOPLE.carol.email, orgRoles: { [ATLAS.org.id]: ['ORG_OWNER'] } },
      {
        id: ATLAS.userIds.mallory,
        username: PEOPLE.mallory.email,
        orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      },
      {
        id: ATLAS.userIds.dana,
        username: PEOPLE.dana.email.toLowerCase(),
        orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
        groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
      },
      ...(options.atlas?.users ?? []),
    ],
    ...(options.atlas?.teams ? { teams: options.atlas.teams } : {}),
    ...(options.atlas?.federation ? { federation: options.atlas.federation } : {}),
    ...(options.atlas?.clusters ? { clusters: options.atlas.clusters } : {}),
    ...(options.atlas?.databaseUserLimit === undefined
      ? {}
      : { databaseUserLimit: options.atlas.databaseUserLimit }),
    ...(options.atlasPort === undefined ? {} : { port: options.atlasPort }),
    ...(options.atlasRateLimits === undefined ? {} : { rateLimits: options.atlasRateLimits }),
  });
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-sandbox-'));
  const policyFile = join(dir, 'policy.yml');
  await writeFile(policyFile, options.policy ?? SANDBOX_POLICY);
  if (options.redisTlsCa) await writeFile(join(dir, 'redis-ca.pem'), options.redisTlsCa);
  // Set once the environment parses; until then cleanup knows only the options.
  let parsed: Config | undefined;
  const cleanup = async () => {
    await Promise.all([slack.close(), atlas.close()]);
    await rm(dir, { recursive: true, force: true });
    // In a cluster the prefix carries its hash tag (config.redis.prefix is `{prefix}`).
    await deleteRedisKeys(
      parsed?.redis ?? {
        url: options.redisUrl,
        prefix,
        ...(options.redisTlsCa ? { tlsCa: options.redisTlsCa } : {}),
      },
    );
  };
  // The audit log lines follow LOG_LEVEL here, so tests and benchmarks stay quiet.
  const overridesFor = (config: Config): RolecallOverrides =>
    options.overrides?.logger
      ? options.overrides
      : { ...options.overrides, logger: createLogger({ level: config.logLevel }) };
  let rolecall: Rolecall;
  let config: Config;
  const ATLAS_CREDENTIAL = /^ATLAS_(PUBLIC_KEY|PRIVATE_KEY|CLIENT_ID|CLIENT_SECRET)$/;
  let env: Record<string, string>;
  try {
    env = {
      SLACK_BOT_TOKEN: 'xoxb-sandbox-token',
      ...(options.socketModeUrl === undefined
        ? { SLACK_SIGNING_SECRET: signingSecret }
        : { SLACK_APP_TOKEN: SANDBOX_APP_TOKEN }),
      SLACK_API_URL: slack.apiUrl,
      PORT: String(options.port ?? 0),
      REDIS_URL: options.redisUrl,
      ...(options.redisTlsCa ? { REDIS_TLS_CA: join(dir, 'redis-ca.pem') } : {}),
      QUEUE_PREFIX: prefix,
      ATLAS_BASE_URL: atlas.url,
      ATLAS_API: options.atlasApi ?? 'atlas-v2',
      ...(options.serviceAccount
        ? {
            ATLAS_CLIENT_ID: ATLAS.serviceAccount.clientId,
            ATLAS_CLIENT_SECRET: ATLAS.serviceAccount.clientSecret,
          }
        : { ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey, ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey }),
      POLICY_FILE: policyFile,
      LOG_LEVEL: 'warn',
      // Tests stop apps by the hundred; the drain has tests of its own (test/workflow/graceful-shutdown.test.ts).
      SHUTDOWN_DRAIN: '0',
      ...options.env,
    };
    const mode = options.mode ?? 'all';
    // A bot process holds no Atlas credential (config refuses it); `env` keeps them for workers.
    const own =
      mode === 'bot'
        ? Object.fromEntries(Object.entries(env).filter(([key]) => !ATLAS_CREDENTIAL.test(key)))
        : env;
    config = parseConfig(own, { mode });
    parsed = config;
    if (!options.announceEmptyStore) await markStartNoticeGiven(config.redis);
    rolecall = await startRolecall(config, overridesFor(config));
  } catch (error) {
    await cleanup();
    throw error;
  }
  const eventsUrl = () => `http://127.0.0.1:${rolecall.port}/slack/events`;
  return {
    config,
    env,
    get rolecall() {
      return rolecall;
    },
    slack,
    atlas,
    get eventsUrl() {
      return eventsUrl();
    },
    signingSecret,
    driver: createSlackDriver({ eventsUrl, signingSecret, slack }),
    async restart(downMs = 0) {
      await rolecall.stop();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      rolecall = await startRolecall(config, overridesFor(config));
    },
    async stop() {
      await rolecall.stop();
      await cleanup();
    },
  };
}

/** Marks the empty-store notice as given (see SandboxOptions.announceEmptyStore). */
async function markStartNoticeGiven(settings: RedisConfig): Promise<void> {
  const client = createRedisClient(settings, 'commands');
  try {
    if (client instanceof Cluster) await client.connect();
    await client.hsetnx(redisKeys(settings.prefix).store, 'startedNoticeAt', String(Date.now()));
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under `prefix:` (SCAN, never KEYS). */
export function deleteKeys(redisUrl: string, prefix: string, tlsCa?: string): Promise<number> {
  return deleteRedisKeys({ url: redisUrl, prefix, ...(tlsCa ? { tlsCa } : {}) });
}

/** Deletes every key under `settings.prefix:` on one Redis or on every master of a cluster. */
export async function deleteRedisKeys(settings: RedisConfig): Promise<number> {
  let deleted = 0;
  await scanKeys(settings, `${settings.prefix}:*`, async (server, keys) => {
    deleted += await server.unlink(...keys);
  });
  return deleted;
}

/**
 * Ids of the requests stored under `settings.prefix` (their `request:<id>` hashes), in the order they
 * were issued (time-ordered ids of one length sort as text). What a test counts instead of the id
 * counter, which no longer counts (src/lib/ids.ts).
 */
export async function storedRequestIds(settings: RedisConfig): Promise<string[]> {
  const ids: string[] = [];
  const key = redisKeys(settings.prefix).request('');
  await scanKeys(settings, `${key}*`, async (_server, keys) => {
    for (const found of keys) {
      const id = found.slice(key.length);
      if (/^AR-[0-9A-Z]+$/.test(id)) ids.push(id);
    }
  });
  return ids.sort();
}

/** Hands each batch of keys that match `pattern` to `visit`, on one Redis or on every master of a cluster (SCAN, never KEYS). */
async function scanKeys(
  settings: RedisConfig,
  pattern: string,
  visit: (server: Redis, keys: string[]) => Promise<void>,
): Promise<void> {
  const client = createRedisClient(settings, 'commands');
  try {
    if (client instanceof Cluster) await client.connect();
    const servers = client instanceof Cluster ? client.nodes('master') : [client];
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await visit(server, keys);
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}
