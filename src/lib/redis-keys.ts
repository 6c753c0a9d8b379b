import type { ScopeKind } from './scope.js';

/**
 * Every Redis key Rolecall writes, in one place. All of them live under QUEUE_PREFIX; BullMQ keeps its
 * own keys under `<prefix>:<queue>:…` (see jobs/queues.ts). On a Redis Cluster the prefix is
 * `{QUEUE_PREFIX}` (config.ts), a hash tag: every key below and BullMQ's hash to one slot, which
 * each Lua script needs, since it gets all its keys in KEYS.
 *
 * | key | type | what |
 * |---|---|---|
 * | `request:<id>` | hash | one access request (JSON fields, its audit trail in `trail`; settled: compressed in `z0`, `z1`, …) |
 * | `request:<id>:audit` | list (JSON entries; a stream before schema 2) | the audit trail of a request stored before trails were kept in its hash |
 * | `request:seq` | string | last request number (lib/ids.ts: never below the clock) |
 * | `audit` | stream | every audit entry of every request |
 * | `index:requester:<user>` | zset | a person's requests, by creation time |
 * | `index:grantee:<user>` | zset | requests made for a person by someone else (and, stored before, by them), by creation time |
 * | `index:decider:<user>` | zset | the latest 100 requests a person decided on, by the time of their decision |
 * | `review:<id>` | hash | an access review: `data` (JSON: target, lines), `messages`, `closedAt` |
 * | `review:<id>:decisions` | hash | line number -> the decision on it (JSON), written once |
 * | `review:seq` | string | last review number |
 * | `reviews:<org\|project>:<atlas id>` | zset | a target's reviews, by creation time |
 * | `reviews:<org\|project>:<atlas id>:open` | hash | the target's review being started or open: `token` (its start job), `startedBy`, `at`, `review` (its id, once made); gone when it closes |
 * | `offboard:<id>` | string | an offboarding (JSON): who, decisions, each target's outcome |
 * | `offboard:seq` | string | last offboarding number |
 * | `workflow:<execution id>` | string | the request a Workflow Builder step made (a redelivered event makes no second one) |
 * | `workflow-confirm:<execution id>` | string | a Workflow Builder step's on-behalf request waiting for the person who ran it to confirm (JSON), kept 7 days past its deadline |
 * | `workflow-confirm:due` | zset | step confirmations with something owed (a deadline, a step to end), by when |
 * | `home:viewers` | zset | people who opened Rolecall's Home tab, by when (refreshed on changes) |
 * | `home:view:<user>` | string | hash of the Home tab last published to a person (skip unchanged) |
 * | `index:pending:<atlas id>` | set | pending requests per target |
 * | `index:open:<user>` | set | a person's requests not decided yet (submitted, pending), for the per-user limit |
 * | `limit:submit:<user>` | zset | a person's recent submissions, by time (the per-minute limit) |
 * | `limit:held:<user>` | string | submissions counted but not stored yet (the open-request limit) |
 * | `stats:refusals` | hash | refused actions, per action (and `suppressed`: refusals kept out of the audit) |
 * | `limit:refusals:<user>:<minute>` | string | a person's refusals in one minute (the audit flood cap) |
 * | `index:active` | zset | requests the system still has to move, by last update (sweeper) |
 * | `grants:<org\|project>:<atlas id>:<email>` | hash | the grant ledger of one person on one target |
 * | `grants:ending` | zset | requests holding temporary grants, by end time (reconciliation) |
 * | `stats:reconcile` | hash | reconciliation counters |
 * | `lock:<name>`, `lock-fence` | string | per-user Atlas write locks and their fencing counter |
 * | `atlas-rate:<bucket>` | hash | client-side Atlas token buckets |
 * | `atlas-rate:<bucket>:waiters` | zset | callers waiting for a token of that bucket, by deadline (their expiries: `w:<id>` fields of the bucket's hash) |
 * | `extension:<grant id>` | string | the one extension request open for a grant (or a filing token) |
 * | `nudge:<request id>` | string | the requester nudged this request's approvers (once per request; requests/nudge-claims.ts) |
 * | `trace:<request id>` | string | with tracing on, the trace context of the Slack request that filed it, so its decision joins that trace (ops/trace-links.ts; expires after REQUEST_TTL) |
 * | `receipts`, `receipts:at` | hash, zset | what Slack delivered and was acknowledged, until its work is done (requests/receipts.ts) |
 * | `process:<id>` | string | a running process's heartbeat (expires 15 s after its last beat): its receipts are still being worked on |
 * | `store:notice-lease:<started\|loss>` | string | who is posting a store notice now (30 s) |
 * | `store` | hash | this store's identity: `createdAt` (ms, the Redis server's clock), `origin`, when its start and a loss were announced |
 */
