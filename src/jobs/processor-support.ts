import { type Job, UnrecoverableError } from 'bullmq';
import type { AtlasRolesApi, AtlasScope } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../ops/logger.js';
import type { AccessRequest, TargetRef } from '../requests/model.js';
import type { WorkQueue } from '../requests/request-service.js';
import type { RequestStore } from '../requests/request-store.js';
import type { UserLock } from './user-lock.js';

/** Dependencies of the apply and revoke processors. */
export interface ProcessorDeps {
  store: RequestStore;
  atlas: AtlasRolesApi;
  scheduler: WorkQueue;
  /** Serializes changes to one user's roles in one org or project, across worker processes. */
  lock: UserLock;
  logger: Logger;
  now?: () => number;
}

/** The lock key of a request: one user in one org or project. */
export function lockKeyOf(request: Pick<AccessRequest, 'target' | 'granteeEmail'>): string {
  return `${request.target.scope}:${request.target.id}:${request.granteeEmail.toLowerCase()}`;
}

/** What a processor did, kept as the BullMQ job's return value. */
export type ProcessorOutcome = { done: string } | { skipped: string };

/** The Atlas scope of a request's target. */
export function scopeOf(target: TargetRef): AtlasScope {
  return { kind: target.scope, id: target.id };
}

/** True when this attempt is the job's last: the error is final or the retry budget is spent. */
export function isLastAttempt(job: Job, error: unknown): boolean {
  const retryable = isAppError(error) ? error.retryable : !(error instanceof UnrecoverableError);
  return !retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/** Describes an error for the audit trail and Slack, never with a stack. */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (isAppError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: 'An unexpected error stopped Rolecall; the details are in its logs.' };
}
