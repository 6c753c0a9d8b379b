import { z } from 'zod';
import { policyFileSchema } from './policy-file-schema.js';

/**
 * The JSON Schema of policy.yml (draft 2020-12), generated from the same zod schema Rolecall
 * validates with, for editors (yaml-language-server) and other tools. Cross-field checks (a role a
 * rule names must be one its target offers, group names must exist) are Rolecall's own; run
 * `npm run policy:check` for those. Written to policy.schema.json by `npm run policy:schema`.
 */
export function buildPolicyJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(policyFileSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Rolecall policy',
    description:
      'Which MongoDB Atlas organizations and projects people may ask for roles on, who may ask, and who approves.',
  };
}

/** The file's text: 2-space JSON and a final newline. */
export function formatPolicyJsonSchema(): string {
  return `${JSON.stringify(buildPolicyJsonSchema(), null, 2)}\n`;
}
