import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { parseInfo } from '../../src/ops/redis-settings.js';
import { PROJECT, requestAs, sleep, waitForState } from '../support/grant-flow.js';
import { type OwnRedis, startOwnRedis } from '../support/own-redis.js';

/** GET /readyz of a sandbox: status and body. */
async function readyz(sandbox: Sandbox): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${sandbox.rolecall.port}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Runs `change` (attach or stop a replica), then waits until the master has `count` replicas attached. */
async function replicas(master: Redis, count: number, change: () => Promise<unknown>): Promise<void> {
  await change();
  await waitUntil(async () => {
    const info = parseInfo(await master.info('replication'));
    return info.connected_slaves === String(count) ? true : undefined;
  }, 10_000);
}

describe('the Redis Rolecall runs on', () => {
  const servers: OwnRedis[] = [];
  const clients: Redis[] = [];
  let sandbox: Sandbox | undefined;

  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await sandbox?.stop();
    sandbox = undefined;
    for (const server of servers.splice(0).reverse()) await server.stop();
  });

  const ownRedis = async (...options: Parameters<typeof startOwnRedis>) => {
    const server = await startOwnRedis(...options);
    servers.push(server);
    const client = new Redis(server.url);
    client.on('error', () => undefined);
    clients.push(client);
    return { server, client };
  };

  it('refuses to start on a Redis that may evict keys, saying why', async () => {
    const { server } = await ownRedis({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    await expect(startSandbox({ redisUrl: server.url })).rejects.toThrow(
      /maxmemory-policy allkeys-lru.*Set maxmemory-policy noeviction/,
    );
  });

  it('turns /readyz 503 when eviction is switched on under a running app, and back once it is off', async () => {
    const { server, client } = await ownRedis();
    sandbox = await startSandbox({ redisUrl: server.url, env: { READY_CHECK_INTERVAL: '1s' } });
    expect((await readyz(sandbox)).status).toBe(200);
    await client.config('SET', 'maxmemory-policy', 'volatile-lru');
    const failing = await waitUntil(async () => {
      const answer = await readyz(sandbox as Sandbox);
      return answer.status === 503 ? answer : undefined;
    }, 5_000);
    expect(failing.body.failing).toEqual(['redis-settings']);
    expect(JSON.stringify(failing.body.checks)).toContain('maxmemory-policy volatile-lru');
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await waitUntil(
      async () => ((await readyz(sandbox as Sandbox)).status === 200 ? true : undefined),
      5_000,
    );
  });

  it('says in /readyz when Redis keeps nothing on disk, and stays ready', async () => {
    const { server } = await ownRedis({ persistence: false });
    sandbox = await startSandbox({ redisUrl: server.url });
    const answer = await readyz(sandbox);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body.checks)).toContain('append-only persistence is off');
  });

  it('makes a grant plan durable on a replica before the Atlas write, and writes nothing while the replica is stuck', async () => {
    const { server: master, client } = await ownRedis();
    const { server: replica, client: replicaClient } = await ownRedis();
    await replicas(client, 1, () => replicaClient.replicaof('127.0.0.1', master.port));
    sandbox = await startSandbox({
      redisUrl: master.url,
      env: { JOB_BACKOFF_MS: '300', REDIS_WAIT_TIMEOUT: '1s', ATLAS_API: 'atlas-v2-2025' },
    });
    const box = sandbox;
    expect(JSON.stringify((await readyz(box)).body.checks)).toContain('1 replica(s) acknowledge (WAIT)');

    const first = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because durable',
    );
    // Hold the Atlas write open, and read the replica the moment it arrives.
    box.atlas.inject({ method: 'POST', path: /:addRole$/, delayMs: 800 });
    const writesBefore = box.atlas.received.length;
    await box.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitUntil(
      () =>
        box.atlas.received
          .slice(writesBefore)
          .find((r) => r.method === 'POST' && r.path.endsWith(':addRole')),
      10_000,
    );
    const onReplica = await replicaClient.hget(redisKeys(box.config.redis.prefix).request(first.id), 'plan');
    expect(JSON.parse(onReplica ?? 'null')).toMatchObject({ added: ['GROUP_DATA_ACCESS_READ_ONLY'] });
    await waitForState(box, first.id, 'applied');
    const waits = parseInfo(await client.info('commandstats')).cmdstat_wait ?? '';
    expect(waits).toMatch(/calls=[1-9]/);

    // A stuck replica: no acknowledgement, so no Atlas write until it answers again.
    const second = await requestAs(
      box,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because stuck',
    );
    const stuckAt = Date.now();
    replica.pause();
    await box.driver.clickButton(PEOPLE.bob, second.approval, 'request_approve');
    await sleep(2_500);
    const writtenWhileStuck = box.atlas.received.filter(
      (r) => r.at >= stuckAt && r.method === 'POST' && r.path.endsWith(':addRole'),
    );
    expect(writtenWhileStuck).toEqual([]);
    expect(box.atlas.rolesOf(PEOPLE.dana.email.toLowerCase(), PROJECT)).not.toContain(
      'GROUP_DATA_ACCESS_READ_ONLY',
    );
    const resumedAt = Date.now();
    replica.resume();
    await waitForState(box, second.id, 'applied', 20_000);
    const written = box.atlas.received.filter(
      (r) => r.method === 'POST' && r.path.endsWith(':addRole') && r.at >= stuckAt,
    );
    expect(written.length).toBeGreaterThan(0);
    expect(Math.min(...written.map((r) => r.at))).toBeGreaterThanOrEqual(resumedAt);
  });

  it('goes on granting when the replica is gone for good with auto, and turns /readyz 503 when it was asked for', async () => {
    const { server: master, client } = await ownRedis();
    const { server: replica, client: replicaClient } = await ownRedis();
    await replicas(client, 1, () => replicaClient.replicaof('127.0.0.1', master.port));
    sandbox = await startSandbox({
      redisUrl: master.url,
      env: { JOB_BACKOFF_MS: '300', READY_CHECK_INTERVAL: '1s', ATLAS_API: 'atlas-v2-2025' },
    });
    const box = sandbox;
    await replicas(client, 0, () => replica.halt());
    // auto: a master with no replica attached has nothing to wait for; the grant is applied.
    const grant = await requestAs(
      box,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because gone',
    );
    await box.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    await waitForState(box, grant.id, 'applied', 15_000);
    const ready = await waitUntil(async () => {
      const answer = await readyz(box);
      return JSON.stringify(answer.body.checks).includes('not confirmed beyond the master')
        ? answer
        : undefined;
    }, 5_000);
    expect(ready.status).toBe(200);
    await box.stop();
    sandbox = undefined;

    // Asked for explicitly (REDIS_WAIT_REPLICAS=1): losing the replica makes /readyz say so, 503.
    await replica.restart();
    const again = new Redis(replica.url);
    again.on('error', () => undefined);
    clients.push(again);
    await replicas(client, 1, () => again.replicaof('127.0.0.1', master.port));
    sandbox = await startSandbox({
      redisUrl: master.url,
      env: { READY_CHECK_INTERVAL: '1s', REDIS_WAIT_REPLICAS: '1' },
    });
    expect((await readyz(sandbox)).status).toBe(200);
    await replica.halt();
    const failing = await waitUntil(async () => {
      const answer = await readyz(sandbox as Sandbox);
      return answer.status === 503 ? answer : undefined;
    }, 10_000);
    expect(failing.body.failing).toEqual(['redis-settings']);
    expect(JSON.stringify(failing.body.checks)).toContain(
      'REDIS_WAIT_REPLICAS=1, but a Redis master has 0 replica(s)',
    );
  });
});
