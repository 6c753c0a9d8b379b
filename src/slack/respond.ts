import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../ops/logger.js';
import { labelDryRun } from './dry-run-label.js';

/** An ephemeral reply to one person. */
export interface EphemeralReply {
  readonly text: string;
  readonly blocks?: KnownBlock[];
  /** Replace the message the person clicked on instead of adding a reply. @defaultValue false */
  readonly replaceOriginal?: boolean;
}

/** Answers one person: through a response_url while it works, else by direct message. */
export interface Replier {
  /**
   * Posts `message` to `responseUrl` when it is Slack's (hooks.slack.com, or the host of
   * SLACK_API_URL) and Slack takes it; otherwise, or when it has expired (Slack: 30 minutes,
   * 5 uses), sends it as a DM. Never throws: a reply that cannot be delivered is logged.
   */
  reply(userId: string, responseUrl: string | null | undefined, message: EphemeralReply): Promise<void>;
  /** The same, but a DM that Slack refuses throws the Web API error (for jobs that retry). */
  deliver(userId: string, responseUrl: string | null | undefined, message: EphemeralReply): Promise<void>;
}

/** Options for {@link createReplier}. */
export interface ReplierOptions {
  readonly client: WebClient;
  /** SLACK_API_URL; its host is accepted for response_urls besides hooks.slack.com. */
  readonly slackApiUrl: string;
  /** ATLAS_DRY_RUN: response_url replies say so too (Web API ones are labelled by the client's fetch). */
  readonly dryRun?: boolean;
  readonly logger: Logger;
}

/** True when `url` is an https (or, for SLACK_API_URL's own host, its scheme) URL on an allowed host. */
export function isSlackResponseUrl(url: string, slackApiUrl: string): boolean {
  let parsed: URL;
  let api: URL;
  try {
    parsed = new URL(url);
    api = new URL(slackApiUrl);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:' && parsed.hostname === 'hooks.slack.com') return true;
  return parsed.host === api.host && parsed.protocol === api.protocol;
}

/** The replier over a response_url (fetch) and the Web API (DM fallback). */
export function createReplier(options: ReplierOptions): Replier {
  const { client, logger } = options;

  const viaResponseUrl = async (url: string, message: EphemeralReply): Promise<boolean> => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(
          (options.dryRun ? labelDryRun : (p: Record<string, unknown>) => p)({
            response_type: 'ephemeral',
            replace_original: message.replaceOriginal ?? false,
            text: message.text,
            ...(message.blocks ? { blocks: message.blocks } : {}),
          }),
        ),
        signal: AbortSignal.timeout(5_000),
      });
      if (response.ok) return true;
      logger.info('response_url refused the reply; sending a DM instead', { status: response.status });
    } catch (error) {
      logger.info('response_url could not be reached; sending a DM instead', { error });
    }
    return false;
  };

  const viaDirectMessage = async (userId: string, message: EphemeralReply): Promise<void> => {
    const opened = await client.conversations.open({ users: userId });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`Slack opened no direct message with ${userId}`);
    await client.chat.postMessage({
      channel,
      text: message.text,
      ...(message.blocks ? { blocks: message.blocks } : {}),
      unfurl_links: false,
      unfurl_media: false,
    });
  };

  const deliver = async (
    userId: string,
    responseUrl: string | null | undefined,
    message: EphemeralReply,
  ): Promise<void> => {
    if (responseUrl) {
      if (isSlackResponseUrl(responseUrl, options.slackApiUrl)) {
        if (await viaResponseUrl(responseUrl, message)) return;
      } else {
        logger.warn('dropped a response_url that is not on a Slack host', { host: safeHost(responseUrl) });
      }
    }
    await viaDirectMessage(userId, message);
  };

  return {
    deliver,
    async reply(userId, responseUrl, message) {
      await deliver(userId, responseUrl, message).catch((error: unknown) =>
        logger.error('could not reply to a person at all', { userId, error }),
      );
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(not a URL)';
  }
}
