import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every .ts file under src/. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

// Commands that take no key (their first argument, if any, is not a key name).
const KEYLESS = new Set(['TIME']);

describe('Lua scripts', () => {
  const calls = sourceFiles('src').flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?/g)].map(
      (match) => ({ file, command: (match[1] ?? '').toUpperCase(), key: match[2]?.trim() }),
    ),
  );

  it('finds the scripts it checks (request store, locks, limits, reviews, offboarding, rate limiter, step confirmations, ids, store epoch, extension slots, receipts)', () => {
    expect([...new Set(calls.map((c) => c.file))].sort()).toEqual([
      'src/atlas/rate-limiter.ts',
      'src/continuity/store-epoch.ts',
      'src/jobs/user-lock.ts',
      'src/lib/ids.ts',
      'src/offboarding/offboarding-store.ts',
      'src/requests/extension-claims.ts',
      'src/requests/receipts.ts',
      'src/requests/request-store.ts',
      'src/requests/step-confirmations.ts',
      'src/requests/submission-limit.ts',
      'src/reviews/review-store.ts',
    ]);
    expect(calls.length).toBeGreaterThan(50);
  });

  it('names every key a script touches in KEYS, so a Redis Cluster (and its proxies) can route it', () => {
    const derived = calls.filter((c) => !KEYLESS.has(c.command) && !/^KEYS\[\d+\]$/.test(c.key ?? ''));
    expect(derived).toEqual([]);
  });
});
