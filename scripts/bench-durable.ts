// npm run bench:durable [-- --n 100]: what making a grant's plan durable before its Atlas write costs.
// Starts a Redis master (append-only, fsync every second, as docker-compose.yml runs it) with one
// replica on this machine, then runs N grants through the real app (signed Approve clicks, the worker,
// the Atlas simulator; `--atlas-api`, default the product's default flavor) twice: with REDIS_WAIT_REPLICAS=0 and with
// 1 (WAIT). Prints approve-to-applied latency p50/p99 for both, and the WAIT round trip on its own.
// WAITAOF needs Redis 7.2; the redis-server here is printed, and WAITAOF is measured when it has it.

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { waitUntil } from '../dev/http-util.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../dev/sandbox.js';
import { parseInfo, versionAtLeast } from '../src/ops/redis-settings.js';
import { startOwnRedis } from '../test/support/own-redis.js';
import { quantile } from './app-processes.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const personOf = (i: number) => ({
  id: `U0D${i.toString(36).toUpperCase().padStart(5, '0')}`,
  name: `durable${i}`,
  email: `durable${i}@example.com`,
  atlasId: `6d${i.toString(16).padStart(22, '0')}`,
});

/** N grants through the app: request, wait until pending, approve 8 at a time; approve-to-applied ms each. */
async function grants(
  sandbox: Sandbox,
  people: ReturnType<typeof personOf>[],
  round: string,
): Promise<number[]> {
  const redis = new Redis(sandbox.config.redis.url);
  const store = createRequestStore(redis, { prefix: sandbox.config.redis.prefix });
  const ids: string[] = [];
  for (const person of people) {
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      person,
      `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name} for 1h because ${round}`,
      CHANNELS.general,
    );
    const text = await waitUntil(
      () =>
        sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'ephemeral' && e.user === person.id ? e.text : undefined))
          .find((t) => t !== undefined && /Request \*AR-[0-9A-Z]+\*/.test(t)),
      10_000,
    );
    ids.push(/AR-[0-9A-Z]+/.exec(text)?.[0] ?? '');
  }
  const messages = await Promise.all(
    ids.map((id) =>
      waitUntil(
        () =>
          sandbox.slack
            .messagesIn(CHANNELS.approvals)
            .find((m) => !m.threadTs && m.text.includes(`Access request ${id}:`)),
        10_000,
      ),
    ),
  );
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < messages.length) {
        const i = next;
        next += 1;
        const started = performance.now();
        await sandbox.driver.clickButton(PEOPLE.bob, messages[i] as never, 'request_approve');
        await waitUntil(
          async () => ((await store.get(ids[i] ?? ''))?.state === 'applied' ? true : undefined),
          20_000,
        );
        latencies.push(performance.now() - started);
      }
    }),
  );
  redis.disconnect();
  return latencies.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { n: { type: 'string', default: '100' }, ...ATLAS_API_OPTION },
    strict: true,
  });
  const n = Number(values.n);
  const flavor = readAtlasFlavor(values['atlas-api']);
  const master = await startOwnRedis({ args: ['--appendfsync', 'everysec'] });
  const replica = await startOwnRedis();
  const replicaClient = new Redis(replica.url);
  await replicaClient.replicaof('127.0.0.1', master.port);
  const client = new Redis(master.url);
  await waitUntil(
    async () => (parseInfo(await client.info('replication')).connected_slaves === '1' ? true : undefined),
    10_000,
  );
  const version = parseInfo(await client.info('server')).redis_version ?? '?';

  // The WAIT round trip on its own: a write, then WAIT 1 on the same connection.
  const waits: number[] = [];
  for (let i = 0; i < 1_000; i += 1) {
    await client.set('bench:durable', String(i));
    const started = performance.now();
    await client.call('WAIT', 1, 1000);
    waits.push(performance.now() - started);
  }
  waits.sort((a, b) => a - b);
  const waitAofs: number[] = [];
  if (versionAtLeast(version, 7, 2)) {
    for (let i = 0; i < 1_000; i += 1) {
      await client.set('bench:durable', String(i));
      const started = performance.now();
      await client.call('WAITAOF', 1, 0, 1000);
      waitAofs.push(performance.now() - started);
    }
    waitAofs.sort((a, b) => a - b);
  }

  const people = Array.from({ length: 2 * n }, (_, i) => personOf(i));
  const rows: { label: string; latencies: number[] }[] = [];
  for (const [label, replicas, group] of [
    ['no WAIT (REDIS_WAIT_REPLICAS=0)', '0', people.slice(0, n)],
    ['WAIT for 1 replica (auto here)', '1', people.slice(n)],
  ] as const) {
    const sandbox = await startSandbox({
      redisUrl: master.url,
      env: { ATLAS_API: flavor, REDIS_WAIT_REPLICAS: replicas, LOG_LEVEL: 'error' },
      slackUsers: group,
      atlas: {
        users: group.map((p) => ({
          id: p.atlasId,
          username: p.email,
          orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
          groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
        })),
      },
    });
    try {
      rows.push({ label, latencies: await grants(sandbox, [...group], label) });
    } finally {
      await sandbox.stop();
    }
  }
  const waitCalls = parseInfo(await client.info('commandstats')).cmdstat_wait ?? 'none';
  console.log(
    `Durable grant plans: Redis ${version}, master (appendfsync everysec) + 1 replica on this machine; ${n} grants each, approved 8 at a time; ATLAS_API ${describeFlavor(flavor)}`,
  );
  console.log(
    `WAIT 1 after a write, alone: p50 ${quantile(waits, 0.5).toFixed(2)} ms, p99 ${quantile(waits, 0.99).toFixed(2)} ms (1,000 calls)`,
  );
  console.log(
    waitAofs.length > 0
      ? `WAITAOF 1 0 after a write, alone: p50 ${quantile(waitAofs, 0.5).toFixed(2)} ms, p99 ${quantile(waitAofs, 0.99).toFixed(2)} ms`
      : `WAITAOF: not measured, Redis ${version} has no WAITAOF (7.2 and later)`,
  );
  console.log('| run | approve-to-applied p50 | p99 |');
  console.log('|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.label} | ${quantile(row.latencies, 0.5).toFixed(1)} ms | ${quantile(row.latencies, 0.99).toFixed(1)} ms |`,
    );
  }
  console.log(`WAIT calls the master served in all: ${waitCalls}`);
  client.disconnect();
  replicaClient.disconnect();
  await replica.stop();
  await master.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
