/**
 * Writes the part of the official Atlas Admin API v2 spec that some operations need: their paths
 * (only those methods) and every component they reference, transitively. The contract tests read
 * such a subset from test/fixtures/atlas (the full spec is 4 MB and not in the repository).
 *
 *   npx tsx scripts/extract-spec-subset.ts SPEC.yaml OUT.yaml operationId...
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Node = { [key: string]: Json };

const [specPath, outPath, ...operationIds] = process.argv.slice(2);
if (!specPath || !outPath || operationIds.length === 0) {
  console.error('usage: extract-spec-subset.ts SPEC.yaml OUT.yaml operationId...');
  process.exit(2);
}
const spec = parse(readFileSync(specPath, 'utf8')) as Node;
const paths = spec.paths as Record<string, Node>;
const components = spec.components as Record<string, Node>;

const keptPaths: Record<string, Node> = {};
const wanted = new Set(operationIds);
for (const [path, item] of Object.entries(paths)) {
  for (const [method, operation] of Object.entries(item)) {
    const id = (operation as Node | null)?.operationId;
    if (typeof id === 'string' && wanted.has(id)) {
      keptPaths[path] = { ...(keptPaths[path] ?? {}), [method]: operation };
      wanted.delete(id);
    }
  }
}
if (wanted.size > 0) {
  console.error(`not in the spec: ${[...wanted].join(', ')}`);
  process.exit(1);
}

// Every `#/components/<section>/<name>` reached from the kept paths, followed transitively.
const kept: Record<string, Record<string, Json>> = {};
const visit = (value: Json): void => {
  if (Array.isArray(value)) {
    for (const item of value) visit(item);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/components/')) {
      const [section, name] = inner.slice('#/components/'.length).split('/') as [string, string];
      if (kept[section]?.[name] === undefined) {
        const target = components[section]?.[name];
        if (target === undefined) throw new Error(`dangling ${inner}`);
        kept[section] = { ...(kept[section] ?? {}), [name]: target };
        visit(target);
      }
    } else {
      visit(inner);
    }
  }
};
visit(keptPaths as Json);

const sorted = Object.fromEntries(
  Object.entries(kept).map(([section, entries]) => [
    section,
    Object.fromEntries(Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))),
  ]),
);
writeFileSync(
  outPath,
  stringify(
    { openapi: spec.openapi, info: spec.info, paths: keptPaths, components: sorted },
    { lineWidth: 0, aliasDuplicateObjects: false },
  ),
);
console.log(
  `${Object.keys(keptPaths).length} paths, ${Object.values(kept).reduce((n, s) => n + Object.keys(s).length, 0)} components -> ${outPath}`,
);
