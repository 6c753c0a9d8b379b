import type { AuditSink } from '../audit/audit-trail.js';
import { AppError, isAppError } from '../errors.js';
import { type IdKind, issuedNoLaterThan, kindOf } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import {
  claimNotice,
  ensureStoreEpoch,
  leaveNotice,
  readStoreWrites,
  renewStoreEpoch,
  type StoreEpoch,
  takeNotice,
} from './store-epoch.js';

/** Where an id that names nothing came from. */
export interface IdOrigin {
  /**
   * `click`: a button or form Rolecall itself made (Slack signs it), so a missing record means lost
   * data; `typed`: someone typed it, which proves nothing (and must not set off the alarm).
   */
  readonly source: 'click' | 'typed';
  readonly actorId: string;
  /** What they tried, for the audit (`approve`, `end`, …). */
  readonly action: string;
}

/** What Rolecall does about a store that lost its data. */
export interface Continuity {
  /** At start-up: reads (or creates) the store's epoch and, for a store found empty, says so once. */
  open(): Promise<StoreEpoch>;
  /**
   * Periodically (readiness): checks that the store is still the one opened and has not gone back in
   * time (its write count lower than this process saw), and posts a notice an earlier check could
   * not. A loss found here gets the loss response. Returns a line for /readyz.
   */
  watch(): Promise<string>;
  /**
   * The error to show for `error`: a REQUEST_NOT_FOUND about an id from a click, when the store should
   * have that record, becomes STORE_LOST in words (audited, and the loss response runs); anything
   * else is returned as it is.
   */
  explain(error: unknown, origin: IdOrigin): Promise<unknown>;
  /** Told the store's write count after each write: the highest seen is what a rollback is measured by. */
  observeWrites(count: number): void;
}

/** Dependencies of {@link createContinuity}. */
export interface ContinuityDeps {
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly logger: Logger;
  readonly onAudit?: AuditSink | undefined;
  /** Posts a notice in every approvals channel; throws when none could be posted. */
  readonly announce: (text: string) => Promise<void>;
  /** Starts an access review of every target in the policy (those open already are left alone); says what it did. */
  readonly startReviews: () => Promise<string>;
  /** Puts back what a store loss takes with it and this process keeps (recurring job schedules). */
  readonly reinstate?: (() => Promise<void>) | undefined;
  /**
   * The shortest time a request, review or offboarding is kept: a record younger than this that is
   * missing was lost. @defaultValue 90 days
   */
  readonly retentionMs?: number;
  readonly now?: () => number;
}

const NOUNS: Readonly<Record<IdKind, string>> = { AR: 'request', RV: 'access review', OB: 'offboarding' };
const FIELD: Readonly<Record<IdKind, string>> = { AR: 'request', RV: 'review', OB: 'offboarding' };

/** What an operator does after a loss, said wherever Rolecall announces one. */
export const AFTER_A_LOSS =
  'Grants made before may no longer be tracked, so they might not end on time. Run `/atlas-access review all`: every role nothing explains is listed with *Revoke*. See README, Operations: after Redis loses data.';

/**
 * Notices that Redis lost Rolecall's data and acts on it: the empty-store notice at start-up, the
 * periodic check that the store is still the one it opened, and the answer to a click that names a
 * record the store should have. A loss is announced once per store, loudly, and access reviews of
 * every target start by themselves, so roles nothing explains any more are listed with Revoke.
 */
