// Writes policy.schema.json from the zod schema in src/policy/policy-file-schema.ts (test/unit/policy-schema.test.ts
// fails when the committed file is stale). Usage: npm run policy:schema
import { writeFile } from 'node:fs/promises';
import { formatPolicyJsonSchema } from '../src/policy/policy-schema.js';

const path = new URL('../policy.schema.json', import.meta.url);
await writeFile(path, formatPolicyJsonSchema());
process.stdout.write(`wrote ${path.pathname}\n`);
