import { type ChildProcess, spawn } from 'node:child_process';
import { waitUntil } from '../../dev/http-util.js';

/** A Rolecall process started the way `npm run worker` starts one, from source. */
export interface RolecallProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** Resolves once it has logged "rolecall started". */
  ready(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns `node --import tsx <nodeArgs> src/main.ts <args>` with exactly `env` (no inherited secrets);
 * `nodeArgs` are Node's own options (another `--import`).
 */
export function spawnRolecall(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  nodeArgs: readonly string[] = [],
): RolecallProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, 'src/main.ts', ...args], {
    cwd: new URL('../..', import.meta.url),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return {
    child,
    output: () => output,
    ready: async () => {
      await waitUntil(
        () => (output.includes('"rolecall started"') ? true : child.exitCode !== null ? true : undefined),
        20_000,
        'the worker process to start',
      );
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}:\n${output}`);
    },
    kill: async (signal) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
  };
}
