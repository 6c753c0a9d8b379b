import { describe, expect, it } from 'vitest';
import { parseRunMode } from '../../src/main.js';
import { appErrorOf } from '../support/errors.js';
import { spawnRolecall } from '../support/processes.js';

describe('parseRunMode', () => {
  it.each([
    [[], 'all'],
    [['bot'], 'bot'],
    [['worker'], 'worker'],
  ] as const)('reads %j as %s', (argv, mode) => {
    expect(parseRunMode(argv)).toBe(mode);
  });

  it.each([[['wroker']], [['bot', 'worker']], [['--verbose']], [['worker', '--port=3']]])(
    'refuses %j with the usage instead of running everything',
    async (argv) => {
      const error = await appErrorOf(() => parseRunMode(argv));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('usage: node dist/main.js [bot|worker]');
    },
  );

  it('makes the process exit 2 on a typo, before reading any configuration', async () => {
    const process = spawnRolecall(['wroker'], {});
    const code = await new Promise<number | null>((resolve) => process.child.once('exit', resolve));
    expect(code).toBe(2);
    expect(process.output()).toContain('Unknown run mode "wroker"');
  });
});
