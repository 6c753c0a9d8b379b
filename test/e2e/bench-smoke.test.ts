import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// The README names these commands; a tiny N shows they still run to their table (no figures are
// checked: a benchmark prints, it is not a timed test).
describe('benchmark scripts', () => {
  it('runs bench:ack to its table when the processes log in pino JSON', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'bench:ack', '--', '--n', '2'], { timeout: 120_000 });
    expect(stdout).toMatch(/\| slash command \(request\) +\| 1 +\|/);
    expect(stdout).toMatch(/\| button click \(Approve\) +\| 100 +\|/);
  }, 150_000);

  it('runs bench:workflow to its table and the bytes per kind of key', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'bench:workflow', '--', '--n', '20'], {
      timeout: 120_000,
    });
    expect(stdout).toMatch(/\| Rolecall approve -> applied +\| 20 +\|/);
    expect(stdout).toMatch(/\| bare BullMQ no-op job +\| 20 +\|/);
    expect(stdout).toMatch(/\| Rolecall request -> applied -> ended \| 20 +\|/);
    expect(stdout).toMatch(/B {2}request:<id> \(20 keys\)/);
  }, 150_000);
});
