/**
 * What the Atlas client is built from: the flavor of role APIs, the credentials, the proxy and the
 * client-side rate limits. config.ts reads them from the environment; nothing here reads it.
 */

/** Which family of role APIs the worker calls (README: "Atlas API flavors"). */
export type AtlasApiFlavor = 'atlas-v2' | 'atlas-v2-2025' | 'cloud-manager' | 'ops-manager' | 'atlas-v1';

/**
 * The flavor when ATLAS_API is unset: the 2025-02-19 resources, because the 2023-01-01 PUT endpoints
 * of `atlas-v2` are sunset on 2027-07-01 (Atlas Admin API changelog; reference/atlas/NOTES.md).
 */
export const DEFAULT_ATLAS_API: AtlasApiFlavor = 'atlas-v2-2025';

/** All flavors, for validation and docs. */
export const ATLAS_API_FLAVORS: readonly AtlasApiFlavor[] = [
  'atlas-v2',
  'atlas-v2-2025',
  'cloud-manager',
  'ops-manager',
  'atlas-v1',
];

/** How Rolecall signs its calls to the Atlas Admin API: an API key pair (Digest) or a service account (OAuth). */
export type AtlasAuthConfig =
  | { readonly kind: 'digest'; readonly publicKey: string; readonly privateKey: string }
  | { readonly kind: 'oauth'; readonly clientId: string; readonly clientSecret: string };

/** A client-side token bucket: at most `capacity` calls at once, refilled at `refillPerMinute`. */
export interface BucketConfig {
  readonly capacity: number;
  readonly refillPerMinute: number;
}

/** Where Atlas calls go through when a proxy is set. */
export interface AtlasProxyConfig {
  /** Proxy URL for https:// origins; '' when none. */
  readonly httpsProxy: string;
  /** Proxy URL for http:// origins; '' when none. */
  readonly httpProxy: string;
  /** Comma-separated hosts (with optional port, leading `.` or `*`) reached directly; '' when none. */
  readonly noProxy: string;
}

/** Everything the Atlas client needs. */
export interface AtlasConfig {
  readonly api: AtlasApiFlavor;
  readonly baseUrl: string;
  readonly auth: AtlasAuthConfig;
  /** One HTTP exchange, in ms. */
  readonly timeoutMs: number;
  /** Retries after the first attempt for 429, 5xx, resets and timeouts. */
  readonly maxRetries: number;
  /** Items per page when listing members (spec `itemsPerPage`, 1–500). */
  readonly pageSize: number;
  /** ATLAS_DRY_RUN: every read is real, no write (PUT, PATCH, POST, DELETE) is sent. */
  readonly dryRun: boolean;
  /**
   * Where Atlas calls go through when HTTPS_PROXY / HTTP_PROXY are set (NO_PROXY hosts go direct);
   * absent when neither is set. Atlas API access lists often need one fixed egress address.
   */
  readonly proxy?: AtlasProxyConfig;
  /** Per endpoint set and scope (Atlas rate limits, NOTES section 9). */
  readonly rateLimits: {
    readonly org: BucketConfig;
    readonly project: BucketConfig;
    readonly user: BucketConfig;
  };
}
