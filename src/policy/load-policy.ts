/**
 * Temporary: the old home of the policy reader, kept only so src/main.ts compiles until it imports
 * read-policy.ts (or policy-source.ts) itself; delete this file then. New code imports
 * read-policy.ts, policy-file-schema.ts or yaml-positions.ts.
 */
export { policyFileSchema } from './policy-file-schema.js';
export {
  formatProblem,
  loadPolicy,
  type PolicyApi,
  type PolicyProblem,
  type PolicyReading,
  parsePolicy,
  readPolicy,
} from './read-policy.js';
