import { Queue } from 'bullmq';
import { expect } from 'vitest';
import type { RoleChange } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { ATLAS, CHANNELS, type PEOPLE, type Sandbox } from '../../dev/sandbox.js';
import { approvalIdsIn, requestIdIn, waitForApprovalMessage } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { isAppError } from '../../src/errors.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { createRedisClient } from '../../src/ops/redis.js';
import type { AccessRequest, RequestAuditEntry, RequestState } from '../../src/requests/model.js';

/** Someone in the sandbox workspace. */
export type Person = (typeof PEOPLE)[keyof typeof PEOPLE];

/** The sandbox project and org as simulator scopes. */
export const PROJECT: AtlasScope = { kind: 'project', id: ATLAS.project.id };
export const ORG: AtlasScope = { kind: 'org', id: ATLAS.org.id };

/** Types a slash command and returns the id in the confirmation, and the approval message. */
export async function requestAs(
  sandbox: Sandbox,
  person: Person,
  text: string,
  channel: string = CHANNELS.approvals,
): Promise<{ id: string; approval: SimulatedMessage }> {
  const before = sandbox.slack.events.length;
  await sandbox.driver.command(person, text, CHANNELS.general);
  const confirmation = await waitUntil(
    () =>
      sandbox.slack.events
        .slice(before)
        .map((e) => (e.kind === 'ephemeral' && e.user === person.id ? e.text : undefined))
        .find((t) => t !== undefined && /Request \*AR-[0-9A-Z]+\*/.test(t)),
    5_000,
    `confirmation of "${text}"`,
  );
  const id = requestIdIn(confirmation);
  return { id, approval: await waitForApprovalMessage(sandbox.slack, id, channel) };
}

/**
 * The `nth` (from 1) approval message posted in `channel` and the request id it names, once posted:
 * the id of a request the test did not type (a Workflow Builder step, a form).
 */
export async function nthApproval(
  sandbox: Sandbox,
  nth = 1,
  channel: string = CHANNELS.approvals,
): Promise<{ id: string; approval: SimulatedMessage }> {
  const id = await waitUntil(
    () => approvalIdsIn(sandbox.slack, channel)[nth - 1],
    5_000,
    `approval message ${nth} in ${channel}`,
  );
  return { id, approval: await waitForApprovalMessage(sandbox.slack, id, channel) };
}

/** The latest ephemeral reply to `person` after event index `since` that matches. */
export function ephemeralAfter(
  sandbox: Sandbox,
  person: Person,
  since: number,
  pattern: RegExp,
): Promise<string> {
  return waitUntil(
    () =>
      sandbox.slack.events
        .slice(since)
        .map((e) => (e.kind === 'ephemeral' && e.user === person.id ? e.text : undefined))
        .find((t) => t !== undefined && pattern.test(t)),
    8_000,
    `ephemeral to ${person.name} matching ${pattern}`,
  );
}

/** Reads requests straight from Redis, as the app stores them. */
export async function readRequest(sandbox: Sandbox, id: string): Promise<AccessRequest> {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  try {
    return await createRequestStore(redis, { prefix: sandbox.config.redis.prefix }).require(id);
  } finally {
    redis.disconnect();
  }
}

