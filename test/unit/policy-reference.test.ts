import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  listSchemaKeys,
  POLICY_REFERENCE_COMMAND,
  renderPolicyReference,
  type SchemaNode,
  slugOf,
} from '../../scripts/policy-reference.js';

const root = new URL('../../', import.meta.url);

async function readSchema(): Promise<SchemaNode> {
  return JSON.parse(await readFile(new URL('policy.schema.json', root), 'utf8')) as SchemaNode;
}

/** The rows of a Markdown table whose first cell is the key in a code span. */
function rowsOf(markdown: string): string[] {
  return markdown.split('\n').filter((line) => line.startsWith('| `'));
}

/** The cells of a table row, splitting on pipes that are not escaped. */
function cellsOf(row: string): string[] {
  return row
    .slice(2, -2)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

describe('docs/policy-reference.md', () => {
  it('is what the generator makes of policy.schema.json now', async () => {
    const committed = await readFile(new URL('docs/policy-reference.md', root), 'utf8');
    expect(
      committed,
      `docs/policy-reference.md is stale: run \`${POLICY_REFERENCE_COMMAND}\` (after \`npm run policy:schema\` when the zod schema changed) and commit the result`,
    ).toBe(renderPolicyReference(await readSchema()));
  });

  it('has a row for every key of the schema, nested ones included, with four cells each', async () => {
    const schema = await readSchema();
    const markdown = renderPolicyReference(schema);
    const keys = listSchemaKeys(schema);
    // Spot checks that the walk reaches every depth: the root, a target, a map's values, a rule's object.
    expect(keys).toEqual(
      expect.arrayContaining([
        'approvalsChannel',
        'targets[].maxDuration',
        'targets[].database.levels.<name>.roles[].collection',
        'targets[].rules[].escalate.to',
      ]),
    );
    const rows = rowsOf(markdown);
    expect(rows).toHaveLength(keys.length);
    for (const row of rows) expect(cellsOf(row)).toHaveLength(4);
  });

  it('links only to headings it has', async () => {
    const markdown = renderPolicyReference(await readSchema());
    const anchors = new Set(
      markdown
        .split('\n')
        .filter((line) => line.startsWith('## '))
        .map((line) => slugOf(line.slice(3))),
    );
    const links = [...markdown.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !anchors.has(link ?? ''))).toEqual([]);
  });
});

describe('renderPolicyReference', () => {
  const schema: SchemaNode = {
    title: 'Sample',
    type: 'object',
    properties: {
      mode: { type: 'string', enum: ['fast', 'safe'], default: 'safe', description: 'How to go.' },
      retries: { type: 'integer', minimum: 0, maximum: 5, examples: [1, 3] },
      label: { type: 'string', pattern: '^(a|b)$', description: 'A <b>bold</b> `<kept>` label.' },
      kind: { const: 'x' },
      limit: { anyOf: [{ type: 'integer' }, { type: 'string', enum: ['none'] }] },
      nested: {
        type: 'object',
        properties: { deep: { type: 'boolean', description: 'Deep.' } },
        required: ['deep'],
      },
    },
    required: ['mode'],
    additionalProperties: false,
  };

  it('writes enums, defaults, examples, constants, alternatives and nested objects when the schema has them', () => {
    const markdown = renderPolicyReference(schema);
    const rows = new Map(rowsOf(markdown).map((row) => [cellsOf(row)[0], cellsOf(row)]));
    expect(rows.get('`mode`')).toEqual([
      '`mode`',
      'one of `fast`, `safe`',
      'yes',
      'How to go. Default: `safe`.',
    ]);
    expect(rows.get('`retries`')).toEqual(['`retries`', 'integer, from 0 to 5', 'no', 'Examples: `1`, `3`.']);
    expect(rows.get('`kind`')?.[1]).toBe('exactly `x`');
    expect(rows.get('`limit`')?.[1]).toBe('integer, or one of `none`');
    expect(rows.get('`nested`')?.[1]).toBe('object, see [`nested`](#nested)');
    expect(rows.get('`deep`')).toEqual(['`deep`', 'boolean', 'yes', 'Deep.']);
    expect(markdown).toContain('Keys (no others are accepted):');
    expect(markdown).toContain('Keys (others are accepted too):');
  });

  it('escapes a pipe in a pattern so the cell stays one cell, and raw HTML outside code spans', () => {
    const row = rowsOf(renderPolicyReference(schema)).find((r) => r.startsWith('| `label`'));
    expect(row).toContain('`^(a\\|b)$`');
    expect(cellsOf(row ?? '')).toHaveLength(4);
    expect(row).toContain('A &lt;b>bold&lt;/b> `<kept>` label.');
  });

  it('refuses a keyword it does not render, so the reference never leaves one out', () => {
    const withIf = { ...schema, properties: { odd: { type: 'string', if: {} } } } as unknown as SchemaNode;
    expect(() => renderPolicyReference(withIf)).toThrow(/uses "if" at odd/);
  });

  it('makes the anchors GitHub makes for the headings', () => {
    expect(slugOf('Top level')).toBe('top-level');
    expect(slugOf('`targets[].database.levels.<name>`')).toBe('targetsdatabaselevelsname');
    expect(slugOf('`targets[].rules[].on_call`')).toBe('targetsruleson_call');
  });
});
