import type { Logger } from '../ops/logger.js';
import type { AtlasConfig } from './atlas-options.js';
import type { AtlasDatabaseAccessApi } from './database-access-api.js';
import type { AtlasFederationApi } from './federation-api.js';
import { createAtlasV1RolesApi } from './flavors/atlas-v1.js';
import { createAtlasV2RolesApi } from './flavors/atlas-v2.js';
import { createAtlasV2025RolesApi } from './flavors/atlas-v2-2025.js';
import { createDatabaseAccessV2Api } from './flavors/database-access-v2.js';
import { createAtlasV2FederationApi } from './flavors/federation-v2.js';
import { createProjectOrgLookup } from './flavors/project-membership.js';
import { createPublicApiRolesApi } from './flavors/public-api.js';
import { ATLAS_V2_2023 } from './flavors/shared.js';
import { type AtlasHttp, type AtlasHttpOptions, createAtlasHttp, type DryRunWrite } from './http-client.js';
import type { RateLimiter } from './rate-limiter.js';
import type { BackoffOptions } from './retry.js';
import type { AtlasRolesApi } from './roles-api.js';
import { withTeamMemberships } from './team-memberships.js';
import { withValidation } from './validate.js';

/** The Atlas client the worker uses, and its HTTP layer (for shutdown). */
export interface AtlasClient {
  readonly roles: AtlasRolesApi;
  /** Role mappings and federated-login events: the Atlas v2 flavors only (atlas-v2, atlas-v2-2025). */
  readonly federation?: AtlasFederationApi;
  /** The organization that owns a project (cached: it never changes). */
  readonly orgOfProject: (groupId: string) => Promise<string>;
  readonly http: AtlasHttp;
  /** Temporary database users and IP access-list entries: atlas-v2 and atlas-v2-2025 only. */
  readonly database?: AtlasDatabaseAccessApi;
  close(): Promise<void>;
}

/** Builds the client for the configured flavor and credentials, validated before every call. */
export function createAtlasClient(
  config: AtlasConfig,
  deps: {
    logger: Logger;
    rateLimiter?: RateLimiter;
    backoff?: BackoffOptions;
    onExchange?: AtlasHttpOptions['onExchange'];
    /** The teams the policy names by 24-hex id (their items are `team:<id>`, team-memberships.ts). */
    teamsNamedById?: () => ReadonlySet<string>;
    /** The team names the policy writes, in its spelling (team-memberships.ts `namedByName`). */
    teamsNamedByName?: () => readonly string[];
    /** Told each write a dry run (config.dryRun) did not send. */
    onDryRun?: (write: DryRunWrite) => void;
  },
): AtlasClient {
  const http = createAtlasHttp({
    baseUrl: config.baseUrl,
    auth: config.auth,
    logger: deps.logger,
    timeoutMs: config.timeoutMs,
    maxRetries: config.maxRetries,
    proxy: config.proxy,
    ...(deps.rateLimiter ? { rateLimiter: deps.rateLimiter } : {}),
    ...(deps.backoff ? { backoff: deps.backoff } : {}),
    ...(deps.onExchange ? { onExchange: deps.onExchange } : {}),
    ...(config.dryRun ? { dryRun: deps.onDryRun ?? (() => undefined) } : {}),
  });
  const flavors = {
    'atlas-v2': createAtlasV2RolesApi,
    'atlas-v2-2025': createAtlasV2025RolesApi,
    'cloud-manager': createPublicApiRolesApi,
    'ops-manager': createPublicApiRolesApi,
    'atlas-v1': createAtlasV1RolesApi,
  } as const;
  const validated = withValidation(config.api, flavors[config.api](http, { pageSize: config.pageSize }));
  const v1Base = config.api === 'atlas-v1' ? '/api/atlas/v1.0' : '/api/public/v1.0';
  const orgOfProject = createProjectOrgLookup(
    http,
    config.api.startsWith('atlas-v2')
      ? { base: '/api/atlas/v2', mediaType: ATLAS_V2_2023 }
      : { base: v1Base, mediaType: 'application/json' },
  );
  const roles = validated.teams
    ? withTeamMemberships(validated, {
        teams: validated.teams,
        orgOfProject,
        ...(deps.teamsNamedById ? { namedById: deps.teamsNamedById } : {}),
        ...(deps.teamsNamedByName ? { namedByName: deps.teamsNamedByName } : {}),
      })
    : validated;
  // Federation and database users: the Atlas Admin API v2 only.
  const v2 = config.api === 'atlas-v2' || config.api === 'atlas-v2-2025';
  return {
    roles,
    orgOfProject,
    ...(v2 ? { federation: createAtlasV2FederationApi(http, { pageSize: config.pageSize }) } : {}),
    ...(v2 ? { database: createDatabaseAccessV2Api(http, { pageSize: config.pageSize }) } : {}),
    http,
    close: () => http.close(),
  };
}