export interface RedisKeys {
  readonly prefix: string;
  request(id: string): string;
  requestAudit(id: string): string;
  readonly requestSeq: string;
  readonly audit: string;
  requesterIndex(userId: string): string;
  granteeIndex(userId: string): string;
  deciderIndex(userId: string): string;
  readonly homeViewers: string;
  workflowRequest(executionId: string): string;
  /** A step's on-behalf request waiting for its runner's Confirm; `executionId` checked by the caller. */
  stepConfirmation(executionId: string): string;
  readonly stepConfirmationsDue: string;
  review(id: string): string;
  reviewDecisions(id: string): string;
  readonly reviewSeq: string;
  reviewsOf(kind: ScopeKind, targetId: string): string;
  /** The one review of a target that is being started or is open (see ReviewStore.claim). */
  reviewOpen(kind: ScopeKind, targetId: string): string;
  offboarding(id: string): string;
  readonly offboardingSeq: string;
  /** Set when an offboarding of this Atlas username (lower case) is approved: its id; grants are refused. */
  offboarded(email: string): string;
  homeView(userId: string): string;
  pendingIndex(targetId: string): string;
  openIndex(userId: string): string;
  submitLimit(userId: string): string;
  submitHeld(userId: string): string;
  readonly refusalStats: string;
  /** `minute` = floor(ms since epoch / 60 000). */
  refusalCount(userId: string, minute: number): string;
  readonly activeIndex: string;
  /** The ledger of `email` on one org or project; the email is normalised to lower case here. */
  ledger(kind: ScopeKind, scopeId: string, email: string): string;
  readonly grantsEnding: string;
  readonly reconcileStats: string;
  lock(name: string): string;
  readonly lockFence: string;
  atlasRate(bucket: string): string;
  /** Who waits for a token of that bucket, by deadline (atlas/lua/take-token.lua); same hash slot as the bucket. */
  atlasRateWaiters(bucket: string): string;
  /** The open extension of a grant (requests/extension-claims.ts). */
  extensionSlot(grantId: string): string;
  /** A request whose approvers were nudged (requests/nudge-claims.ts). */
  nudge(requestId: string): string;
  /** The trace a request was filed in (ops/trace-links.ts), with tracing on. */
  traceLink(requestId: string): string;
  /** Acknowledged Slack deliveries not yet done (requests/receipts.ts): id -> JSON, and id -> time. */
  readonly receipts: string;
  readonly receiptTimes: string;
  /** A running process's heartbeat: receipts it took are still being worked on while it lasts. */
  processBeat(owner: string): string;
  /** This store's identity (continuity/store-epoch.ts): a store without it is new, or lost its data. */
  readonly store: string;
  /** The lease of the process posting a store notice (continuity/store-epoch.ts). */
  storeNoticeLease(notice: string): string;
}

/** The key registry for one QUEUE_PREFIX. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    request: (id) => `${prefix}:request:${id}`,
    requestAudit: (id) => `${prefix}:request:${id}:audit`,
    requestSeq: `${prefix}:request:seq`,
    audit: `${prefix}:audit`,
    requesterIndex: (userId) => `${prefix}:index:requester:${userId}`,
    granteeIndex: (userId) => `${prefix}:index:grantee:${userId}`,
    deciderIndex: (userId) => `${prefix}:index:decider:${userId}`,
    homeViewers: `${prefix}:home:viewers`,
    workflowRequest: (executionId) => `${prefix}:workflow:${executionId}`,
    stepConfirmation: (executionId) => `${prefix}:workflow-confirm:${executionId}`,
    stepConfirmationsDue: `${prefix}:workflow-confirm:due`,
    review: (id) => `${prefix}:review:${id}`,
    reviewDecisions: (id) => `${prefix}:review:${id}:decisions`,
    reviewSeq: `${prefix}:review:seq`,
    reviewsOf: (kind, targetId) => `${prefix}:reviews:${kind}:${targetId}`,
    reviewOpen: (kind, targetId) => `${prefix}:reviews:${kind}:${targetId}:open`,
    offboarding: (id) => `${prefix}:offboard:${id}`,
    offboardingSeq: `${prefix}:offboard:seq`,
    offboarded: (email) => `${prefix}:offboarded:${email}`,
    homeView: (userId) => `${prefix}:home:view:${userId}`,
    pendingIndex: (targetId) => `${prefix}:index:pending:${targetId}`,
    openIndex: (userId) => `${prefix}:index:open:${userId}`,
    submitLimit: (userId) => `${prefix}:limit:submit:${userId}`,
    submitHeld: (userId) => `${prefix}:limit:held:${userId}`,
    refusalStats: `${prefix}:stats:refusals`,
    refusalCount: (userId, minute) => `${prefix}:limit:refusals:${userId}:${minute}`,
    activeIndex: `${prefix}:index:active`,
    ledger: (kind, scopeId, email) => `${prefix}:grants:${kind}:${scopeId}:${email.toLowerCase()}`,
    grantsEnding: `${prefix}:grants:ending`,
    reconcileStats: `${prefix}:stats:reconcile`,
    lock: (name) => `${prefix}:lock:${name}`,
    lockFence: `${prefix}:lock-fence`,
    atlasRate: (bucket) => `${prefix}:atlas-rate:${bucket}`,
    atlasRateWaiters: (bucket) => `${prefix}:atlas-rate:${bucket}:waiters`,
    store: `${prefix}:store`,
    storeNoticeLease: (notice) => `${prefix}:store:notice-lease:${notice}`,
    receipts: `${prefix}:receipts`,
    receiptTimes: `${prefix}:receipts:at`,
    processBeat: (owner) => `${prefix}:process:${owner}`,
    extensionSlot: (grantId) => `${prefix}:extension:${grantId}`,
    nudge: (requestId) => `${prefix}:nudge:${requestId}`,
    traceLink: (requestId) => `${prefix}:trace:${requestId}`,
  };
}
