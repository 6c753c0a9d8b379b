import { Queue } from 'bullmq';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, type SandboxOptions, startSandbox } from '../../dev/sandbox.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { createRedisClient } from '../../src/ops/redis.js';
import { requestAs, sleep, waitForState } from './grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from './redis.js';

/** An instant `ms` from now, as typed after `from` (ISO 8601 with seconds and Z). */
export function isoIn(ms: number): { at: number; text: string } {
  const at = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { at, text: new Date(at).toISOString().replace('.000Z', 'Z') };
}

/** Waits until `at` (ms since epoch) has passed by `plusMs`. */
export const until = (at: number, plusMs = 0) => sleep(Math.max(0, at - Date.now()) + plusMs);

/** The approval message as it stands now. */
export const current = (sandbox: Sandbox, approval: SimulatedMessage): SimulatedMessage =>
  sandbox.slack.message(CHANNELS.approvals, approval.ts) ?? approval;

/**
 * What `person` was told that matches: a DM, or a reply where they asked (an ephemeral message, while
 * Slack's response_url still takes it); the first such text, once there is one.
 */
export function heardBy(sandbox: Sandbox, person: { readonly id: string }, pattern: RegExp): Promise<string> {
  return waitUntil(
    () =>
      [
        ...sandbox.slack.messagesIn(sandbox.slack.dmChannelOf(person.id)).map((m) => m.text),
        ...sandbox.slack.events.flatMap((e) =>
          e.kind === 'ephemeral' && e.user === person.id ? [e.text] : [],
        ),
      ].find((text) => pattern.test(text)),
    5_000,
    `${person.id} told ${pattern}`,
  ).catch(() => 'nothing');
}

/** One of the app's BullMQ queues, opened on its own connection; `close` when done. */
export function openQueue(sandbox: Sandbox, name: string) {
  const redis = createRedisClient(sandbox.config.redis, 'commands');
  const queue = new Queue(name, { connection: redis, prefix: sandbox.config.redis.prefix });
  return {
    queue,
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

/** A sandbox for scheduled grants: quick job retries, no end reminders (they would crowd the DMs). */
export function startScheduledSandbox(
  label: string,
  options: Partial<SandboxOptions> = {},
): Promise<Sandbox> {
  return startSandbox({
    redisUrl: TEST_REDIS_URL,
    prefix: uniquePrefix(label),
    ...options,
    env: { JOB_BACKOFF_MS: '50', REMIND_BEFORE: '0', ...options.env },
  });
}

/** Alice asks for `role` on payments-prod from `begin` for `duration`; Bob approves; returns once approved. */
export async function approveAhead(
  sandbox: Sandbox,
  begin: { readonly text: string },
  duration = '1h',
  role = 'GROUP_DATA_ACCESS_READ_ONLY',
): Promise<Awaited<ReturnType<typeof requestAs>>> {
  const asked = await requestAs(
    sandbox,
    PEOPLE.alice,
    `request ${role} on payments-prod from ${begin.text} for ${duration} because migration`,
  );
  await waitForState(sandbox, asked.id, 'pending');
  await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
  await waitForState(sandbox, asked.id, 'approved');
  return asked;
}
