import type { Logger } from '../ops/logger.js';
import type { AtlasConfig } from './atlas-options.js';
import type { AtlasDatabaseAccessApi } from './database-access-api.js';
import { createAtlasV1RolesApi } from './flavors/atlas-v1.js';
import { createAtlasV2RolesApi } from './flavors/atlas-v2.js';
import { createAtlasV2025RolesApi } from './flavors/atlas-v2-2025.js';
import { createDatabaseAccessV2Api } from './flavors/database-access-v2.js';
import { createPublicApiRolesApi } from './flavors/public-api.js';
import { type AtlasHttp, type AtlasHttpOptions, createAtlasHttp, type DryRunWrite } from './http-client.js';
import type { RateLimiter } from './rate-limiter.js';
import type { BackoffOptions } from './retry.js';
import type { AtlasRolesApi } from './roles-api.js';
import { withValidation } from './validate.js';

/** The Atlas client the worker uses, and its HTTP layer (for shutdown). */
export interface AtlasClient {
  readonly roles: AtlasRolesApi;
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
  const roles = flavors[config.api](http, { pageSize: config.pageSize });
  const database =
    config.api === 'atlas-v2' || config.api === 'atlas-v2-2025'
      ? createDatabaseAccessV2Api(http, { pageSize: config.pageSize })
      : undefined;
  return {
    roles: withValidation(config.api, roles),
    http,
    ...(database ? { database } : {}),
    close: () => http.close(),
  };
}