/** A request's audit trail, straight from Redis. */
export async function readAudit(sandbox: Sandbox, id: string): Promise<RequestAuditEntry[]> {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  try {
    return await createRequestStore(redis, { prefix: sandbox.config.redis.prefix }).audit(id);
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until a request exists and reaches `state` (or one of several), and returns it. Only "no such
 * request" is absence: any other error (Redis down) fails the wait.
 */
export async function waitForState(
  sandbox: Sandbox,
  id: string,
  state: RequestState | readonly RequestState[],
  timeoutMs = 15_000,
): Promise<AccessRequest> {
  const states: readonly RequestState[] = typeof state === 'string' ? [state] : state;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const request = await readRequest(sandbox, id).catch((error: unknown) => {
      if (isAppError(error, 'REQUEST_NOT_FOUND')) return undefined;
      throw error;
    });
    if (request && states.includes(request.state)) return request;
    if (Date.now() > deadline)
      throw new Error(
        `${id} is ${request?.state ?? 'not stored'}, not ${states.join(' or ')}, after ${timeoutMs} ms`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The roles someone held at time `at`, from a simulator timeline. */
export function rolesAt(timeline: readonly RoleChange[], at: number): readonly string[] {
  let roles: readonly string[] = [];
  for (const change of timeline) if (change.at <= at) roles = change.roles;
  return roles;
}

/** When `role` was added and removed, each change once: the shape a time-boxed grant must have. */
export function spansOf(
  timeline: readonly RoleChange[],
  role: string,
): { from: number; to: number | null }[] {
  const spans: { from: number; to: number | null }[] = [];
  for (const change of timeline) {
    const held = change.roles.includes(role);
    const open = spans[spans.length - 1];
    if (held && (open === undefined || open.to !== null)) spans.push({ from: change.at, to: null });
    if (!held && open !== undefined && open.to === null) open.to = change.at;
  }
  return spans;
}

/** Asserts a role was held over exactly one span, ending between `earliest` and `latest` (ms since epoch). */
export function expectOneSpanEnding(
  timeline: readonly RoleChange[],
  role: string,
  earliest: number,
  latest: number,
): { from: number; to: number } {
  const spans = spansOf(timeline, role);
  expect(spans, `${role} should be granted once and removed once`).toHaveLength(1);
  const [span] = spans;
  expect(span?.to).not.toBeNull();
  expect(span?.to).toBeGreaterThanOrEqual(earliest);
  expect(span?.to).toBeLessThanOrEqual(latest);
  return span as { from: number; to: number };
}

/** Messages in a DM channel that match. */
export function dmsTo(sandbox: Sandbox, person: Person, pattern: RegExp): SimulatedMessage[] {
  return sandbox.slack.messagesIn(sandbox.slack.dmChannelOf(person.id)).filter((m) => pattern.test(m.text));
}

/** Thread replies under an approval message that match. */
export function repliesTo(sandbox: Sandbox, approval: SimulatedMessage, pattern: RegExp): SimulatedMessage[] {
  return sandbox.slack
    .messagesIn(approval.channel)
    .filter((m) => m.threadTs === approval.ts && pattern.test(m.text));
}

/** Pauses the test for `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A job waiting for its time in one of the app's queues, and when it is due (ms since epoch). */
export interface ScheduledJob {
  readonly jobId: string;
  readonly dueAt: number;
}

/**
 * The delayed jobs of request `id` in `queue` (`revoke-<id>-<attempt>`, `remind-<id>-<end>`), read
 * from BullMQ's delayed set as stored: what is scheduled when, without waiting for it to happen.
 */
export async function scheduledJobs(
  sandbox: Sandbox,
  queue: 'revoke' | 'remind' | 'expire' | 'apply',
  id: string,
): Promise<ScheduledJob[]> {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  try {
    const entries = await redis.zrange(
      `${sandbox.config.redis.prefix}:${queue}:delayed`,
      0,
      -1,
      'WITHSCORES',
    );
    const jobs: ScheduledJob[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const jobId = entries[i] ?? '';
      // BullMQ keeps the due time in the score's upper bits, with 12 bits of ordering below.
      if (jobId.startsWith(`${queue}-${id}`))
        jobs.push({ jobId, dueAt: Math.floor(Number(entries[i + 1]) / 0x1000) });
    }
    return jobs;
  } finally {
    redis.disconnect();
  }
}

/** A hold on every revocation of a sandbox, from {@link holdRevocations}. */
export interface RevocationHold {
  /** Lets the revocations run again: those whose time has come run at once. */
  release(): Promise<void>;
}

/**
 * Holds every revocation back (BullMQ's pause of the revoke queue) until `release`: a test orders
 * "the grant ended" after steps of its own, however slow the run, instead of racing a short grant's
 * end. The grants keep their ends; only the revocation job waits.
 */
export async function holdRevocations(sandbox: Sandbox): Promise<RevocationHold> {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  const queue = new Queue('revoke', { connection: redis, prefix: sandbox.config.redis.prefix });
  await queue.pause();
  return {
    async release() {
      await queue.resume();
      await queue.close();
      redis.disconnect();
    },
  };
}

/**
 * Ids of the jobs about request `id` still to run (waiting, delayed, running) in the named queues:
 * once none is left, nothing more will happen for it, so what a test reads next is final. How a
 * "nothing happened" check reads the stored state instead of waiting a while.
 */
export async function pendingJobIds(
  sandbox: Sandbox,
  queues: readonly string[],
  id: string,
): Promise<string[]> {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  const ids: string[] = [];
  try {
    for (const name of queues) {
      const queue = new Queue(name, { connection: redis, prefix: sandbox.config.redis.prefix });
      const jobs = await queue.getJobs(['wait', 'delayed', 'active', 'prioritized', 'waiting-children']);
      for (const job of jobs) if (job?.id?.includes(id)) ids.push(job.id);
      await queue.close();
    }
    return ids;
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until no job about request `id` is left to run in the named queues (default: its notices),
 * failed jobs included once their attempts are over: what Slack shows after that is final.
 */
export async function waitForQueuesDone(
  sandbox: Sandbox,
  id: string,
  queues: readonly string[] = ['notify'],
  timeoutMs = 15_000,
  /** Which of its jobs to wait for (a review's overdue notice waits for days). @defaultValue all */
  which: (jobId: string) => boolean = () => true,
): Promise<void> {
  await waitUntil(
    async () => ((await pendingJobIds(sandbox, queues, id)).filter(which).length === 0 ? true : undefined),
    timeoutMs,
    `the ${queues.join(', ')} jobs of ${id} to finish`,
  );
}
