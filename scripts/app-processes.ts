// What the scripts that run Rolecall as processes share: starting one from source, and reading a
// quantile off sorted figures.
import { type ChildProcess, spawn } from 'node:child_process';
import { waitUntil } from '../dev/http-util.js';

/** A Rolecall process started by {@link startRolecallProcess}. */
export interface RolecallProcess {
  readonly child: ChildProcess;
  /** Resolves with its HTTP port once it logged "rolecall started"; rejects if it exits first. */
  readonly ready: Promise<number>;
  /** Its last 20,000 characters of output, for a report when it fails. */
  output(): string;
}

/** A Rolecall process (`bot` or `worker`) from source, with only `env` (and PATH) as its environment. */
export function startRolecallProcess(
  mode: 'bot' | 'worker',
  env: Record<string, string>,
  readyWithinMs = 60_000,
): RolecallProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', mode], {
    cwd: new URL('..', import.meta.url),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const ready = waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`${mode} exited ${child.exitCode}: ${output}`);
      const line = output.split('\n').find((l) => l.includes('"rolecall started"'));
      return line ? (JSON.parse(line) as { port: number }).port : undefined;
    },
    readyWithinMs,
    `${mode} to start`,
  );
  return { child, ready, output: () => output };
}

/** The `q` quantile (0 to 1) of ascending figures, nearest rank; 0 when there are none. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}
