import { expect } from 'vitest';
import type { RoleChange } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { createRequestStore } from '../../dev/request-store.js';
import { ATLAS, CHANNELS, type PEOPLE, type Sandbox } from '../../dev/sandbox.js';
import { approvalIdsIn, requestIdIn, waitForApprovalMessage } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
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

/** Waits until a request exists and reaches `state`, and returns it. */
export async function waitForState(
  sandbox: Sandbox,
  id: string,
  state: RequestState,
  timeoutMs = 15_000,
): Promise<AccessRequest> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const request = await readRequest(sandbox, id).catch(() => undefined);
    if (request?.state === state) return request;
    if (Date.now() > deadline)
      throw new Error(`${id} is ${request?.state ?? 'not stored'}, not ${state}, after ${timeoutMs} ms`);
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
