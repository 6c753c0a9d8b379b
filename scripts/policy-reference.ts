// Renders docs/policy-reference.md from policy.schema.json: every key of the policy file with its type,
// constraints, whether it is required, its description, enum values, default and examples, one table
// per object (nested objects and the values of named maps get their own). Pure: the writer
// (scripts/write-policy-reference.ts) and test/unit/policy-reference.test.ts both call it, so the
// committed file cannot drift from the schema unnoticed.

/** A node of policy.schema.json: the JSON Schema keywords this renderer knows (any other one throws). */
export interface SchemaNode {
  readonly $schema?: string;
  readonly title?: string;
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | SchemaNode;
  readonly propertyNames?: SchemaNode;
  readonly items?: SchemaNode;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly default?: unknown;
  readonly examples?: readonly unknown[];
  readonly pattern?: string;
  readonly format?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly anyOf?: readonly SchemaNode[];
  readonly oneOf?: readonly SchemaNode[];
}

/** The keywords SchemaNode declares; a schema using another fails loudly instead of losing it. */
const KNOWN_KEYWORDS = new Set<string>([
  '$schema',
  'title',
  'description',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'enum',
  'const',
  'default',
  'examples',
  'pattern',
  'format',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'anyOf',
  'oneOf',
]);

/** The command that regenerates the file, named in its header and in the staleness test. */
export const POLICY_REFERENCE_COMMAND = 'npm run docs:policy';

/** One object of the schema that gets a section: its path as a person reads it and its node. */
interface Section {
  readonly path: string;
  readonly node: SchemaNode;
}

