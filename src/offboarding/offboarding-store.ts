import type { AuditSink } from '../audit/audit-trail.js';
import { AppError } from '../errors.js';
import { createIdIssuer, missingRecordError } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import { loadRedisScript, luaJson } from '../lib/redis-script.js';
import type { Offboarding, OffboardingDecision, OffboardingState, TargetOutcome } from './model.js';

/** Offboardings in Redis: one hash each (JSON fields), every state change and outcome audited. */
export interface OffboardingStore {
  create(
    draft: Pick<Offboarding, 'email' | 'reason' | 'requesterId' | 'createdAt' | 'channelId'>,
  ): Promise<Offboarding>;
  get(id: string): Promise<Offboarding | undefined>;
  require(id: string): Promise<Offboarding>;
  /**
   * Moves `pending` to `approved` or `denied` (with the decision, and for an approval the targets
   * it covers), once. @returns the offboarding after it, or the one that stood in the way.
   */
  decide(
    id: string,
    to: Extract<OffboardingState, 'approved' | 'denied'>,
    decision: OffboardingDecision,
    targets: Offboarding['targets'],
  ): Promise<{ ok: boolean; offboarding: Offboarding }>;
  setMessage(id: string, message: NonNullable<Offboarding['message']>): Promise<void>;
  /** Adds to the requests cancelled and the grants ended (a retried run keeps what an earlier try did). */
  recordCleanup(id: string, cancelled: readonly string[], ended: readonly string[]): Promise<void>;
  /**
   * Marks `email` offboarded by `id` for `ttlMs`: from then on the apply worker refuses to grant
   * them anything (a Retry of an old failed request, an approval racing the offboarding).
   */
  markOffboarded(email: string, id: string, ttlMs: number): Promise<void>;
  /** The offboarding that removed `email`, while its mark lasts; null otherwise. */
  offboardedBy(email: string): Promise<string | null>;
  /** Records a target's final outcome (audited). */
  recordOutcome(id: string, outcome: TargetOutcome): Promise<void>;
  /**
   * Moves `approved` to `done` once. @returns true for `finisher` (a job id) when it did, also on its
   * retries, so the closing summary is posted by exactly one job.
   */
  finish(id: string, at: number, finisher: string): Promise<boolean>;
}

const OUTCOME_PREFIX = 'outcome:';

/** Offboardings under one QUEUE_PREFIX, kept `retentionMs` (default 400 days). */
export function createOffboardingStore(
  redis: RedisClient,
  keys: RedisKeys,
  options: { readonly retentionMs?: number; readonly onAudit?: AuditSink } = {},
): OffboardingStore {
  const retention = options.retentionMs ?? 400 * 24 * 3600 * 1000;
  const issueId = createIdIssuer(redis);
  const moveScript = loadRedisScript(import.meta.url, 'move-offboarding');
  const get = async (id: string): Promise<Offboarding | undefined> => {
    const hash = await redis.hgetall(keys.offboarding(id));
    if (hash.data === undefined || hash.state === undefined) return undefined;
    const json = <T>(field: string, fallback: T): T =>
      hash[field] === undefined ? fallback : (JSON.parse(hash[field] as string) as T);
    const outcomes = Object.entries(hash)
      .filter(([field]) => field.startsWith(OUTCOME_PREFIX))
      .map(([, raw]) => JSON.parse(raw) as TargetOutcome);
    return {
      ...(JSON.parse(hash.data) as Pick<
        Offboarding,
        'id' | 'email' | 'reason' | 'requesterId' | 'createdAt' | 'channelId'
      >),
      state: hash.state as OffboardingState,
      decision: json<OffboardingDecision | null>('decision', null),
      message: json<Offboarding['message']>('message', null),
      targets: json<Offboarding['targets']>('targets', []),
      outcomes,
      cancelled: json<string[]>('cancelled', []),
      ended: json<string[]>('ended', []),
    };
  };
  const move = async (
    id: string,
    from: OffboardingState,
    to: OffboardingState,
    patch: Record<string, string>,
    decision: OffboardingDecision | null,
    actor: string,
    detail: string,
  ) => {
    const at = String(Date.now());
    const result = (await moveScript.run(
      redis,
      [keys.offboarding(id), keys.audit],
      [from, to, decision ? luaJson(decision) : '', luaJson(patch), actor, detail, at, id],
    )) as [string, string];
    if (result[0] === 'ok') {
      options.onAudit?.({ kind: 'offboarding', offboarding: id, from: result[1], to, actor, at, detail });
    }
    return result;
  };
  return {
    async create(draft) {
      const id = await issueId('OB', keys.offboardingSeq);
      const entry = {
        kind: 'offboarding',
        offboarding: id,
        from: '',
        to: 'pending',
        actor: draft.requesterId,
        at: String(draft.createdAt),
        detail: `offboard ${draft.email}: ${draft.reason}`,
      };
      await redis
        .multi()
        .hset(keys.offboarding(id), 'data', JSON.stringify({ ...draft, id }), 'state', 'pending')
        .pexpire(keys.offboarding(id), retention)
        .xadd(keys.audit, '*', ...Object.entries(entry).flat())
        .exec();
      options.onAudit?.(entry);
      const created = await get(id);
      if (!created)
        throw new AppError('STORAGE_UNAVAILABLE', `Offboarding ${id} was not stored.`, { retryable: true });
      return created;
    },
    get,
    async require(id) {
      const found = await get(id);
      if (!found) throw missingRecordError(id);
      return found;
    },
    async decide(id, to, decision, targets) {
      const [status] = await move(
        id,
        'pending',
        to,
        to === 'approved' ? { targets: JSON.stringify(targets) } : {},
        decision,
        decision.by,
        to,
      );
      if (status === 'missing') throw missingRecordError(id);
      const after = await get(id);
      if (!after) throw missingRecordError(id);
      return { ok: status === 'ok', offboarding: after };
    },
    async setMessage(id, message) {
      await redis.hset(keys.offboarding(id), 'message', JSON.stringify(message));
    },
    async recordCleanup(id, cancelled, ended) {
      const before = await get(id);
      const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
      await redis.hset(
        keys.offboarding(id),
        'cancelled',
        JSON.stringify(union(before?.cancelled ?? [], cancelled)),
        'ended',
        JSON.stringify(union(before?.ended ?? [], ended)),
      );
    },
    async markOffboarded(email, id, ttlMs) {
      await redis.set(keys.offboarded(email.toLowerCase()), id, 'PX', ttlMs);
    },
    async offboardedBy(email) {
      return redis.get(keys.offboarded(email.toLowerCase()));
    },
    async recordOutcome(id, outcome) {
      const field = `${OUTCOME_PREFIX}${outcome.target.kind}:${outcome.target.id}`;
      const entry = {
        kind: 'offboarding',
        offboarding: id,
        from: 'approved',
        to: 'approved',
        actor: 'system',
        at: String(Date.now()),
        detail: `${outcome.target.name}: ${outcome.outcome}: ${outcome.detail}`,
      };
      await redis
        .multi()
        .hset(keys.offboarding(id), field, JSON.stringify(outcome))
        .xadd(keys.audit, '*', ...Object.entries(entry).flat())
        .exec();
      options.onAudit?.(entry);
    },
    async finish(id, at, finisher) {
      await move(
        id,
        'approved',
        'done',
        { finishedAt: String(at), finishedBy: finisher },
        null,
        'system',
        'every target done',
      );
      return (await redis.hget(keys.offboarding(id), 'finishedBy')) === finisher;
    },
  };
}
