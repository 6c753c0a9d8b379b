import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { TEST_REDIS_URL } from './redis.js';

const run = promisify(execFile);

/** A three-master Redis Cluster of the test's own on local ports, stopped by pid. */
export interface OwnRedisCluster {
  /** `127.0.0.1:port,…`, as REDIS_CLUSTER_NODES takes it. */
  readonly nodes: string;
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/** True when `port` can be bound on 127.0.0.1 right now. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Three ports whose cluster bus ports (port + 10000) are free too. */
async function clusterPorts(): Promise<number[]> {
  const ports: number[] = [];
  for (let port = 20_000 + Math.floor(Math.random() * 30_000); ports.length < 3; port += 1) {
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) ports.push(port);
  }
  return ports;
}

/** What `redis-cli -p PORT …` prints, or '' when it fails. */
async function cli(port: number, ...args: string[]): Promise<string> {
  try {
    return (await run('redis-cli', ['-p', String(port), ...args])).stdout;
  } catch {
    return '';
  }
}

/**
 * Starts `redis-server --cluster-enabled yes` three times, joins them with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` and waits until every node
 * says `cluster_state:ok` (at most 20 s).
 */
export async function startOwnRedisCluster(): Promise<OwnRedisCluster> {
  const ports = await clusterPorts();
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-cluster-'));
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    ),
  );
  const stop = async () => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports)
      await waitFor(async () => (await cli(port, 'ping')).trim() === 'PONG', `${port} up`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(
        async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'),
        `${port} ok`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes: ports.map((port) => `127.0.0.1:${port}`).join(','), ports, stop };
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} not reached within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The Redis setups a suite runs on with `describe.each`: the shared Redis, and a Redis Cluster. */
export const REDIS_BACKENDS = [
  { backend: 'one Redis', cluster: false },
  { backend: 'a three-master Redis Cluster', cluster: true },
] as const;

/**
 * Registers, in the calling `describe`, a Redis Cluster of the suite's own when `cluster` (started
 * before its tests, stopped after). `sandboxRedis()` gives the sandbox options that reach it.
 */
export function useRedisBackend(cluster: boolean): {
  sandboxRedis(): { redisUrl: string; env: Record<string, string> };
} {
  let own: OwnRedisCluster | undefined;
  if (cluster) {
    beforeAll(async () => {
      own = await startOwnRedisCluster();
    }, 30_000);
    afterAll(async () => {
      await own?.stop();
    });
  }
  return {
    sandboxRedis: () =>
      own
        ? // REDIS_CLUSTER_NODES wins over REDIS_URL; the URL names a node only for tidy-up tools.
          { redisUrl: `redis://127.0.0.1:${own.ports[0]}`, env: { REDIS_CLUSTER_NODES: own.nodes } }
        : { redisUrl: TEST_REDIS_URL, env: {} },
  };
}
