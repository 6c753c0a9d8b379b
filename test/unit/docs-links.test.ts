import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { slugOf } from '../../scripts/policy-reference.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The Markdown pages people read first: the top-level files and docs/. */
const PAGES = [
  ...['README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md'],
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The anchors GitHub gives a page's headings (outside code blocks). */
function anchorsOf(page: string): Set<string> {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set(
    text
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => slugOf(line.replace(/^#+ /, ''))),
  );
}

/** Every relative link of a page (outside code blocks), as [target file, anchor]. */
function linksOf(page: string): [string, string | undefined][] {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^(https?:|mailto:)/.test(target))
    .map((target) => {
      const [file = '', anchor] = target.split('#');
      return [file === '' ? page : normalize(join(dirname(page), file)), anchor];
    });
}

describe('the docs', () => {
  it('link only to files that exist and to headings those files have', () => {
    const broken = PAGES.flatMap((page) =>
      linksOf(page)
        .filter(
          ([file, anchor]) =>
            !existsSync(join(ROOT, file)) ||
            (anchor !== undefined && file.endsWith('.md') && !anchorsOf(file).has(anchor)),
        )
        .map(([file, anchor]) => `${page} → ${file}${anchor === undefined ? '' : `#${anchor}`}`),
    );
    expect(broken).toEqual([]);
  });

  it('keep the README a short first screen that points into docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme.split('\n').length).toBeLessThan(200);
    expect(readme).toContain('npm ci && npm test');
    expect(readme).toContain('npm ci && npm run demo');
    const linked = new Set(linksOf('README.md').map(([file]) => file));
    for (const page of PAGES.filter((p) => p.startsWith('docs/') && p !== 'docs/README.md')) {
      expect(linked, `README links ${page}`).toContain(page);
    }
  });
});
