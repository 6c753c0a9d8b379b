import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Rolecall, startRolecall } from './compose/start-rolecall.js';
import { loadConfig, type RunMode } from './config.js';
import { AppError, isAppError } from './errors.js';

/** Usage of `node dist/main.js`, shown with every argument error. */
export const USAGE = 'usage: node dist/main.js [bot|worker]   (no argument: bot and worker in one process)';

/**
 * Reads the command line strictly (node:util parseArgs): nothing, `bot` or `worker`; anything else
 * (a typo such as `wroker`, an unknown option) is an AppError saying so, never a silent default.
 */
export function parseRunMode(argv: readonly string[]): RunMode {
  let positionals: string[];
  try {
    ({ positionals } = parseArgs({ args: [...argv], options: {}, allowPositionals: true, strict: true }));
  } catch (cause) {
    throw new AppError('CONFIG_INVALID', `${(cause as Error).message}\n${USAGE}`, { cause });
  }
  if (positionals.length === 0) return 'all';
  const [mode] = positionals;
  if (positionals.length === 1 && (mode === 'bot' || mode === 'worker')) return mode;
  throw new AppError('CONFIG_INVALID', `Unknown run mode "${positionals.join(' ')}".\n${USAGE}`);
}

/**
 * Runs Rolecall as a process: `node dist/main.js` (bot + worker), `node dist/main.js worker` (worker
 * only) or `node dist/main.js bot` (Slack side only, when workers run elsewhere). SIGTERM and SIGINT
 * stop it; SIGHUP re-reads the policy file.
 */
export async function main(argv: readonly string[]): Promise<void> {
  let mode: RunMode;
  try {
    mode = parseRunMode(argv);
  } catch (error) {
    process.stderr.write(`${isAppError(error) ? error.message : String(error)}\n`);
    process.exit(2);
  }
  let rolecall: Rolecall;
  try {
    rolecall = await startRolecall(loadConfig({ mode }));
  } catch (error) {
    process.stderr.write(`${isAppError(error) ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    process.stderr.write(`received ${signal}, shutting down\n`);
    rolecall.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // A broken file is logged by reloadPolicy and keeps the policy in force.
  process.on('SIGHUP', () => {
    rolecall.reloadPolicy().catch(() => undefined);
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  void main(process.argv.slice(2));
}