/** Renders the whole reference from the parsed policy.schema.json. Throws on a keyword it cannot render. */
export function renderPolicyReference(schema: SchemaNode): string {
  checkKeywords(schema, '');
  const sections = collectSections(schema, '');
  const anchors = new Map(sections.map((s) => [s.path, slugOf(nameSection(s.path))]));
  if (new Set(anchors.values()).size !== anchors.size) {
    throw new Error('two sections of the policy reference would have the same anchor');
  }
  const lines = [
    `# ${schema.title ?? 'Policy file'} reference`,
    '',
    `<!-- Generated from policy.schema.json by \`${POLICY_REFERENCE_COMMAND}\` (scripts/write-policy-reference.ts). Do not edit: test/unit/policy-reference.test.ts fails when this file and the schema disagree. -->`,
    '',
    ...(schema.description ? [escapeText(schema.description), ''] : []),
    'Every key of `policy.yml` (`POLICY_FILE`), generated from [`policy.schema.json`](../policy.schema.json),',
    'which is itself generated from the zod schema Rolecall validates the file with',
    '(`src/policy/policy-file-schema.ts`, `npm run policy:schema`). [`policy.example.yml`](../policy.example.yml)',
    'shows the keys in use, and [The policy file](policy.md) explains them.',
    'Some checks are not in the JSON Schema and are Rolecall’s own: a target has exactly one of `project`',
    'and `org`, a rule names only roles (and `team:`, `db:` items) its target offers, a group name exists',
    'under `groups:`, a duration is more than 0, a name does not look like a 24-hex id.',
    '`npm run policy:check -- policy.yml` runs every check, as Rolecall does at start-up.',
    '',
    'Durations are a number and a unit: `s`, `m`, `h` or `d` (`30m`, `8h`, `7d`). People are Slack user ids',
    '(`U…`, `W…`), Slack user group ids (`S…`) or names from `groups:`.',
    '',
    '## Contents',
    '',
    ...sections.map((s) => `- [${nameSection(s.path)}](#${anchors.get(s.path)})`),
  ];
  for (const section of sections) {
    lines.push('', `## ${nameSection(section.path)}`, '');
    if (section.path !== '' && section.node.description) {
      lines.push(escapeText(section.node.description), '');
    }
    lines.push(
      section.node.additionalProperties === false
        ? 'Keys (no others are accepted):'
        : 'Keys (others are accepted too):',
      '',
      '| Key | Type | Required | Description |',
      '|---|---|---|---|',
    );
    const required = new Set(section.node.required ?? []);
    for (const [key, property] of Object.entries(section.node.properties ?? {})) {
      const cells = [
        formatCode(key),
        describeType(property, joinPath(section.path, key), anchors),
        required.has(key) ? 'yes' : 'no',
        describeKey(property),
      ];
      lines.push(`| ${cells.map(escapeCell).join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Every key of the schema as a dotted path (`targets[].rules[].approvals`), for checking coverage. */
export function listSchemaKeys(schema: SchemaNode): string[] {
  const keys: string[] = [];
  for (const section of collectSections(schema, '')) {
    for (const key of Object.keys(section.node.properties ?? {})) keys.push(joinPath(section.path, key));
  }
  return keys;
}

/** GitHub's heading anchor: lower case, punctuation dropped (letters, digits, _ and - kept), spaces to -. */
export function slugOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Throws on the first keyword outside KNOWN_KEYWORDS, naming where it is. */
function checkKeywords(node: SchemaNode, path: string): void {
  for (const keyword of Object.keys(node)) {
    if (!KNOWN_KEYWORDS.has(keyword)) {
      throw new Error(
        `policy.schema.json uses "${keyword}" at ${path === '' ? 'the top level' : path}, which scripts/policy-reference.ts does not render yet`,
      );
    }
  }
  for (const [key, child] of Object.entries(node.properties ?? {})) checkKeywords(child, joinPath(path, key));
  if (node.items) checkKeywords(node.items, `${path}[]`);
  if (typeof node.additionalProperties === 'object') {
    checkKeywords(node.additionalProperties, `${path}.<name>`);
  }
  if (node.propertyNames) checkKeywords(node.propertyNames, `${path} (key names)`);
  for (const [i, alternative] of [...(node.anyOf ?? []), ...(node.oneOf ?? [])].entries()) {
    checkKeywords(alternative, `${path} (alternative ${i + 1})`);
  }
}

/** The objects with keys, depth first in the schema's order: the root, then each nested one. */
function collectSections(node: SchemaNode, path: string): Section[] {
  const found: Section[] = [];
  if (node.properties) found.push({ path, node });
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    found.push(...collectSections(child, joinPath(path, key)));
  }
  if (node.items) found.push(...collectSections(node.items, `${path}[]`));
  if (typeof node.additionalProperties === 'object') {
    found.push(...collectSections(node.additionalProperties, `${path}.<name>`));
  }
  for (const alternative of [...(node.anyOf ?? []), ...(node.oneOf ?? [])]) {
    found.push(...collectSections(alternative, path));
  }
  return found;
}

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function nameSection(path: string): string {
  return path === '' ? 'Top level' : formatCode(path);
}

/** The Type cell: the shape, what the values must match, and a link to a nested object's section. */
function describeType(node: SchemaNode, path: string, anchors: ReadonlyMap<string, string>): string {
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) return alternatives.map((a) => describeType(a, path, anchors)).join(', or ');
  if (node.const !== undefined) return `exactly ${formatLiteral(node.const)}`;
  if (node.enum) return `one of ${node.enum.map(formatLiteral).join(', ')}`;
  const types = typeof node.type === 'string' ? [node.type] : [...(node.type ?? [])];
  const anchor = anchors.get(path);
  if (anchor !== undefined) return `object, see [${nameSection(path)}](#${anchor})`;
  if (types.includes('array')) {
    const count = describeCount(node.minItems, node.maxItems, 'item');
    const item = node.items ? describeType(node.items, `${path}[]`, anchors) : 'any value';
    return `list${count ? ` of ${count}` : ''}, each: ${item}`;
  }
  if (types.includes('object') && typeof node.additionalProperties === 'object') {
    const names = node.propertyNames?.pattern ? ` matching ${formatCode(node.propertyNames.pattern)}` : '';
    const value = describeType(node.additionalProperties, `${path}.<name>`, anchors);
    return `map from a name${names} to: ${value}`;
  }
  const limits = [
    node.pattern !== undefined ? `matching ${formatCode(node.pattern)}` : '',
    node.format !== undefined ? `format ${formatCode(node.format)}` : '',
    describeCount(node.minLength, node.maxLength, 'character'),
    describeRange(node),
  ].filter((part) => part !== '');
  const name = types.length > 0 ? types.join(' or ') : 'any value';
  return limits.length > 0 ? `${name}, ${limits.join(', ')}` : name;
}

/** "at least 1 item", "1 to 120 characters", or '' without bounds. */
function describeCount(min: number | undefined, max: number | undefined, unit: string): string {
  const plural = (n: number) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (min !== undefined && max !== undefined) return min === max ? plural(min) : `${min} to ${plural(max)}`;
  if (min !== undefined) return `at least ${plural(min)}`;
  if (max !== undefined) return `at most ${plural(max)}`;
  return '';
}

/** A number's bounds in words, or ''. */
function describeRange(node: SchemaNode): string {
  const low =
    node.minimum !== undefined
      ? `at least ${node.minimum}`
      : node.exclusiveMinimum !== undefined
        ? `above ${node.exclusiveMinimum}`
        : '';
  const high =
    node.maximum !== undefined
      ? `at most ${node.maximum}`
      : node.exclusiveMaximum !== undefined
        ? `below ${node.exclusiveMaximum}`
        : '';
  if (node.minimum !== undefined && node.maximum !== undefined)
    return `from ${node.minimum} to ${node.maximum}`;
  return [low, high].filter((part) => part !== '').join(' and ');
}

/** The Description cell: the schema's words, then its default and examples when it has them. */
function describeKey(node: SchemaNode): string {
  const parts = [node.description ? escapeText(node.description) : ''];
  if (node.default !== undefined) parts.push(`Default: ${formatLiteral(node.default)}.`);
  if (node.examples && node.examples.length > 0) {
    parts.push(
      `Example${node.examples.length === 1 ? '' : 's'}: ${node.examples.map(formatLiteral).join(', ')}.`,
    );
  }
  return parts.filter((part) => part !== '').join(' ');
}

/** A schema value as code: strings as they are, anything else as JSON. */
function formatLiteral(value: unknown): string {
  return formatCode(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A code span that survives backticks in its text. */
function formatCode(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** Schema prose as Markdown: one line, no raw HTML outside its code spans. */
function escapeText(text: string): string {
  return text
    .replace(/\s*\n\s*/g, ' ')
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;')))
    .join('');
}

/** A table cell: a pipe would end the cell, so it is escaped (GitHub honours that inside code spans too). */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
