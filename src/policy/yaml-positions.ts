import { type Alias, isMap, isNode, isScalar, type LineCounter, type parseDocument, visit } from 'yaml';

/** A parsed policy document, as `yaml` returns it. */
export type YamlDocument = ReturnType<typeof parseDocument>;

/** A 1-based line and column in the file. */
export interface YamlPosition {
  readonly line: number;
  readonly col: number;
}

/**
 * Where the node at `path` is written, for an error message; when the path goes deeper than the
 * file (a missing key), where its nearest written ancestor is.
 */
export function locatePath(
  doc: YamlDocument,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): YamlPosition | undefined {
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]);
  }
  return undefined;
}

/** Where the key `key` of the mapping at `path` is written (an unknown key is reported there). */
export function locateKey(
  doc: YamlDocument,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
  key: string,
): YamlPosition | undefined {
  const node: unknown = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
  const range = isScalar(pair?.key) ? pair.key.range : undefined;
  return range ? lineCounter.linePos(range[0]) : undefined;
}

/** Where the first alias (`*name`) of the document is written: where an alias problem is reported. */
export function locateFirstAlias(doc: YamlDocument, lineCounter: LineCounter): YamlPosition | undefined {
  const alias = findFirstAlias(doc);
  return alias?.range ? lineCounter.linePos(alias.range[0]) : undefined;
}

/** A path as a reader writes it: `targets[0].rules[1].roles`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === 'number' ? `${out}[${key}]` : out === '' ? String(key) : `${out}.${String(key)}`,
    '',
  );
}

function findFirstAlias(doc: YamlDocument): Alias | undefined {
  let found: Alias | undefined;
  visit(doc, {
    Alias(_key, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}
