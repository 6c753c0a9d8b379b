import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ATLAS_API_FLAVORS, type AtlasApiFlavor } from '../atlas/atlas-options.js';
import { invalidRoles } from '../atlas/validate.js';
import { formatProblem, type PolicyApi, readPolicy } from '../policy/read-policy.js';

/** Usage of `rolecall policy check`, shown with every argument error. */
export const POLICY_CHECK_USAGE = `usage: rolecall policy check FILE [--api ${ATLAS_API_FLAVORS.join('|')}]`;

/** Where the check writes: lines without their newline. */
export interface CheckOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/**
 * `rolecall policy check FILE [--api FLAVOR]` (and `npm run policy:check -- FILE`): validates a policy
 * file offline, with no Redis, Slack or Atlas. Prints `FILE is valid: N targets, M rules[, B bundles]` and returns
 * 0, or prints every problem as `FILE:LINE:COL message` and returns 1; returns 2 for a usage error.
 * With `--api`, roles that Atlas API flavor does not have are problems too (as at start-up).
 */
export async function runPolicyCheck(args: readonly string[], output: CheckOutput): Promise<number> {
  let file: string;
  let flavor: AtlasApiFlavor | undefined;
  try {
    const { positionals, values } = parseArgs({
      args: [...args],
      options: { api: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1)
      throw new Error(positionals.length === 0 ? 'FILE is missing' : 'one FILE at a time');
    file = positionals[0] ?? '';
    if (values.api !== undefined && !(ATLAS_API_FLAVORS as readonly string[]).includes(values.api)) {
      throw new Error(`--api must be one of ${ATLAS_API_FLAVORS.join(', ')}`);
    }
    flavor = values.api as AtlasApiFlavor | undefined;
  } catch (error) {
    output.err(`${(error as Error).message}\n${POLICY_CHECK_USAGE}`);
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    output.out(
      formatProblem(file, {
        line: undefined,
        col: undefined,
        message: `cannot read: ${(error as Error).message}`,
      }),
    );
    return 1;
  }
  const api: PolicyApi | undefined =
    flavor === undefined
      ? undefined
      : { name: `ATLAS_API=${flavor}`, invalidRoles: (kind, roles) => invalidRoles(flavor, kind, roles) };
  const reading = readPolicy(text, api);
  if (!reading.ok) {
    for (const problem of reading.problems) output.out(formatProblem(file, problem));
    return 1;
  }
  const { targets, bundles = [] } = reading.policy;
  const rules = targets.reduce((sum, t) => sum + t.rules.length, 0);
  const bundled = bundles.length === 0 ? '' : `, ${bundles.length} bundle${bundles.length === 1 ? '' : 's'}`;
  output.out(
    `${file} is valid: ${targets.length} target${targets.length === 1 ? '' : 's'}, ${rules} rule${rules === 1 ? '' : 's'}${bundled}`,
  );
  return 0;
}
