#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AUDIT_USAGE, runAuditExport } from './audit-export.js';
import { POLICY_CHECK_USAGE, runPolicyCheck } from './policy-check.js';

/** Usage of the `rolecall` command. */
export const ROLECALL_USAGE = [
  'usage: rolecall [bot|worker]     run Rolecall (no argument: bot and worker in one process)',
  `       ${POLICY_CHECK_USAGE.replace('usage: ', '')}`,
  `       ${AUDIT_USAGE.replace('usage: ', '')}`,
].join('\n');

/**
 * The `rolecall` command (package.json `bin`): `rolecall policy check FILE` checks a policy file
 * offline; `rolecall audit --review ID` prints a review's signed-off list; anything else runs Rolecall as `node dist/main.js` does. Resolves to the exit code.
 */
export async function runRolecall(argv: readonly string[]): Promise<number | 'running'> {
  if (argv[0] === 'policy') {
    if (argv[1] !== 'check') {
      process.stderr.write(`${ROLECALL_USAGE}\n`);
      return 2;
    }
    return runPolicyCheck(argv.slice(2), {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  }
  if (argv[0] === 'audit') {
    return runAuditExport(argv.slice(1), {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    });
  }
  // Loaded only to run: checking a policy needs none of Slack, Redis or Atlas.
  const { main } = await import('../main.js');
  await main(argv);
  return 'running';
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  // `rolecall policy check big.yml | head`: a reader that stops early is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  void runRolecall(process.argv.slice(2)).then((code) => {
    if (code !== 'running') process.exitCode = code;
  });
}
