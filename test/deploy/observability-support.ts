import { readFileSync } from 'node:fs';
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';

/** The repository's root (tests run from it). */
export const ROOT = new URL('../../', import.meta.url);

/** Labels Prometheus adds to every series it scrapes (the target's). */
export const TARGET_LABELS = ['instance', 'job'] as const;

/** Series Prometheus makes itself for every target, with their labels: never in a scrape. */
export const SYNTHETIC_SERIES: Readonly<Record<string, readonly string[]>> = { up: [...TARGET_LABELS] };

/** One series of a scrape: its name and labels. */
export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text format (what GET /metrics answers) into series. */
export function parseScrape(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    series.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return series;
}

/** The value of the one series of `name` with these labels, or undefined. */
export function sampleOf(
  series: readonly Series[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return series.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    ?.value;
}

/** A selector in an expression: the metric and its label matchers. */
export interface Selector {
  readonly metric: string;
  readonly matchers: readonly { readonly label: string; readonly op: string; readonly value: string }[];
}

/** Grouping labels (by, without, on, ignoring, group_left/right) with the labels they may name. */
export interface Grouping {
  readonly clause: string;
  readonly labels: readonly string[];
  readonly available: ReadonlySet<string>;
}

/** What one expression uses, and the labels its result carries. */
export interface Analysis {
  readonly selectors: readonly Selector[];
  readonly groupings: readonly Grouping[];
  /** The labels of the result's series; 'scalar' for a number. */
  readonly output: ReadonlySet<string> | 'scalar';
}

/** Grafana's built-in interval variables, and the dashboard's own, replaced before parsing. */
export function substituteVariables(expr: string, variables: Readonly<Record<string, string>>): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '6h')
    .replace(/\$\{?(\w+)\}?/g, (whole, name: string) => variables[name] ?? whole);
}

/**
 * Parses a PromQL expression (lezer-promql, Prometheus's own grammar for its UI) and lists the metrics,
 * matchers and groupings it uses, with the labels each grouping could name (`labelsOf` says which
 * labels a metric's series carry). Throws on a syntax error.
 */
export function analyzePromql(expr: string, labelsOf: (metric: string) => ReadonlySet<string>): Analysis {
  const tree = parser.parse(expr);
  const errors: number[] = [];
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  if (errors.length > 0) throw new Error(`PromQL syntax error at ${errors[0]} in: ${expr}`);
  const selectors: Selector[] = [];
  const groupings: Grouping[] = [];
  const text = (node: SyntaxNode) => expr.slice(node.from, node.to);
  const kids = (node: SyntaxNode): SyntaxNode[] => {
    const out: SyntaxNode[] = [];
    for (let child = node.firstChild; child; child = child.nextSibling) out.push(child);
    return out;
  };
  const namesIn = (node: SyntaxNode | undefined) =>
    node
      ? kids(node)
          .filter((k) => k.name === 'LabelName')
          .map(text)
      : [];
  const union = (...sets: (ReadonlySet<string> | 'scalar')[]) =>
    new Set(sets.flatMap((s) => (s === 'scalar' ? [] : [...s])));

  const visit = (node: SyntaxNode): ReadonlySet<string> | 'scalar' => {
    switch (node.name) {
      case 'PromQL':
      case 'ParenExpr':
      case 'UnaryExpr':
      case 'MatrixSelector':
      case 'SubqueryExpr':
      case 'OffsetExpr':
      case 'StepInvariantExpr': {
        const inner = kids(node).filter((k) => isExpression(k.name));
        return inner.length === 0 ? 'scalar' : union(...inner.map(visit));
      }
      case 'NumberDurationLiteral':
      case 'StringLiteral':
        return 'scalar';
      case 'VectorSelector': {
        const metric = text(kids(node).find((k) => k.name === 'Identifier') ?? node);
        const matchers = kids(kids(node).find((k) => k.name === 'LabelMatchers') ?? node)
          .filter((k) => k.name === 'UnquotedLabelMatcher')
          .map((m) => {
            const [label, op, value] = kids(m);
            return {
              label: label ? text(label) : '',
              op: op ? text(op) : '',
              value: value ? (JSON.parse(text(value)) as string) : '',
            };
          });
        selectors.push({ metric, matchers });
        return labelsOf(metric);
      }
      case 'AggregateExpr': {
        const op = text(kids(node)[0] ?? node);
        const modifier = kids(node).find((k) => k.name === 'AggregateModifier');
        const args = kids(kids(node).find((k) => k.name === 'FunctionCallBody') ?? node).filter((k) =>
          isExpression(k.name),
        );
        const inner = union(...args.map(visit));
        if (!modifier) return ['topk', 'bottomk', 'limitk', 'limit_ratio'].includes(op) ? inner : new Set();
        const clause = text(kids(modifier)[0] ?? modifier);
        const labels = namesIn(kids(modifier).find((k) => k.name === 'GroupingLabels'));
        groupings.push({ clause: `${op} ${clause}`, labels, available: inner });
        return clause === 'by' ? new Set(labels) : new Set([...inner].filter((l) => !labels.includes(l)));
      }
      case 'FunctionCall': {
        const name = text(kids(node)[0] ?? node);
        const args = kids(kids(node).find((k) => k.name === 'FunctionCallBody') ?? node).filter((k) =>
          isExpression(k.name),
        );
        const results = args.map(visit);
        const vector = results.find((r) => r !== 'scalar');
        if (['time', 'scalar', 'pi'].includes(name) || vector === undefined) return 'scalar';
        if (name === 'histogram_quantile') return new Set([...vector].filter((l) => l !== 'le'));
        if (name === 'absent' || name === 'absent_over_time' || name === 'vector') return new Set();
        return vector;
      }
      case 'BinaryExpr': {
        const parts = kids(node);
        const operands = parts.filter((k) => isExpression(k.name));
        const [left, right] = operands.map(visit);
        const clause = parts.find((k) => k.name === 'MatchingModifierClause');
        const op = parts.find((k) => !isExpression(k.name) && k.name !== 'MatchingModifierClause');
        if (left === undefined || right === undefined) throw new Error(`unexpected expression: ${expr}`);
        if (left === 'scalar' && right === 'scalar') return 'scalar';
        if (left === 'scalar') return right;
        if (right === 'scalar') return left;
        let extra: string[] = [];
        let side = left;
        if (clause) {
          const clauseParts = kids(clause);
          const lists = clauseParts.filter((k) => k.name === 'GroupingLabels');
          const keyword = text(clauseParts[0] ?? clause);
          groupings.push({ clause: keyword, labels: namesIn(lists[0]), available: union(left, right) });
          const group = clauseParts.find((k) => k.name === 'GroupLeft' || k.name === 'GroupRight');
          if (group) {
            extra = namesIn(lists[1]);
            groupings.push({ clause: text(group), labels: extra, available: union(left, right) });
            if (group.name === 'GroupRight') side = right;
          }
        }
        if (op && text(op) === 'or') return union(left, right);
        return union(side, new Set(extra));
      }
      default:
        throw new Error(`PromQL node ${node.name} not handled in: ${expr}`);
    }
  };
  const output = visit(tree.topNode);
  return { selectors, groupings, output };
}

