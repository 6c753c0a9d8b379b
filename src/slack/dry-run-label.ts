/**
 * ATLAS_DRY_RUN in Slack: every message and view Rolecall sends says so, at the top. Works on the
 * payload as sent (Web API form fields, or a response_url JSON body), so no builder can forget it.
 */

/** The words every dry-run message starts with. */
export const DRY_RUN_TEXT = ':test_tube: *DRY RUN*: nothing is changed in Atlas';

const BANNER = { type: 'context', elements: [{ type: 'mrkdwn', text: DRY_RUN_TEXT }] };

/** Slack's block limits: 50 in a message, 100 in a modal or Home tab (Block Kit reference). */
const MAX_MESSAGE_BLOCKS = 50;
const MAX_VIEW_BLOCKS = 100;

/** Web API methods whose payload is a message or a view. */
export const LABELLED_METHODS = new Set([
  'chat.postMessage',
  'chat.postEphemeral',
  'chat.update',
  'views.open',
  'views.push',
  'views.update',
  'views.publish',
  // A Workflow Builder step's failure: its `error` is shown to the person who ran the workflow.
  'functions.completeError',
]);

/**
 * Labels a payload: `text` (and a workflow step's `error`) gets the words in front; `blocks` (and a `view`'s blocks) get a context
 * block on top when there is room within Slack's limits, else their first text says it.
 */
export function labelDryRun(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  if (typeof out.text === 'string') out.text = `${DRY_RUN_TEXT} · ${out.text}`;
  // functions.completeError: plain text, no mrkdwn.
  if (typeof out.error === 'string') out.error = `DRY RUN: ${out.error}`;
  if (Array.isArray(out.blocks)) out.blocks = labelBlocks(out.blocks, MAX_MESSAGE_BLOCKS);
  if (typeof out.view === 'object' && out.view !== null) {
    const view = out.view as Record<string, unknown>;
    if (Array.isArray(view.blocks)) out.view = { ...view, blocks: labelBlocks(view.blocks, MAX_VIEW_BLOCKS) };
  }
  return out;
}

function labelBlocks(blocks: unknown[], max: number): unknown[] {
  if (blocks.length < max) return [BANNER, ...blocks];
  // No room for a block: say it in the first block that carries words (a section's or header's
  // text, or a context block with room for one more element).
  const all = blocks as Record<string, unknown>[];
  const at = all.findIndex((block) => labelBlock(block) !== undefined);
  if (at < 0) return blocks;
  return all.map((block, i) => (i === at ? labelBlock(block) : block));
}

/** The block with the label in its text, or undefined when it has no place for words. */
function labelBlock(block: Record<string, unknown>): Record<string, unknown> | undefined {
  const text = block.text as { type?: unknown; text?: unknown } | undefined;
  if (text && typeof text.text === 'string') {
    // A header's plain text holds 150 characters and no mrkdwn; a section's holds 3,000.
    const plain = text.type === 'plain_text';
    const label = plain ? 'DRY RUN' : DRY_RUN_TEXT;
    const labelled = `${label} · ${text.text}`.slice(0, plain ? 150 : 3000);
    return { ...block, text: { ...text, text: labelled } };
  }
  // A context block holds at most 10 elements (Block Kit reference).
  if (block.type === 'context' && Array.isArray(block.elements) && block.elements.length < 10) {
    return { ...block, elements: [...BANNER.elements, ...block.elements] };
  }
  return undefined;
}