export function createContinuity(deps: ContinuityDeps): Continuity {
  const now = deps.now ?? Date.now;
  const retentionMs = deps.retentionMs ?? 90 * 24 * 3600 * 1000;
  let opened: StoreEpoch | undefined;
  /** The highest write count this process saw in the store it opened. */
  let writesSeen = 0;

  const audit = async (fields: Record<string, string>) => {
    const entry = { kind: 'store', at: String(now()), ...fields };
    try {
      await deps.redis.xadd(deps.keys.audit, '*', ...Object.entries(entry).flat());
      deps.onAudit?.(entry);
    } catch (error) {
      deps.logger.error('could not audit a store event', { ...entry, error });
    }
  };

  /** Posts a notice; one Slack could not take is left in the store for the next check to post. */
  const post = async (notice: 'started' | 'loss', text: string): Promise<void> => {
    try {
      await deps.announce(text);
    } catch (error) {
      deps.logger.error(
        'could not post a store notice in any approvals channel; the next check tries again',
        {
          notice,
          error,
        },
      );
      await leaveNotice(deps.redis, deps.keys, notice, text).catch(() => undefined);
    }
  };

  /** The loss response, once per store: audit, reviews of every target, the loud notice. */
  const respondToLoss = async (evidence: string): Promise<void> => {
    deps.logger.error('Rolecall’s Redis store lost data', { evidence });
    if (!(await claimNotice(deps.redis, deps.keys, 'loss', now()))) return;
    await audit({ action: 'loss-noticed', actor: 'system', code: 'STORE_LOST', detail: evidence });
    let reviews: string;
    try {
      reviews = await deps.startReviews();
    } catch (error) {
      deps.logger.error('could not start the access reviews after a loss', { error });
      reviews = 'Rolecall could not start the access reviews itself; run `/atlas-access review all`.';
    }
    await post(
      'loss',
      `:rotating_light: *Rolecall’s Redis store has lost data.* ${evidence}\n${AFTER_A_LOSS}\n${reviews}`,
    );
  };

  /**
   * The store's epoch now. When it is not the one this process opened, the store lost its data under
   * it: what the process keeps in Redis (schedules) is put back, and `replaced` says which it was.
   */
  const current = async (): Promise<{ epoch: StoreEpoch; replaced: StoreEpoch | undefined }> => {
    const epoch = await ensureStoreEpoch(deps.redis, deps.keys);
    const before = opened;
    opened = epoch;
    if (before === undefined || before.createdAt === epoch.createdAt) return { epoch, replaced: undefined };
    writesSeen = 0;
    await deps.reinstate?.();
    return { epoch, replaced: before };
  };

  /** Posts the notices an earlier attempt could not (Slack was down), once each. */
  const postLeftNotices = async (): Promise<void> => {
    for (const notice of ['loss', 'started'] as const) {
      const text = await takeNotice(deps.redis, deps.keys, notice);
      if (text !== undefined) await post(notice, text);
    }
  };

  return {
    observeWrites(count) {
      if (count > writesSeen) writesSeen = count;
    },

    async open() {
      const epoch = await ensureStoreEpoch(deps.redis, deps.keys);
      opened = epoch;
      writesSeen = await readStoreWrites(deps.redis, deps.keys);
      if (epoch.found === 'upgrade') {
        deps.logger.info('store epoch recorded for a store written by an earlier release', { ...epoch });
      } else if (epoch.found === 'lost') {
        await respondToLoss(
          'Its record of which store it is went missing while ids had been issued here: keys were lost.',
        );
      } else if (epoch.found === 'empty' && (await claimNotice(deps.redis, deps.keys, 'started', now()))) {
        deps.logger.warn('Rolecall started on an empty Redis store', { ...epoch });
        await audit({ action: 'empty-store', actor: 'system', detail: 'started on an empty store' });
        await post(
          'started',
          `:information_source: Rolecall started on an empty Redis store. On a first start there is nothing to do. If this store held Rolecall’s data before (a Redis without persistence that restarted, or one emptied): ${AFTER_A_LOSS}`,
        );
      }
      return epoch;
    },

    async watch() {
      const { epoch, replaced } = await current();
      if (replaced) {
        await respondToLoss(
          'The store Rolecall was using lost its data while Rolecall was running (its epoch changed).',
        );
        await postLeftNotices();
        return `store replaced while running (epoch ${replaced.createdAt} -> ${epoch.createdAt}); loss noticed`;
      }
      const writes = await readStoreWrites(deps.redis, deps.keys);
      if (writes < writesSeen) {
        // Gone back in time: a restore, a restart from an old snapshot, a lagging replica promoted.
        const seen = writesSeen;
        const renewed = await renewStoreEpoch(deps.redis, deps.keys, epoch.createdAt);
        opened = renewed ?? (await ensureStoreEpoch(deps.redis, deps.keys));
        writesSeen = writes;
        await deps.reinstate?.();
        await respondToLoss(
          `The store went back in time while Rolecall was running (a restore, a restart from an old snapshot, or a failover to a replica that lagged): it has recorded ${writes} writes, this process saw ${seen}. Writes made since are gone.`,
        );
        await postLeftNotices();
        return `store went back in time (writes ${seen} -> ${writes}); loss noticed`;
      }
      writesSeen = writes;
      await postLeftNotices();
      return `store epoch ${new Date(epoch.createdAt).toISOString()}, ${writes} writes`;
    },

    async explain(error, origin) {
      if (!isAppError(error, 'REQUEST_NOT_FOUND') || origin.source !== 'click') return error;
      const id = error.details.id;
      const kind = typeof id === 'string' ? kindOf(id) : undefined;
      const issued = typeof id === 'string' ? issuedNoLaterThan(id) : undefined;
      if (typeof id !== 'string' || kind === undefined || issued === undefined) return error;
      // An id from the future was never issued by any store: nothing to conclude from it.
      if (issued > now() + 60_000) return error;
      // Read again: a store that lost everything since the last check has a new epoch by now.
      const { epoch } = await current();
      const earlier = issued < epoch.createdAt;
      if (!earlier && now() - issued > retentionMs) return error;
      const noun = NOUNS[kind];
      const said = earlier
        ? `This message belongs to an earlier Rolecall store: ${id} is not in the store Rolecall uses now. Nothing was changed, and the approvers have been told.`
        : `Rolecall’s store no longer has ${noun} ${id}, which it should still keep: Redis lost data. Nothing was changed, and the approvers have been told.`;
      await audit({
        [FIELD[kind]]: id,
        action: origin.action,
        actor: origin.actorId,
        code: 'STORE_LOST',
        detail: said,
      });
      // Not awaited: the person's answer (an ack, for a form) must not wait for reviews and notices.
      respondToLoss(
        earlier
          ? `A click on ${id} came from a message of an earlier store.`
          : `${noun[0]?.toUpperCase()}${noun.slice(1)} ${id} is missing although it is younger than its retention.`,
      ).catch((cause: unknown) => deps.logger.error('the loss response failed', { error: cause }));
      return new AppError('STORE_LOST', said, { details: { id } });
    },
  };
}