function isExpression(name: string): boolean {
  return [
    'ParenExpr',
    'UnaryExpr',
    'MatrixSelector',
    'SubqueryExpr',
    'OffsetExpr',
    'StepInvariantExpr',
    'NumberDurationLiteral',
    'StringLiteral',
    'VectorSelector',
    'AggregateExpr',
    'FunctionCall',
    'BinaryExpr',
  ].includes(name);
}

/** One alerting rule of alerts.yml. */
export interface AlertRule {
  readonly group: string;
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The groups of deploy/prometheus/alerts.yml, as written. */
export function readAlertGroups(): { name: string; rules: Record<string, unknown>[] }[] {
  const doc = parseYaml(readFileSync(new URL('deploy/prometheus/alerts.yml', ROOT), 'utf8')) as {
    groups: { name: string; rules: Record<string, unknown>[] }[];
  };
  return doc.groups;
}

/** Every alerting rule of deploy/prometheus/alerts.yml. */
export function readAlertRules(): AlertRule[] {
  return readAlertGroups().flatMap((group) =>
    group.rules.map((rule) => ({ ...(rule as unknown as Omit<AlertRule, 'group'>), group: group.name })),
  );
}

/** A Grafana panel as the dashboard JSON has it (rows included). */
export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly targets?: readonly {
    readonly refId: string;
    readonly expr: string;
    readonly datasource?: { readonly type: string; readonly uid: string };
  }[];
  readonly panels?: readonly Panel[];
}

/** The dashboard as the JSON file has it (the fields the tests read). */
export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly {
      readonly name: string;
      readonly type: string;
      readonly query: unknown;
      readonly current?: { readonly value?: string };
    }[];
  };
}

/** deploy/grafana/rolecall.json. */
export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(new URL('deploy/grafana/rolecall.json', ROOT), 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows too. */
export function panelsOf(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The dashboard's variables with their default values (a datasource variable: its own name). */
export function defaultsOf(dashboard: Dashboard): Record<string, string> {
  return Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.current?.value ?? v.name]));
}

/** Every PromQL expression of the dashboard: each target's, and each query variable's. */
export function dashboardExpressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const defaults = defaultsOf(dashboard);
  const targets = panelsOf(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((t) => ({
      where: `panel ${panel.id} "${panel.title}" ${t.refId}`,
      expr: substituteVariables(t.expr, defaults),
    })),
  );
  const variables = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
      // label_values(METRIC, LABEL) asks for METRIC's LABEL values: the series METRIC with LABEL.
      const labelValues = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
      const expr = labelValues ? `count by (${labelValues[2]}) (${labelValues[1]})` : query;
      return { where: `variable ${v.name}`, expr: substituteVariables(expr, defaults) };
    });
  return [...targets, ...variables];
}

/** The anchors GitHub makes for the headings of a Markdown file. */
export function anchorsOf(markdown: string): Set<string> {
  return new Set(
    markdown
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) =>
        line
          .replace(/^#+ /, '')
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
  );
}

/** The lines of every ```sh block of a Markdown file. */
export function shellLinesOf(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```/gm)].flatMap((m) =>
    (m[1] ?? '').split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#')),
  );
}
