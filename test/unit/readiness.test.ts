import { describe, expect, it } from 'vitest';
import { createReadiness } from '../../src/ops/readiness.js';

describe('createReadiness', () => {
  it('runs live checks on every report and periodic ones only at start and on their interval', async () => {
    let live = 0;
    let periodic = 0;
    const readiness = createReadiness(
      [
        { name: 'live', run: async () => `call ${++live}` },
        { name: 'slow', periodic: true, run: async () => `call ${++periodic}` },
      ],
      { intervalMs: 60_000 },
    );
    const before = await readiness.report();
    expect(before.ready).toBe(false);
    expect(before.body).toMatchObject({
      failing: ['slow'],
      checks: { slow: { ok: false, detail: 'not checked yet' } },
    });
    await readiness.start();
    await readiness.report();
    const after = await readiness.report();
    readiness.close();
    expect(after).toMatchObject({
      ready: true,
      body: { status: 'ready', checks: { live: { detail: 'call 3' } } },
    });
    expect(after.body.checks.slow?.detail).toBe('call 1');
    expect(periodic).toBe(1);
  });

  it('fails a check that does not answer in time, naming why', async () => {
    const readiness = createReadiness([{ name: 'redis', run: () => new Promise<string>(() => undefined) }], {
      timeoutMs: 50,
    });
    const report = await readiness.report();
    expect(report).toMatchObject({
      ready: false,
      body: {
        status: 'unavailable',
        failing: ['redis'],
        checks: { redis: { ok: false, detail: 'no answer within 50 ms' } },
      },
    });
  });

  it('answers stopping from the moment shutdown begins, even with every check passing', async () => {
    const readiness = createReadiness([{ name: 'redis', run: async () => 'PONG' }]);
    expect((await readiness.report()).ready).toBe(true);
    readiness.markStopping();
    const report = await readiness.report();
    expect(report).toMatchObject({ ready: false, body: { status: 'stopping' } });
  });
});
