import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasProxyConfig } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureConfig,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';

/** A forward proxy that tunnels CONNECT requests, as corporate egress proxies do, and records them. */
async function startConnectProxy(): Promise<{ url: string; tunnels: string[]; close: () => Promise<void> }> {
  const tunnels: string[] = [];
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('Atlas calls through HTTPS_PROXY / HTTP_PROXY', () => {
  let simulator: AtlasSimulator;
  let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
  beforeEach(async () => {
    simulator = await startFixtureSimulator();
    proxy = await startConnectProxy();
  });
  afterEach(async () => {
    await proxy.close();
    await simulator.close();
  });

  const clientWith = (settings: AtlasProxyConfig) =>
    createAtlasClient(
      { ...fixtureConfig(simulator, 'atlas-v2-2025', AUTHS.digest), proxy: settings },
      { logger: createCapturingLogger().logger },
    );

  it('tunnels every Atlas exchange, Digest challenge included, through the proxy when one is set', async () => {
    simulator.seedUsers(3, { groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] } });
    const client = clientWith({ httpProxy: proxy.url, httpsProxy: '', noProxy: '' });
    const members = await client.roles.members.listMembers({ kind: 'project', id: FIXTURE.project });
    await client.close();
    expect(members.filter((m) => m.roles.includes('GROUP_READ_ONLY')).length).toBeGreaterThanOrEqual(3);
    const host = new URL(simulator.url).host;
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(1);
    expect(new Set(proxy.tunnels)).toEqual(new Set([host]));
    // The Digest challenge and the signed page, both over the tunnel: the client has no other route.
    expect(simulator.calls.map((c) => [c.auth, c.status])).toEqual([
      ['none', 401],
      ['digest', 200],
    ]);
  });

  it('goes direct to hosts on NO_PROXY', async () => {
    const client = clientWith({
      httpProxy: proxy.url,
      httpsProxy: proxy.url,
      noProxy: 'localhost,127.0.0.1',
    });
    const members = await client.roles.members.listMembers({ kind: 'project', id: FIXTURE.project });
    await client.close();
    expect(Array.isArray(members)).toBe(true);
    expect(proxy.tunnels).toEqual([]);
    expect(simulator.authenticatedCalls().length).toBeGreaterThanOrEqual(1);
  });

  it('fails in words, not silently direct, when the proxy is down', async () => {
    await proxy.close();
    const client = clientWith({ httpProxy: proxy.url, httpsProxy: '', noProxy: '' });
    const error = await client.roles.members
      .listMembers({ kind: 'project', id: FIXTURE.project })
      .catch((e: unknown) => e);
    await client.close();
    expect(error).toMatchObject({ code: expect.stringMatching(/^ATLAS_/) });
    expect(simulator.authenticatedCalls()).toEqual([]);
  });
});
