// Writes docs/policy-reference.md from policy.schema.json (test/unit/policy-reference.test.ts fails when
// the committed file is stale). Usage: npm run docs:policy (after npm run policy:schema when the zod
// schema changed, since the reference follows policy.schema.json).
import { readFile, writeFile } from 'node:fs/promises';
import { renderPolicyReference, type SchemaNode } from './policy-reference.js';

const schemaPath = new URL('../policy.schema.json', import.meta.url);
const referencePath = new URL('../docs/policy-reference.md', import.meta.url);
const schema = JSON.parse(await readFile(schemaPath, 'utf8')) as SchemaNode;
await writeFile(referencePath, renderPolicyReference(schema));
process.stdout.write(`wrote ${referencePath.pathname}\n`);
