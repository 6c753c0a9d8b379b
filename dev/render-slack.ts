/** Names to show instead of Slack ids. */
export interface DisplayNames {
  readonly users: Readonly<Record<string, string>>;
  readonly channels: Readonly<Record<string, string>>;
}

const EMOJI: Readonly<Record<string, string>> = {
  white_check_mark: '✅',
  x: '❌',
  no_entry: '⛔',
  warning: '⚠️',
  lock: '🔒',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  inbox_tray: '📥',
  information_source: 'ℹ️',
  wastebasket: '🗑️',
};

/** Renders mrkdwn the way Slack would show it: mentions as names, dates as text, entities decoded. */
export function renderMrkdwn(text: string, names: DisplayNames): string {
  return text
    .replace(/<@([UW][A-Z0-9]+)>/g, (_, id: string) => `@${names.users[id] ?? id}`)
    .replace(/<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>/g, (_, id: string) => `#${names.channels[id] ?? id}`)
    .replace(/<!date\^(\d+)\^[^|>]*\|[^>]*>/g, (_, seconds: string) =>
      new Date(Number(seconds) * 1000).toLocaleTimeString('en-GB'),
    )
    .replace(/<(https?:[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/:([a-z_]+):/g, (whole, name: string) => EMOJI[name] ?? whole)
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, '$1$2')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,])/g, '$1$2')
    .replace(/`([^`\n]+)`/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

type Text = { text?: string } | undefined;
interface Block {
  type: string;
  text?: Text;
  fields?: { text: string }[];
  elements?: { type: string; text?: string | { text: string } }[];
  accessory?: { type: string; text?: { text: string } };
}

/** Renders Block Kit blocks as readable lines; buttons as `[Approve] [Deny]`. */
export function renderBlocks(blocks: readonly unknown[], names: DisplayNames): string[] {
  const lines: string[] = [];
  const md = (text: string) => renderMrkdwn(text, names);
  for (const block of blocks as Block[]) {
    switch (block.type) {
      case 'header':
        lines.push(`▌ ${block.text?.text ?? ''}`);
        break;
      case 'section':
        if (block.text?.text) {
          const [first = '', ...rest] = md(block.text.text).split('\n');
          const labelled = /^\*[^*]+\*\n/.test(block.text.text);
          lines.push(...(labelled ? [`${first}: ${rest.join(' ')}`] : [first, ...rest]));
        }
        if (block.accessory?.type === 'button') {
          const last = lines.pop() ?? '';
          lines.push(`${last}  [${block.accessory.text?.text ?? 'button'}]`);
        }
        for (const field of block.fields ?? []) {
          const [label = '', ...value] = md(field.text).split('\n');
          lines.push(`${label.replace(/\*/g, '')}: ${value.join(' ')}`);
        }
        break;
      case 'actions':
        lines.push(
          (block.elements ?? [])
            .map((e) => `[${typeof e.text === 'string' ? e.text : (e.text?.text ?? e.type)}]`)
            .join(' '),
        );
        break;
      case 'context':
        lines.push(
          ...(block.elements ?? []).map((e) =>
            md(typeof e.text === 'string' ? e.text : (e.text?.text ?? '')),
          ),
        );
        break;
      case 'divider':
        lines.push('────────');
        break;
      default:
        lines.push(`(${block.type} block)`);
    }
  }
  return lines;
}
