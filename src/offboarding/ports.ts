import type { Offboarding } from './model.js';

/** Where offboardings are shown (implemented over the Slack Web API in slack/offboarding-notifier.ts). */
export interface OffboardingNotifier {
  /** Posts the offboarding's message in its channel, or updates it; returns where it is. */
  show(offboarding: Offboarding): Promise<NonNullable<Offboarding['message']>>;
  /** A reply in the offboarding's thread. */
  thread(offboarding: Offboarding, text: string): Promise<void>;
  /** The Slack user id of the person with this email, or null when Slack does not know them. */
  userIdOf(email: string): Promise<string | null>;
}

/** Background work of offboardings (implemented with BullMQ in jobs/). */
export interface OffboardingQueue {
  /** Posts or updates the offboarding's message (the approval, then the live table). */
  show(id: string): Promise<void>;
  /** After approval: cancels the person's requests, ends their grants, removes them target by target. */
  run(id: string): Promise<void>;
}
