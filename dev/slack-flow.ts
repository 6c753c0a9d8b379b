import { waitUntil } from './http-util.js';
import { CHANNELS } from './sandbox.js';
import type { SimulatedMessage, SlackEvent, SlackSimulator } from './slack-simulator.js';

/** The approval message whose header names `requestId`, in `channel` (default: the sandbox's approvals channel). */
export function waitForApprovalMessage(
  slack: SlackSimulator,
  requestId: string,
  channel: string = CHANNELS.approvals,
): Promise<SimulatedMessage> {
  return waitUntil(
    () =>
      slack.messagesIn(channel).find((m) => !m.threadTs && m.text.includes(`Access request ${requestId}:`)),
    5_000,
    `approval message for ${requestId}`,
  );
}

/** Texts of all ephemeral replies shown to `userId`. */
export function ephemeralTexts(slack: SlackSimulator, userId: string): string[] {
  return slack.events
    .filter(
      (e): e is Extract<SlackEvent, { kind: 'ephemeral' }> => e.kind === 'ephemeral' && e.user === userId,
    )
    .map((e) => e.text);
}

/** Waits for an ephemeral reply to `userId` that matches. */
export function waitForEphemeral(slack: SlackSimulator, userId: string, pattern: RegExp): Promise<string> {
  return waitUntil(
    () => ephemeralTexts(slack, userId).find((t) => pattern.test(t)),
    5_000,
    `ephemeral ${pattern}`,
  );
}

/** Messages posted in a channel or thread, in order. */
export function postedIn(slack: SlackSimulator, channel: string, threadTs?: string): SimulatedMessage[] {
  return slack.messagesIn(channel).filter((m) => (threadTs === undefined ? true : m.threadTs === threadTs));
}

/** Waits for a direct message to `userId` that matches. */
export function waitForDm(
  slack: SlackSimulator,
  userId: string,
  pattern: RegExp,
  timeoutMs = 10_000,
): Promise<SimulatedMessage> {
  return waitUntil(
    () => slack.messagesIn(slack.dmChannelOf(userId)).find((m) => pattern.test(m.text)),
    timeoutMs,
    `DM to ${userId} matching ${pattern}`,
  );
}

/** Waits for a reply in the approval message's thread that matches. */
export function waitForThreadReply(
  slack: SlackSimulator,
  approval: SimulatedMessage,
  pattern: RegExp,
  timeoutMs = 10_000,
): Promise<SimulatedMessage> {
  return waitUntil(
    () => postedIn(slack, approval.channel, approval.ts).find((m) => pattern.test(m.text)),
    timeoutMs,
    `thread reply matching ${pattern}`,
  );
}

/** The request id in a confirmation text. */
export function requestIdIn(text: string): string {
  const match = /AR-[0-9A-Z]+/.exec(text);
  if (!match) throw new Error(`no request id in: ${text}`);
  return match[0];
}

/** The offboarding id in a confirmation text (`Offboarding *OB-…* of …`). */
export function offboardingIdIn(text: string): string {
  const match = /OB-[0-9A-Z]+/.exec(text);
  if (!match) throw new Error(`no offboarding id in: ${text}`);
  return match[0];
}

/** The ids that `pattern`'s first group finds in the top-level messages of `channel`, each once, in the order posted. */
function idsPostedIn(slack: SlackSimulator, channel: string, pattern: RegExp): string[] {
  const ids = slack
    .messagesIn(channel)
    .filter((m) => !m.threadTs)
    .map((m) => pattern.exec(m.text)?.[1])
    .filter((id): id is string => id !== undefined);
  return [...new Set(ids)];
}

/** Ids of the requests whose approval message (`Access request AR-…:`) is in `channel`, in the order posted. */
export function approvalIdsIn(slack: SlackSimulator, channel: string = CHANNELS.approvals): string[] {
  return idsPostedIn(slack, channel, /Access request (AR-[0-9A-Z]+):/);
}

/** Ids of the access reviews posted in `channel` (a review's first message: `Access review RV-… of …`), in order. */
export function reviewIdsIn(slack: SlackSimulator, channel: string = CHANNELS.approvals): string[] {
  return idsPostedIn(slack, channel, /Access review (RV-[0-9A-Z]+) of /);
}

/** Every text in a message's blocks, joined: what a reader sees. */
export function blockText(message: SimulatedMessage): string {
  return JSON.stringify(message.blocks ?? []);
}
