import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/ops/logger.js';
import type { Policy } from '../../src/policy/policy.js';
import { openPolicySource, type PolicySourceOptions } from '../../src/policy/policy-source.js';
import type { PolicyApi } from '../../src/policy/read-policy.js';
import { appErrorOf } from '../support/errors.js';

const EXAMPLE = new URL('../../policy.example.yml', import.meta.url);

/** An Atlas API that has every role the example names. */
const API: PolicyApi = { name: 'ATLAS_API=test', invalidRoles: () => [] };

describe('openPolicySource', () => {
  let dir: string;
  let file: string;
  let example: string;
  /** The example with its default approvals channel changed: another policy, another version. */
  let changed: string;
  let logs: { msg: string; why?: string; version?: string }[];
  let loaded: string[];
  const stops: (() => void)[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rolecall-policy-'));
    file = join(dir, 'policy.yml');
    example = await readFile(EXAMPLE, 'utf8');
    changed = example.replace('approvalsChannel: C0APPROVALS', 'approvalsChannel: C0CHANGED');
    expect(changed).not.toBe(example);
    await writeFile(file, example);
    logs = [];
    loaded = [];
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (options: Partial<PolicySourceOptions> = {}) =>
    openPolicySource({
      file,
      api: API,
      logger: createLogger({ write: (line) => logs.push(JSON.parse(line)) }),
      onLoaded: (version) => loaded.push(version),
      ...options,
    });
  const messages = () => logs.map((line) => line.msg);

  it('reads the file once and logs the policy in force when opened', async () => {
    const source = await open();
    expect(source.current().approvalsChannel).toBe('C0APPROVALS');
    expect(source.current().targets.map((t) => t.name)).toEqual(['payments-prod', 'acme']);
    expect(logs).toEqual([expect.objectContaining({ msg: 'policy loaded', targets: 2, rules: 5 })]);
    expect(loaded).toEqual([source.current().version]);
  });

  it('throws the problems in words when the file cannot be opened as a policy', async () => {
    await writeFile(file, 'approvalsChannel: nope\n');
    const broken = await appErrorOf(() => open());
    expect(broken.code).toBe('POLICY_INVALID');
    expect(broken.message).toContain(
      `${file}:1:19 approvalsChannel: approvalsChannel must be a Slack channel id`,
    );
    const missing = await appErrorOf(() => open({ file: join(dir, 'missing.yml') }));
    expect(missing.code).toBe('POLICY_INVALID');
    expect(missing.message).toContain('Cannot read the policy file');
    const noOwner: PolicyApi = {
      name: 'ATLAS_API=old',
      invalidRoles: (_k, roles) => roles.filter((r) => r === 'GROUP_OWNER'),
    };
    await writeFile(file, example);
    expect((await appErrorOf(() => open({ api: noOwner }))).message).toContain(
      'GROUP_OWNER is not a project role of ATLAS_API=old',
    );
    expect(loaded).toEqual([]);
  });

  it('takes the new policy in and logs why when the file changed', async () => {
    const source = await open();
    const before = source.current().version;
    await writeFile(file, changed);
    await source.reload('SIGHUP');
    expect(source.current().approvalsChannel).toBe('C0CHANGED');
    expect(source.current().version).not.toBe(before);
    expect(logs.at(-1)).toEqual(
      expect.objectContaining({ msg: 'policy reloaded', why: 'SIGHUP', version: source.current().version }),
    );
    expect(loaded).toEqual([before, source.current().version]);
  });

  it('keeps the policy in force, logs every problem and throws when the file is broken', async () => {
    const source = await open();
    const before = source.current();
    await writeFile(file, 'approvalsChannel: C0APPROVALS\ntargets: []\nextra: 1\n');
    const error = await appErrorOf(() => source.reload('SIGHUP'));
    expect(error.code).toBe('POLICY_INVALID');
    expect(error.message).toContain('unknown key extra');
    expect(source.current()).toBe(before);
    expect(logs.at(-1)).toEqual({
      level: 'error',
      time: expect.any(String),
      msg: 'policy not reloaded; keeping the one in force',
      why: 'SIGHUP',
      version: before.version,
      problems: error.message,
    });
    await rm(file);
    expect((await appErrorOf(() => source.reload('the file changed'))).message).toContain('Cannot read');
    expect(source.current()).toBe(before);
    expect(loaded).toEqual([before.version]);
  });

  it('runs the hooks only when a reload changes the version, and waits for them', async () => {
    const source = await open();
    const seen: Policy[] = [];
    source.onChange(async (next) => {
      await Promise.resolve();
      seen.push(next);
    });
    await source.reload('SIGHUP');
    await source.reload('the file changed');
    expect(seen).toEqual([]);
    // Only a SIGHUP, asked for by a person, is answered when nothing changed.
    expect(messages()).toEqual(['policy loaded', 'policy re-read, unchanged']);
    await writeFile(file, changed);
    await source.reload('the file changed');
    expect(seen).toEqual([source.current()]);
    expect(seen[0]?.approvalsChannel).toBe('C0CHANGED');
    await source.reload('the file changed');
    expect(seen).toHaveLength(1);
    expect(messages()).toEqual(['policy loaded', 'policy re-read, unchanged', 'policy reloaded']);
  });

  it('reloads on its own when watching and the file is replaced by a rename', async () => {
    const source = await open();
    const seen: string[] = [];
    source.onChange(async (next) => {
      seen.push(next.approvalsChannel);
    });
    stops.push(source.watch());
    // An editor's save, or a deploy tool's: write beside, then rename over.
    await writeFile(join(dir, '.policy.yml.tmp'), changed);
    await rename(join(dir, '.policy.yml.tmp'), file);
    await expect.poll(() => source.current().approvalsChannel, { timeout: 5_000 }).toBe('C0CHANGED');
    expect(seen).toEqual(['C0CHANGED']);
    expect(logs.at(-1)).toEqual(expect.objectContaining({ msg: 'policy reloaded', why: 'the file changed' }));
  });

  it('follows a symlinked file into the directory it points at when watching', async () => {
    const real = join(dir, 'mounted');
    await mkdir(real);
    await writeFile(join(real, 'policy.yml'), example);
    const link = join(dir, 'linked.yml');
    await symlink(join(real, 'policy.yml'), link);
    const source = await open({ file: link });
    stops.push(source.watch());
    await writeFile(join(real, '.policy.yml.tmp'), changed);
    await rename(join(real, '.policy.yml.tmp'), join(real, 'policy.yml'));
    await expect.poll(() => source.current().approvalsChannel, { timeout: 5_000 }).toBe('C0CHANGED');
  });
});
