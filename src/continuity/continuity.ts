import type { AuditSink } from '../audit/audit-trail.js';
import { AppError, isAppError } from '../errors.js';
import { type IdKind, issuedNoLaterThan, kindOf } from '../lib/ids.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import {
  claimNotice,
  ensureStoreEpoch,
  leaseNotice,
  leaveNotice,
  readStoreWrites,
  renewStoreEpoch,
  type StoreEpoch,
  settleNotice,
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
  /**
   * Told the store's write count after each write on one connection (`source`). Counts on one
   * connection arrive in the order Redis ran them, so one not above the last is proof the store went
   * back in time: the loss response runs at once, not at the next check.
   */
  observeWrites(count: number, source: string): void;
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
  /** The highest write count this process saw in the store it opened, and the last per connection. */
  let writesSeen = 0;
  const lastBySource = new Map<string, number>();
  /** A loss being handled in this process: evidence found meanwhile joins it. */
  let handling: Promise<void> | undefined;

  const audit = async (fields: Record<string, string>) => {
    const entry = { kind: 'store', at: String(now()), ...fields };
    try {
      await deps.redis.xadd(deps.keys.audit, '*', ...Object.entries(entry).flat());
      deps.onAudit?.(entry);
    } catch (error) {
      deps.logger.error('could not audit a store event', { ...entry, error });
    }
  };

  /**
   * Posts the notices left in the store, each by one process at a time (a lease): a notice is left
   * there before its first try, and removed once posted, so no stop and no Slack outage loses it.
   */
  const postLeft = async (): Promise<void> => {
    for (const notice of ['loss', 'started'] as const) {
      const text = await leaseNotice(deps.redis, deps.keys, notice);
      if (text === undefined) continue;
      let posted = false;
      try {
        await deps.announce(text);
        posted = true;
      } catch (error) {
        deps.logger.error(
          'could not post a store notice in any approvals channel; the next check tries again',
          {
            notice,
            error,
          },
        );
      }
      await settleNotice(deps.redis, deps.keys, notice, posted);
    }
  };

  /** The loss response, once per epoch: audit, reviews of every target, the loud notice. */
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
    await leaveNotice(
      deps.redis,
      deps.keys,
      'loss',
      `:rotating_light: *Rolecall’s Redis store has lost data.* ${evidence}\n${AFTER_A_LOSS}\n${reviews}`,
    );
    await postLeft();
  };

  /** Forgets what this process saw of the store's writes, for a new epoch. */
  const startCounting = (writes: number) => {
    writesSeen = writes;
    lastBySource.clear();
  };

  /**
   * The store's epoch now. When it is not the one this process opened, the store lost its data under
   * it (or another process found a loss and renewed it): what the process keeps in Redis (schedules)
   * is put back, and `replaced` says which it was.
   */
  const current = async (): Promise<{ epoch: StoreEpoch; replaced: StoreEpoch | undefined }> => {
    const epoch = await ensureStoreEpoch(deps.redis, deps.keys);
    const before = opened;
    opened = epoch;
    if (before === undefined || before.createdAt === epoch.createdAt) return { epoch, replaced: undefined };
    startCounting(await readStoreWrites(deps.redis, deps.keys));
    await deps.reinstate?.();
    return { epoch, replaced: before };
  };

  /**
   * A loss found in this store (it went back in time, or lost a record): the store gets a new epoch,
   * once, by whichever process finds it first, and that process answers it; the others see the epoch
   * change and find the response given (one per epoch).
   */
  const lossFound = (evidence: string): Promise<void> => {
    handling ??= (async () => {
      try {
        const known = opened ?? (await ensureStoreEpoch(deps.redis, deps.keys));
        const renewed = await renewStoreEpoch(deps.redis, deps.keys, known.createdAt);
        if (renewed) {
          opened = renewed;
          startCounting(await readStoreWrites(deps.redis, deps.keys));
          await deps.reinstate?.();
        } else {
          await current();
        }
        await respondToLoss(evidence);
      } finally {
        handling = undefined;
      }
    })();
    return handling;
  };

  return {
    observeWrites(count, source) {
      const last = lastBySource.get(source);
      lastBySource.set(source, count);
      if (count > writesSeen) writesSeen = count;
      if (last === undefined || count > last) return;
      lossFound(
        `The store went back in time while Rolecall was running (a restore, a restart from an old snapshot, or a failover to a replica that lagged): a write got count ${count} after one that got ${last}. Writes made in between are gone.`,
      ).catch((error: unknown) => deps.logger.error('the loss response failed', { error }));
    },

    async open() {
      const epoch = await ensureStoreEpoch(deps.redis, deps.keys);
      opened = epoch;
      startCounting(await readStoreWrites(deps.redis, deps.keys));
      if (epoch.found === 'upgrade') {
        deps.logger.info('store epoch recorded for a store written by an earlier release', { ...epoch });
      } else if (epoch.found === 'lost') {
        await respondToLoss(
          'Its record of which store it is went missing while ids had been issued here: keys were lost.',
        );
      } else if (epoch.found === 'empty' && (await claimNotice(deps.redis, deps.keys, 'started', now()))) {
        deps.logger.warn('Rolecall started on an empty Redis store', { ...epoch });
        await audit({ action: 'empty-store', actor: 'system', detail: 'started on an empty store' });
        await leaveNotice(
          deps.redis,
          deps.keys,
          'started',
          `:information_source: Rolecall started on an empty Redis store. On a first start there is nothing to do. If this store held Rolecall’s data before (a Redis without persistence that restarted, or one emptied): ${AFTER_A_LOSS}`,
        );
        await postLeft();
      }
      return epoch;
    },

    async watch() {
      await handling;
      const { epoch, replaced } = await current();
      if (replaced) {
        await respondToLoss(
          'The store Rolecall was using lost its data while Rolecall was running (its epoch changed).',
        );
        await postLeft();
        return `store replaced while running (epoch ${replaced.createdAt} -> ${epoch.createdAt}); loss noticed`;
      }
      const writes = await readStoreWrites(deps.redis, deps.keys);
      if (writes < writesSeen) {
        const seen = writesSeen;
        await lossFound(
          `The store went back in time while Rolecall was running (a restore, a restart from an old snapshot, or a failover to a replica that lagged): it has recorded ${writes} writes, this process saw ${seen}. Writes made since are gone.`,
        );
        return `store went back in time (writes ${seen} -> ${writes}); loss noticed`;
      }
      writesSeen = writes;
      await postLeft();
      return `store epoch ${new Date(epoch.createdAt).toISOString()}, ${writes} writes`;
    },

    async explain(error, origin) {
      if (!isAppError(error, 'REQUEST_NOT_FOUND') || origin.source !== 'click') return error;
      const id = error.details.id;
      const kind = typeof id === 'string' ? kindOf(id) : undefined;
      const issued = typeof id === 'string' ? issuedNoLaterThan(id) : undefined;
      if (typeof id !== 'string' || kind === undefined || issued === undefined) return error;
      // An id from the future was never issued by any store; one past its retention was deleted by it.
      if (issued > now() + 60_000 || now() - issued > retentionMs) return error;
      // Read again: a store that lost everything since the last check has a new epoch by now.
      const { epoch } = await current();
      const earlier = issued < epoch.createdAt;
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
      // A record missing from this store is a loss in it (a new epoch); one of an earlier store is
      // answered under the epoch that replaced it.
      (earlier
        ? respondToLoss(`A click on ${id} came from a message of an earlier store.`)
        : lossFound(
            `${noun[0]?.toUpperCase()}${noun.slice(1)} ${id} is missing although it is younger than its retention.`,
          )
      ).catch((cause: unknown) => deps.logger.error('the loss response failed', { error: cause }));
      return new AppError('STORE_LOST', said, { details: { id } });
    },
  };
}
