import { execFile } from 'node:child_process';

const root = new URL('../../', import.meta.url);

/** What a command printed and how it exited. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command from the repository root as a user would, with only PATH and `env` set (no
 * REDIS_URL, Slack or Atlas variables unless given).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs `rolecall ARGS…` from the TypeScript source (tsx), with only PATH and `env` set. */
export function runRolecall(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CommandResult> {
  return runCommand(process.execPath, ['--import', 'tsx', 'src/cli/rolecall.ts', ...args], env);
}
