import type { Job, Queue } from 'bullmq';
import { normalizeCidr } from '../atlas/cidr.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { DatabaseGrants } from './database-grants.js';
import type { ProcessorOutcome } from './processor-support.js';
import type { DatabaseJob } from './queues.js';

/** A password set just now on a grant's database user, for the grantee's eyes only. */
export interface PasswordShown {
  readonly requestId: string;
  readonly username: string;
  readonly password: string;
  /** When the grant (and with it the database user) ends, ms since epoch; null when not known. */
  readonly endsAt: number | null;
}

/** An address put on (or kept for) a project's IP access list for a grant. */
export interface AddressAdded {
  readonly requestId: string;
  /** The CIDR block as sent to Atlas (203.0.113.7/32). */
  readonly cidr: string;
  readonly targetName: string;
  /** The entry's deleteAfterDate (the grant's end); null while the grant is not applied yet. */
  readonly until: number | null;
}

/**
 * The Slack side of database access jobs (adapter: slack/database-notifier.ts): the modal the
 * grantee opened with "Show password", and their DM.
 */
export interface DatabaseNotifier {
  /** Replaces the modal `viewId` with the password: the only place it ever goes. */
  showPassword(viewId: string, shown: PasswordShown): Promise<void>;
  /** Replaces the modal `viewId` with why no password was set (the error in words). */
  showPasswordRefused(viewId: string, requestId: string, error: unknown): Promise<void>;
  /** Tells the grantee their address is on the access list (or will be when the grant is applied). */
  addressAdded(userId: string, added: AddressAdded): Promise<void>;
  /** Tells the grantee why their address was not added (the error in words). */
  addressRefused(userId: string, requestId: string, address: string, error: unknown): Promise<void>;
}

/** Dependencies of {@link createDatabaseProcessor}. */
export interface DatabaseProcessorDeps {
  readonly grants: Pick<DatabaseGrants, 'revealPassword' | 'addAddress'>;
  readonly notifier: DatabaseNotifier;
  readonly logger: Logger;
}

/** Whether a failed attempt should be tried again by BullMQ rather than told to the person now. */
function retriesLeft(job: Job<DatabaseJob>, error: unknown): boolean {
  const retryable = isAppError(error) ? error.retryable : false;
  return retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
}

/**
 * The grantee's own steps of a `db:` grant, in a worker (the bot holds no Atlas credential).
 * `reveal`: a new password on the grant's database user, shown once in the modal they opened and
 * nowhere else: not in the job (its data has none), not in its return value, not in a log line.
 * `address`: their address on the project's IP access list until the grant ends, then a DM. A
 * refusal or a failure is said in words in the same place; only a retryable one with attempts left
 * is thrown for BullMQ to retry.
 */
export function createDatabaseProcessor(deps: DatabaseProcessorDeps) {
  const { grants, notifier, logger } = deps;

  const reveal = async (job: Job<DatabaseJob>, data: Extract<DatabaseJob, { kind: 'reveal' }>) => {
    let shown: PasswordShown;
    try {
      const { username, password, endsAt } = await grants.revealPassword(data.requestId, data.userId);
      shown = { requestId: data.requestId, username, password, endsAt };
    } catch (error) {
      if (retriesLeft(job, error)) throw error;
      logger.info('database password not set', {
        requestId: data.requestId,
        code: isAppError(error) ? error.code : 'INTERNAL',
      });
      await notifier.showPasswordRefused(data.viewId, data.requestId, error);
      return { done: 'refused' } satisfies ProcessorOutcome;
    }
    await notifier.showPassword(data.viewId, shown);
    return { done: 'shown' } satisfies ProcessorOutcome;
  };

  const address = async (job: Job<DatabaseJob>, data: Extract<DatabaseJob, { kind: 'address' }>) => {
    let until: number | null;
    let targetName: string;
    try {
      const request = await grants.addAddress(data.requestId, data.userId, data.address);
      until = request.state === 'applied' ? (request.grant?.revokeAt ?? null) : null;
      targetName = request.target.name;
    } catch (error) {
      if (retriesLeft(job, error)) throw error;
      await notifier.addressRefused(data.userId, data.requestId, data.address, error);
      return { done: 'refused' } satisfies ProcessorOutcome;
    }
    const cidr = normalizeCidr(data.address) ?? data.address;
    await notifier.addressAdded(data.userId, { requestId: data.requestId, cidr, targetName, until });
    return { done: 'added' } satisfies ProcessorOutcome;
  };

  return async (job: Job<DatabaseJob>): Promise<ProcessorOutcome> =>
    job.data.kind === 'reveal' ? reveal(job, job.data) : address(job, job.data);
}

/**
 * The bot's way to hand database access work to the workers (structurally the `DatabaseJobs` of
 * slack/handlers/database-buttons.ts): one job per click or submission, never with a secret in it.
 */
export function createDatabaseJobs(queue: Queue<DatabaseJob>) {
  return {
    /** Queues setting and showing a new password in the grantee's open modal. */
    async reveal(requestId: string, userId: string, viewId: string): Promise<void> {
      await queue.add('reveal', { kind: 'reveal', requestId, userId, viewId });
    },
    /** Queues putting the grantee's address on the project's IP access list. */
    async address(requestId: string, userId: string, address: string): Promise<void> {
      await queue.add('address', { kind: 'address', requestId, userId, address });
    },
  };
}
