import { AsyncLocalStorage } from 'node:async_hooks';

/** What a piece of work is about: a request (or review, offboarding) id, and a request's target and roles. */
export interface WorkSubject {
  readonly requestId: string;
  /** The target's name in the policy. */
  readonly target?: string;
  readonly roles?: readonly string[];
}

/** The work in progress: what it is about, filled in as it becomes known. */
type Work = { -readonly [K in keyof WorkSubject]?: WorkSubject[K] };

/**
 * The correlation id of the work in progress (a request, review or offboarding id), carried through
 * async calls with AsyncLocalStorage: set where work starts (a Slack payload naming a request, a
 * BullMQ job), read by the logger, so every line of that work, its Atlas calls included, carries it.
 */
const current = new AsyncLocalStorage<Work>();

/** Runs `work` with `requestId` as its correlation id (no id: runs it as it is). */
export function withCorrelation<T>(requestId: string | undefined, work: () => T): T {
  return requestId === undefined || requestId === '' ? work() : current.run({ requestId }, work);
}

/**
 * Runs `work` as a unit of its own (one Slack request), even with no id yet: a request it files
 * becomes its subject ({@link noteWorkSubject}).
 */
export function withUnitOfWork<T>(requestId: string | undefined, work: () => T): T {
  return current.run(requestId === undefined || requestId === '' ? {} : { requestId }, work);
}

/** The fields to add to a log line: `{ requestId }` inside correlated work, else nothing. */
export function correlationFields(): { requestId?: string } {
  const store = current.getStore();
  return store?.requestId === undefined ? {} : { requestId: store.requestId };
}

/**
 * What the work in progress is about so far (the same object for the whole unit, so it can key a
 * map); undefined outside correlated work.
 */
export function workSubject(): Readonly<Work> | undefined {
  return current.getStore();
}

/**
 * Notes `subject` as what the work in progress is about, when that work names no request yet or
 * names this one (a request read while working on another one is not its subject).
 * @returns whether it was noted.
 */
export function noteWorkSubject(subject: WorkSubject): boolean {
  const work = current.getStore();
  if (work === undefined || (work.requestId !== undefined && work.requestId !== subject.requestId)) {
    return false;
  }
  work.requestId = subject.requestId;
  if (subject.target !== undefined) work.target = subject.target;
  if (subject.roles !== undefined) work.roles = subject.roles;
  return true;
}
