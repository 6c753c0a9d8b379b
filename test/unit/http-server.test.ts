import { describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/ops/http-server.js';
import { createCapturingLogger } from '../support/atlas-fixture.js';

describe('http server', () => {
  it('answers /healthz with 200 while healthy, 503 when the check fails or throws, 404 elsewhere', async () => {
    let state: 'ok' | 'down' | 'throws' = 'ok';
    const server = createHttpServer({
      port: 0,
      logger: createCapturingLogger().logger,
      slack: undefined,
      healthy: async () => {
        if (state === 'throws') throw new Error('redis is gone');
        return state === 'ok';
      },
    });
    const port = await server.listen();
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
    expect((await get('/healthz')).status).toBe(200);
    state = 'down';
    const down = await get('/healthz');
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable' });
    state = 'throws';
    expect((await get('/healthz')).status).toBe(503);
    expect((await get('/slack/events')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST' })).status).toBe(404);
    await server.close();
  });
});
