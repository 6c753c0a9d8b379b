import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, runRolecall } from '../support/cli.js';

const rolecall = (...args: string[]) => runRolecall(args);

const BROKEN = `approvalsChannel: C0APPROVALS
groups:
  dba: [U0BOB]
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1
    approvers: [dba, dbas]
    roles: [GROUP_READ_ONLY]
    rules:
      - roles: [GROUP_OWNER]
        approvals: 2
`;

describe('rolecall policy check', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rolecall-policy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says a valid file is valid, with its counts, and exits 0 without Redis, Slack or Atlas', async () => {
    const result = await rolecall('policy', 'check', 'policy.example.yml');
    expect(result).toEqual({
      code: 0,
      stdout: 'policy.example.yml is valid: 2 targets, 5 rules, 1 bundle\n',
      stderr: '',
    });
  });

  it('prints every problem as FILE:LINE:COL message and exits 1', async () => {
    const file = join(dir, 'broken.yml');
    await writeFile(file, BROKEN);
    const result = await rolecall('policy', 'check', file);
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toEqual([
      `${file}:6:14 targets[0].project: project must be a 24-character lowercase hex Atlas project id`,
      `${file}:7:22 targets[0].approvers[1]: dbas is not a group under groups:`,
      `${file}:10:17 targets[0].rules[0].roles[0]: GROUP_OWNER is not one of this target's roles or teams; a rule may only name what the target offers`,
    ]);
  });

  it('rejects roles the Atlas API flavor does not have when --api is given', async () => {
    expect((await rolecall('policy', 'check', 'policy.example.yml', '--api', 'atlas-v2')).code).toBe(0);
    const result = await rolecall('policy', 'check', 'policy.example.yml', '--api', 'ops-manager');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /^policy\.example\.yml:\d+:\d+ targets\[1\]\.roles\[1\]: ORG_BILLING_READ_ONLY is not an organization role of ATLAS_API=ops-manager\n$/,
    );
  });

  it('says what is wrong with the command line and exits 2', async () => {
    const missing = await rolecall('policy', 'check');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('FILE is missing\nusage: rolecall policy check FILE [--api ');
    expect((await rolecall('policy', 'check', 'policy.example.yml', '--api', 'atlas-v9')).code).toBe(2);
    expect((await rolecall('policy', 'lint', 'policy.example.yml')).code).toBe(2);
  });

  it('names a file it cannot read and exits 1', async () => {
    const result = await rolecall('policy', 'check', join(dir, 'nope.yml'));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${join(dir, 'nope.yml')}: cannot read: ENOENT`);
  });

  it('runs as npm run policy:check -- FILE, as the README says', async () => {
    const result = await runCommand('npm', ['run', '-s', 'policy:check', '--', 'policy.example.yml']);
    expect(result).toMatchObject({
      code: 0,
      stdout: 'policy.example.yml is valid: 2 targets, 5 rules, 1 bundle\n',
    });
  });
});
