import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildPolicyJsonSchema, formatPolicyJsonSchema } from '../../src/policy/policy-schema.js';

const root = new URL('../../', import.meta.url);

describe('policy.schema.json', () => {
  it('is what the zod schema generates now (run npm run policy:schema when this fails)', async () => {
    expect(await readFile(new URL('policy.schema.json', root), 'utf8')).toBe(formatPolicyJsonSchema());
  });

  it('is referenced from policy.example.yml for editors', async () => {
    const example = await readFile(new URL('policy.example.yml', root), 'utf8');
    expect(example.split('\n')[0]).toBe('# yaml-language-server: $schema=./policy.schema.json');
  });

  it('accepts policy.example.yml and rejects what Rolecall rejects field by field', async () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(buildPolicyJsonSchema());
    const example = parse(await readFile(new URL('policy.example.yml', root), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(validate(example)).toBe(true);
    const target = {
      name: 'p',
      project: '5f1a2b3c4d5e6f7a8b9c0d1e',
      approvers: ['U0BOB'],
      roles: ['GROUP_READ_ONLY'],
    };
    const broken = [
      { approvalsChannel: 'C0A', targets: [{ ...target, colour: 'blue' }] },
      { approvalsChannel: '#approvals', targets: [target] },
      { approvalsChannel: 'C0A', targets: [{ ...target, maxDuration: 'soon' }] },
      {
        approvalsChannel: 'C0A',
        targets: [{ ...target, rules: [{ roles: ['GROUP_OWNER'], approvals: 0 }] }],
      },
      { approvalsChannel: 'C0A', targets: [{ ...target, approvers: ['bob smith'] }] },
      { approvalsChannel: 'C0A', groups: { dba: ['dba2'] }, targets: [target] },
    ];
    for (const doc of broken) expect(validate(doc)).toBe(false);
  });
});
