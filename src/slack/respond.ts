import type { KnownBlock } from '@slack/types';

/** An ephemeral reply to one person. */
export interface EphemeralReply {
  readonly text: string;
  readonly blocks?: KnownBlock[];
}

/**
 * Posts an ephemeral message to a `response_url` Slack gave us (valid for 30 minutes, 5 uses).
 * Used after a modal closes, when Bolt's own `respond` is not available.
 */
export async function postToResponseUrl(url: string, message: EphemeralReply): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...message }),
  });
  if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
}
