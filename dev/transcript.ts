import type { AtlasSimulator } from './atlas-simulator.js';
import { type DisplayNames, renderBlocks, renderMrkdwn } from './render-slack.js';
import type { SlackEvent, SlackSimulator } from './slack-simulator.js';

/** Prints what the people in the story saw, in order, with the Atlas calls in between. */
export interface Transcript {
  /** A person did something in Slack (typed a command, clicked a button). */
  action(userId: string, channelId: string | undefined, text: string): void;
  /** A line of narration, printed after everything that happened before it. */
  say(text: string): void;
  /** Prints everything that happened since the last flush. */
  flush(): void;
}

/** Options for {@link createTranscript}. */
export interface TranscriptOptions {
  readonly slack: SlackSimulator;
  readonly atlas: AtlasSimulator;
  readonly names: DisplayNames;
  readonly write: (line: string) => void;
}

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly lines: string[];
}

const INDENT = '    ';

/** Creates a transcript printer over the simulators' records. */
export function createTranscript(options: TranscriptOptions): Transcript {
  const { slack, atlas, names, write } = options;
  let slackSeen = 0;
  let atlasSeen = 0;
  let order = 0;
  let pending: Entry[] = [];
  const shown = new Map<string, string[]>();
  const userName = (id: string) => names.users[id] ?? id;
  const place = (channel: string | undefined) => {
    if (channel === undefined) return 'Slack';
    if (channel.startsWith('D')) return `DM with ${userName(`U${channel.slice(1)}`)}`;
    return `#${names.channels[channel] ?? channel}`;
  };
  const body = (text: string, blocks: unknown[] | undefined) =>
    (blocks && blocks.length > 0 ? renderBlocks(blocks, names) : renderMrkdwn(text, names).split('\n')).map(
      (line) => `${INDENT}${line}`,
    );
  const push = (at: number, lines: string[]) => {
    order += 1;
    pending.push({ at, order, lines });
  };

  const renderSlack = (event: SlackEvent): string[] => {
    switch (event.kind) {
      case 'message': {
        const m = event.message;
        const where = m.threadTs ? `${place(m.channel)} › thread` : place(m.channel);
        const lines = body(m.text, m.blocks);
        shown.set(`${m.channel}/${m.ts}`, lines);
        return [`${where} · Rolecall (bot)`, ...lines];
      }
      case 'update': {
        const m = event.message;
        const lines = body(m.text, m.blocks);
        const before = shown.get(`${m.channel}/${m.ts}`) ?? [];
        shown.set(`${m.channel}/${m.ts}`, lines);
        const changed = lines.filter((line) => !before.includes(line));
        const gone = before.filter((line) => !lines.includes(line) && line.includes('['));
        return [
          `${place(m.channel)} · Rolecall (bot) updated its message:`,
          ...gone.map((line) => `${line.replace(/\S.*/, '')}(removed: ${line.trim()})`),
          ...changed,
        ];
      }
      case 'ephemeral':
        return [
          `${place(event.channel)} · Rolecall (bot), only visible to ${userName(event.user)}`,
          ...body(event.text, event.blocks),
        ];
      case 'view': {
        const title = (event.view.title as { text?: string } | undefined)?.text ?? 'a modal';
        return [`Slack opens the modal “${title}” for ${event.user ? userName(event.user) : 'the user'}`];
      }
      case 'home':
        return [
          `Home tab of ${userName(event.user)} · Rolecall`,
          ...body('', (event.view.blocks as unknown[] | undefined) ?? []),
        ];
      case 'function':
        return [
          `Workflow Builder · step ${event.executionId} ${event.outcome === 'success' ? `completed ${JSON.stringify(event.outputs)}` : `failed: ${event.error}`}`,
        ];
    }
  };

  const collect = () => {
    for (const event of slack.events.slice(slackSeen)) push(event.at, renderSlack(event));
    slackSeen = slack.events.length;
    const calls = atlas.calls.slice(atlasSeen);
    atlasSeen = atlas.calls.length;
    for (const call of calls.filter((c) => c.auth !== 'none')) {
      const sent = call.body === undefined ? '' : ` ${JSON.stringify(call.body)}`;
      push(call.at, [`${INDENT}⇢ Atlas ${call.method} ${call.path}${sent} → ${call.status}`]);
    }
  };

  const flush = () => {
    collect();
    const entries = pending.sort((a, b) => a.at - b.at || a.order - b.order);
    pending = [];
    for (const entry of entries) {
      const separate = !entry.lines[0]?.startsWith(INDENT);
      if (separate) write('');
      for (const line of entry.lines) write(line);
    }
  };

  return {
    action(userId, channelId, text) {
      collect();
      push(Date.now(), [`${place(channelId)} · ${userName(userId)}`, `${INDENT}${text}`]);
    },
    say(text) {
      flush();
      write('');
      write(text);
    },
    flush,
  };
}
