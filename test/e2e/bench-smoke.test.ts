import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// The README names these commands; a tiny N shows they still run to their table (no timings are
// held to a bound: a benchmark prints, it is not a timed test; bench:revoke's JSON line is checked
// for sane figures, no early revocation and the Atlas exchanges a grant and a revocation cost).
describe('benchmark scripts', () => {
  it('runs bench:ack to its table when the processes log in pino JSON', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'bench:ack', '--', '--n', '2'], { timeout: 120_000 });
    expect(stdout).toMatch(/ATLAS_API atlas-v2-2025 \(the default\)/);
    expect(stdout).toMatch(/\| slash command \(request\) +\| 1 +\|/);
    expect(stdout).toMatch(/\| button click \(Approve\) +\| 100 +\|/);
  }, 150_000);

  it('runs bench:workflow to its table, the bytes per kind of key and what BENCHMARKS.md quotes', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'bench:workflow', '--', '--n', '20'], {
      timeout: 120_000,
    });
    expect(stdout).toMatch(/ATLAS_API atlas-v2-2025 \(the default\)/);
    expect(stdout).toMatch(/\| Rolecall approve -> applied +\| 20 +\|/);
    expect(stdout).toMatch(/\| bare BullMQ no-op job +\| 20 +\|/);
    expect(stdout).toMatch(/\| Rolecall request -> applied -> ended \| 20 +\|/);
    expect(stdout).toMatch(/B {2}request:<id> \(20 keys\), hash of \d+\.\d fields each/);
    // A request keeps its trail in its own hash: no trail key of its own.
    expect(stdout).not.toMatch(/request:<id>:audit/);
    expect(stdout).toMatch(/Settled requests \(Rolecall approve -> applied, N=20\): 20 request hashes hold/);
    expect(stdout).toMatch(
      /Event stream home:events \(Rolecall approve -> applied, N=20\): longest seen \d+/,
    );
    expect(stdout).toMatch(
      /Delayed revoke jobs \(Rolecall request -> applied -> ended, N=20\): \d+ B per job/,
    );
  }, 150_000);

  it('runs bench:footprint to its tables of keys and bytes per finished request, and a JSON line of them', async () => {
    const { stdout } = await run(
      'npm',
      ['run', '-s', 'bench:footprint', '--', '--n', '2', '--warm-up', '2'],
      {
        timeout: 120_000,
      },
    );
    expect(stdout).toMatch(
      /ATLAS_API atlas-v2-2025 \(the default\), private redis-server, QUEUE_PREFIX rolecall/,
    );
    expect(stdout).toMatch(
      /Permanent grants, ended by their requester, N=2: [\d.]+ keys and \d+ B per request/,
    );
    expect(stdout).toMatch(/\| `request:<id>` \| hash \| 2 \| \d+ \| 90 d \|/);
    const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<
      'permanent' | 'temporary',
      { n: number; keysPerRequest: number; bytesPerRequest: number }
    >;
    for (const kind of ['permanent', 'temporary'] as const) {
      expect(figures[kind].n).toBe(2);
      expect(figures[kind].keysPerRequest).toBeGreaterThanOrEqual(1);
      expect(figures[kind].bytesPerRequest).toBeGreaterThan(0);
    }
  }, 150_000);

  it('runs bench:review on the flavor --atlas-api names, and on the default without it', async () => {
    const named = await run(
      'npm',
      ['run', '-s', 'bench:review', '--', '--n', '3', '--atlas-api', 'atlas-v2'],
      {
        timeout: 60_000,
      },
    );
    expect(named.stdout).toMatch(/ATLAS_API atlas-v2;/);
    expect(named.stdout).toMatch(/\| revocations +\| +3 of 3 \|/);
    const byDefault = await run('npm', ['run', '-s', 'bench:review', '--', '--n', '3'], { timeout: 60_000 });
    expect(byDefault.stdout).toMatch(/ATLAS_API atlas-v2-2025 \(the default\);/);
    expect(byDefault.stdout).toMatch(/\| revocations +\| +3 of 3 \|/);
  }, 150_000);

  it('runs bench:revoke to one JSON line of non-zero figures, every role removed at or after its end', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'bench:revoke', '--', '--n', '6', '--seconds', '3'], {
      timeout: 60_000,
    });
    expect(stdout).toMatch(/ATLAS_API atlas-v2-2025 \(the default\)/);
    expect(stdout).toMatch(
      /\| POST \/api\/atlas\/v2\/groups\/\{groupId\}\/users\/\{userId\}:removeRole +\| +0 \|/,
    );
    const figures = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
      n: number;
      applied: number;
      revoked: number;
      early: number;
      problems: number;
      endsSpreadMs: number;
      applyMs: number;
      clickToAtlasMs: { p50: number; p99: number };
      lagMs: { p50: number; p99: number; max: number };
      exchangesPerGrant: number;
      challengesPerGrant: number;
      exchangesPerRevocation: number;
      challengesPerRevocation: number;
    };
    expect(figures).toMatchObject({ n: 6, applied: 6, revoked: 6, early: 0, problems: 0 });
    // The six ends lie within one grant's length of each other: they ended together.
    expect(figures.endsSpreadMs).toBeLessThan(3_000);
    expect(figures.applyMs).toBeGreaterThan(0);
    expect(figures.clickToAtlasMs.p50).toBeGreaterThan(0);
    expect(figures.clickToAtlasMs.p99).toBeGreaterThanOrEqual(figures.clickToAtlasMs.p50);
    // Removed in Atlas after the stored end (no early one), and well within a minute of it.
    expect(figures.lagMs.p50).toBeGreaterThan(0);
    expect(figures.lagMs.max).toBeGreaterThanOrEqual(figures.lagMs.p99);
    expect(figures.lagMs.max).toBeLessThan(60_000);
    // On atlas-v2-2025 a grant costs two signed exchanges from request to applied and a revocation
    // one; the Digest nonce is reused, so the worker's one challenge (at most) falls on one of them.
    expect(figures.exchangesPerGrant - figures.challengesPerGrant).toBeCloseTo(2, 2);
    expect(figures.challengesPerGrant * 6).toBeLessThanOrEqual(1.05);
    expect(figures.exchangesPerRevocation - figures.challengesPerRevocation).toBeCloseTo(1, 2);
    expect(figures.challengesPerRevocation * 6).toBeLessThanOrEqual(1.05);
  }, 90_000);
});
