import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The Dockerfile's stages: each FROM line and the instructions under it (continuations joined). */
function stagesOf(dockerfile: string): { from: string; lines: string[] }[] {
  const lines = dockerfile
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: { from: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('FROM ')) stages.push({ from: line, lines: [] });
    else stages[stages.length - 1]?.lines.push(line);
  }
  return stages;
}

describe('container image', () => {
  const dockerfile = read('Dockerfile');
  const stages = stagesOf(dockerfile);
  const final = stages[stages.length - 1];

  it('builds in one stage and runs dist/ with production dependencies only, as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]?.lines).toContain('RUN npm run build');
    expect(final?.from).toMatch(/^FROM node:24-/);
    expect(final?.lines.some((l) => /npm (ci|install)(?!.*--omit=dev)/.test(l))).toBe(false);
    const copies = final?.lines.filter((l) => l.startsWith('COPY')) ?? [];
    expect(copies).toContain('COPY --from=build /app/dist ./dist');
    const modulesFrom = /COPY --from=(\w+) \/app\/node_modules/.exec(copies.join('\n'))?.[1];
    const modulesStage = stages.find((s) => s.from.endsWith(` AS ${modulesFrom}`));
    expect(modulesStage?.lines.some((l) => l.startsWith('RUN npm ci') && l.includes('--omit=dev'))).toBe(
      true,
    );
    expect(final?.lines).toContain('USER node');
    expect(final?.lines.find((l) => l.startsWith('HEALTHCHECK'))).toContain('/healthz');
    expect(final?.lines).toContain('CMD ["node", "dist/main.js"]');
    expect(dockerfile).not.toMatch(/tsx|ts-node/);
  });

  it('copies only files that exist and that .dockerignore lets through; neither dev/ nor test/ is built', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const sources = stages
      .flatMap((s) => s.lines)
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(new URL(source, root)), `${source} exists`).toBe(true);
      expect(ignored, `${source} is not ignored`).not.toContain(source);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dev', 'test', '.env']));
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    expect(build.include).toEqual(['src']);
    expect(existsSync(new URL('src/dev', root))).toBe(false);
  });

  it('installs no dev dependency with npm ci --omit=dev', async () => {
    const pkg = JSON.parse(read('package.json')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const { stdout } = await promisify(execFile)('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
      cwd: root,
    });
    const installed = new Set(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((path) => path.split('node_modules/').pop() ?? ''),
    );
    for (const name of Object.keys(pkg.dependencies)) expect(installed.has(name), name).toBe(true);
    // The build and test tools (some typings, such as @types/node, come with Slack's packages too).
    for (const name of ['typescript', 'tsx', 'vitest', '@biomejs/biome', 'csv-parse']) {
      expect(Object.keys(pkg.devDependencies)).toContain(name);
      expect(installed.has(name), name).toBe(false);
    }
  });

  it('composes Redis with persistence and a healthcheck, a bot without Atlas credentials and scalable workers', () => {
    const compose = parse(read('docker-compose.yml'), { merge: true }) as {
      services: Record<
        string,
        {
          command?: string[];
          environment?: Record<string, string>;
          depends_on?: Record<string, { condition: string }>;
          healthcheck?: unknown;
          ports?: string[];
          init?: boolean;
          env_file?: unknown;
        }
      >;
    };
    const { redis, app, worker } = compose.services;
    expect(redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(redis?.healthcheck).toBeDefined();
    for (const service of [app, worker]) {
      expect(service?.depends_on?.redis?.condition).toBe('service_healthy');
      expect(service?.init).toBe(true);
    }
    expect(app?.command).toEqual(['node', 'dist/main.js', 'bot']);
    // .env reaches both; the Slack side blanks every Atlas credential (it refuses to start with one).
    const credentials = ['ATLAS_PUBLIC_KEY', 'ATLAS_PRIVATE_KEY', 'ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET'];
    for (const key of credentials) expect(app?.environment?.[key]).toBe('');
    for (const key of credentials) expect(worker?.environment).not.toHaveProperty(key);
    expect(app?.env_file).toEqual([{ path: '.env', required: false }]);
    expect(worker?.command).toEqual(['node', 'dist/main.js', 'worker']);
    // No fixed port or name on the worker, so `--scale worker=3` can start three.
    expect(worker?.ports).toBeUndefined();
  });
});
