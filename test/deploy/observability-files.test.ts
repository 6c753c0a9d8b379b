import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  analyzePromql,
  anchorsOf,
  dashboardExpressions,
  panelsOf,
  ROOT,
  readAlertGroups,
  readAlertRules,
  readDashboard,
} from './observability-support.js';

const run = promisify(execFile);
const PROMTOOL_MISSING =
  'promtool not found: install it (Debian: apt-get install --no-install-recommends prometheus); .ci/run does';

/** Runs promtool; its output, or a failure that says what it printed. */
async function promtool(args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd });
    return `${stdout}${stderr}`;
  } catch (error) {
    const failed = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failed.code === 'ENOENT') throw new Error(PROMTOOL_MISSING);
    throw new Error(`promtool ${args.join(' ')} failed:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

/** How a panel names the dashboard's data source variable (Grafana's syntax, not a template string). */
const DATASOURCE_VARIABLE = ['$', '{datasource}'].join('');
const runbook = await readFile(new URL('docs/runbook.md', ROOT), 'utf8');
const noLabels = () => new Set<string>();

describe('deploy/prometheus/alerts.yml', () => {
  const rules = readAlertRules();

  it('has named groups of alerting rules, each alert named once', () => {
    const groups = readAlertGroups();
    expect(groups.length).toBeGreaterThan(0);
    expect(new Set(groups.map((g) => g.name)).size).toBe(groups.length);
    for (const group of groups) expect(group.rules.length).toBeGreaterThan(0);
    expect(rules.map((r) => r.alert)).toEqual([...new Set(rules.map((r) => r.alert))]);
    for (const rule of rules) expect(rule.alert).toMatch(/^Rolecall[A-Z][A-Za-z]+$/);
  });

  it('gives every alert a parsable expression, a for, a severity, a summary, a description and a runbook section', () => {
    const anchors = anchorsOf(runbook);
    for (const rule of rules) {
      expect(() => analyzePromql(rule.expr, noLabels), rule.alert).not.toThrow();
      expect(rule.for, rule.alert).toMatch(/^\d+[smhdwy]$/);
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary?.trim(), rule.alert).toBeTruthy();
      expect(rule.annotations?.description?.trim(), rule.alert).toBeTruthy();
      const url = rule.annotations?.runbook_url ?? '';
      expect(url, rule.alert).toBe(`docs/runbook.md#${rule.alert.toLowerCase()}`);
      expect(anchors, rule.alert).toContain(rule.alert.toLowerCase());
    }
  });

  it('has a runbook section for every alert and none for an alert that does not exist', () => {
    const sections = runbook
      .split('\n')
      .filter((line) => line.startsWith('## Rolecall'))
      .map((line) => line.slice(3).trim());
    expect(sections.sort()).toEqual(rules.map((r) => r.alert).sort());
    // Links between sections point at headings that exist.
    const anchors = anchorsOf(runbook);
    for (const [, anchor] of runbook.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors).toContain(anchor);
  });

  it('passes promtool check rules', async () => {
    const out = await promtool(
      ['check', 'rules', 'alerts.yml'],
      fileURLToPath(new URL('deploy/prometheus/', ROOT)),
    );
    expect(out).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('fires each alert in promtool test rules alerts.test.yml, and only where it should', async () => {
    const dir = fileURLToPath(new URL('deploy/prometheus/', ROOT));
    const out = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
    expect(out).toContain('SUCCESS');
    const tests = parseYaml(await readFile(join(dir, 'alerts.test.yml'), 'utf8')) as {
      rule_files: string[];
      tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test);
    for (const rule of rules) {
      const own = cases.filter((c) => c.alertname === rule.alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} fires in a test`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} stays quiet in a test`,
      ).toBe(true);
    }
  });
});

describe('deploy/grafana/rolecall.json', () => {
  const dashboard = readDashboard();
  const panels = panelsOf(dashboard);
  const shown = panels.filter((p) => p.type !== 'row');

  it('is a Grafana dashboard with a uid, a title and a schema version of Grafana 10 or later', () => {
    expect(dashboard.uid).toBe('rolecall');
    expect(dashboard.title).toBe('Rolecall');
    expect(Number.isInteger(dashboard.schemaVersion)).toBe(true);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(shown.length).toBeGreaterThan(10);
  });

  it('gives every panel the Prometheus data source variable and at least one query', () => {
    const variable = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const panel of shown) {
      expect(['timeseries', 'stat', 'bargauge', 'table', 'state-timeline'], panel.title).toContain(
        panel.type,
      );
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: DATASOURCE_VARIABLE });
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets ?? []) {
        expect(target.expr.trim(), panel.title).not.toBe('');
        expect(target.datasource ?? panel.datasource, panel.title).toEqual(panel.datasource);
      }
    }
  });

  it('lays the panels out on the 24-column grid without overlaps', () => {
    for (const panel of panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      expect(panel.gridPos.h, panel.title).toBeGreaterThan(0);
    }
    for (const [i, a] of panels.entries()) {
      for (const b of panels.slice(i + 1)) {
        const apart =
          a.gridPos.x + a.gridPos.w <= b.gridPos.x ||
          b.gridPos.x + b.gridPos.w <= a.gridPos.x ||
          a.gridPos.y + a.gridPos.h <= b.gridPos.y ||
          b.gridPos.y + b.gridPos.h <= a.gridPos.y;
        expect(apart, `${a.title} and ${b.title} overlap`).toBe(true);
      }
    }
  });

  it('queries in PromQL that parses, and that promtool accepts as rules', async () => {
    const expressions = dashboardExpressions(dashboard);
    for (const { where, expr } of expressions) {
      expect(() => analyzePromql(expr, noLabels), where).not.toThrow();
      expect(expr, where).not.toMatch(/\$/);
    }
    // promtool has no dashboard check: each query becomes a recording rule it parses.
    const dir = await mkdtemp(join(tmpdir(), 'rolecall-dashboard-'));
    try {
      const rules = expressions.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr }));
      await writeFile(join(dir, 'dashboard.yml'), stringifyYaml({ groups: [{ name: 'dashboard', rules }] }));
      const out = await promtool(['check', 'rules', 'dashboard.yml'], dir);
      expect(out).toContain(`SUCCESS: ${expressions.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
