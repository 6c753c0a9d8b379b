import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { appErrorOf } from '../support/errors.js';
import { spawnRolecall } from '../support/processes.js';

/** A bot process's own settings: Slack only. */
const SLACK = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret' };

/** Each Atlas credential, with a value that must never be echoed back. */
const CREDENTIALS = {
  ATLAS_PUBLIC_KEY: 'pub-do-not-print',
  ATLAS_PRIVATE_KEY: 'priv-do-not-print',
  ATLAS_CLIENT_ID: 'mdb_sa_id_do-not-print',
  ATLAS_CLIENT_SECRET: 'mdb_sa_sk_do-not-print',
} as const;
type Credential = keyof typeof CREDENTIALS;

const refusalOf = (key: string) =>
  `${key} is set, but a bot process (the one Slack reaches) must hold no Atlas credential: only workers call Atlas. Unset it here.`;

// The sandbox strips the Atlas credentials before it starts a bot process (dev/sandbox.ts), so the
// flow suites never meet this refusal: it is tested here, where the configuration is read.
describe('a bot process and Atlas credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolecall-bot-mode-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a bot process with no Atlas credential as holding no Atlas settings at all', () => {
    const config = parseConfig(SLACK, { mode: 'bot' });
    expect(config.mode).toBe('bot');
    expect(config.atlas).toBeNull();
  });

  it.each(Object.keys(CREDENTIALS) as Credential[])(
    'refuses %s in a bot process, naming it without its value',
    async (key) => {
      const error = await appErrorOf(() =>
        parseConfig({ ...SLACK, [key]: CREDENTIALS[key] }, { mode: 'bot' }),
      );
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(refusalOf(key));
      expect(error.message).not.toContain(CREDENTIALS[key]);
    },
  );

  it.each(Object.keys(CREDENTIALS) as Credential[])(
    'refuses %s given as a file (NAME_FILE) too',
    async (key) => {
      const file = join(dir, key);
      writeFileSync(file, `${CREDENTIALS[key]}\n`);
      const error = await appErrorOf(() => parseConfig({ ...SLACK, [`${key}_FILE`]: file }, { mode: 'bot' }));
      expect(error.message).toContain(refusalOf(key));
      expect(error.message).not.toContain(CREDENTIALS[key]);
    },
  );

  it('names every credential it holds at once, where a worker with the same pair is fine', async () => {
    const apiKey = {
      ATLAS_PUBLIC_KEY: CREDENTIALS.ATLAS_PUBLIC_KEY,
      ATLAS_PRIVATE_KEY: CREDENTIALS.ATLAS_PRIVATE_KEY,
    };
    const error = await appErrorOf(() => parseConfig({ ...SLACK, ...apiKey }, { mode: 'bot' }));
    expect(error.message).toContain(refusalOf('ATLAS_PUBLIC_KEY'));
    expect(error.message).toContain(refusalOf('ATLAS_PRIVATE_KEY'));
    expect(parseConfig({ ...SLACK, ...apiKey }, { mode: 'worker' }).atlas?.auth).toMatchObject({
      kind: 'digest',
    });
  });

  it('makes `main.js bot` exit 1 before it starts, when its environment holds an Atlas credential', async () => {
    const bot = spawnRolecall(['bot'], {
      ...SLACK,
      ATLAS_PUBLIC_KEY: CREDENTIALS.ATLAS_PUBLIC_KEY,
      ATLAS_PRIVATE_KEY: CREDENTIALS.ATLAS_PRIVATE_KEY,
      // Nothing listens here: a process that got as far as Redis would hang, not exit.
      REDIS_URL: 'redis://127.0.0.1:1',
      PORT: '0',
    });
    const code = await new Promise<number | null>((resolve) => bot.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(bot.output()).toContain(refusalOf('ATLAS_PRIVATE_KEY'));
    expect(bot.output()).not.toContain('rolecall started');
    expect(bot.output()).not.toContain(CREDENTIALS.ATLAS_PRIVATE_KEY);
  });
});
