import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every file under `dir` whose name ends with `ending`. */
function filesUnder(dir: string, ending: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(join(dir, entry.name), ending)
      : entry.name.endsWith(ending)
        ? [join(dir, entry.name)]
        : [],
  );
}

/** A script's header (the leading `--[[ … ]]` comment) and the Lua after it. */
function partsOf(file: string): { header: string; body: string } {
  const text = readFileSync(file, 'utf8');
  const end = text.indexOf('\n]]\n');
  if (!text.startsWith('--[[\n') || end < 0) return { header: '', body: text };
  return { header: text.slice(0, end), body: text.slice(end + 4) };
}

// Commands that take no key (their first argument, if any, is not a key name).
const KEYLESS = new Set(['TIME']);

describe('Lua scripts', () => {
  const scripts = filesUnder('src', '.lua').sort();
  const calls = scripts.flatMap((file) =>
    [...partsOf(file).body.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'\s*(?:,\s*([^,)]+))?/g)].map((match) => ({
      file,
      command: (match[1] ?? '').toUpperCase(),
      key: match[2]?.trim(),
    })),
  );
  const modules = filesUnder('src', '.ts');

  it('finds the scripts it checks (request store, locks, limits, reviews, offboarding, rate limiter, step confirmations, ids, store epoch, extension slots, receipts)', () => {
    expect(scripts).toEqual([
      'src/atlas/lua/correct-bucket.lua',
      'src/atlas/lua/leave-queue.lua',
      'src/atlas/lua/take-token.lua',
      'src/continuity/lua/ensure-epoch.lua',
      'src/continuity/lua/renew-epoch.lua',
      'src/jobs/lua/extend-lock.lua',
      'src/jobs/lua/release-lock.lua',
      'src/lib/lua/next-id.lua',
      'src/offboarding/lua/move-offboarding.lua',
      'src/requests/lua/claim-due-step-confirmations.lua',
      'src/requests/lua/claim-receipts.lua',
      'src/requests/lua/compress-request.lua',
      'src/requests/lua/keep-receipt.lua',
      'src/requests/lua/move-step-confirmation.lua',
      'src/requests/lua/open-step-confirmation.lua',
      'src/requests/lua/release-submission.lua',
      'src/requests/lua/settle-receipt.lua',
      'src/requests/lua/swap-extension-slot.lua',
      'src/requests/lua/take-submission.lua',
      'src/requests/lua/write-request.lua',
      'src/reviews/lua/attach-claim.lua',
      'src/reviews/lua/claim-review.lua',
      'src/reviews/lua/close-review.lua',
      'src/reviews/lua/decide-line.lua',
      'src/reviews/lua/record-outcome.lua',
      'src/reviews/lua/release-claim.lua',
    ]);
    expect(calls.length).toBeGreaterThan(50);
  });

  it('keeps no Lua in TypeScript: every script is a .lua file', () => {
    const inline = modules.filter((file) =>
      /redis\.p?call\(|defineRedisScript/.test(readFileSync(file, 'utf8')),
    );
    expect(inline).toEqual([]);
  });

  it('names every key a script touches in KEYS, so a Redis Cluster (and its proxies) can route it', () => {
    const derived = calls.filter((c) => !KEYLESS.has(c.command) && !/^KEYS\[\d+\]$/.test(c.key ?? ''));
    expect(derived).toEqual([]);
  });

  it('opens every script with a header that describes each KEYS and ARGV entry it reads, and its result', () => {
    const undocumented = scripts.flatMap((file) => {
      const { header, body } = partsOf(file);
      const used = [...new Set(body.match(/\b(?:KEYS|ARGV)\[\d+\]/g) ?? [])];
      const missing = used.filter(
        (entry) => !new RegExp(`^ {4}${entry.replace(/[[\]]/g, '\\$&')} +\\S`, 'm').test(header),
      );
      const sections = ['Input:', 'Output:'].filter((section) => !header.includes(`\n  ${section}\n`));
      return [...missing, ...sections].map((what) => `${file}: ${what}`);
    });
    expect(undocumented).toEqual([]);
  });

  it('loads every script by name from the module next to its lua/ folder, and names only scripts that exist', () => {
    const loads = modules.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/loadRedisScript\(\s*import\.meta\.url,\s*'([a-z-]+)'/g)].map(
        (match) => join(dirname(file), 'lua', `${match[1]}.lua`),
      ),
    );
    expect([...new Set(loads)].sort()).toEqual(scripts);
    expect(scripts.map((file) => basename(dirname(file)))).toEqual(scripts.map(() => 'lua'));
  });
});
