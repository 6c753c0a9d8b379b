import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A Redis the demo can use, and how to let go of it. */
export interface DemoRedis {
  readonly url: string;
  /** True when the demo started this Redis itself. */
  readonly private: boolean;
  stop(): Promise<void>;
}

/** How to get a Redis, in one line. */
export const REDIS_HINT =
  'Rolecall needs Redis: install it (apt-get install redis-server, or brew install redis) or run one (docker run -p 6379:6379 redis), then try again.';

/** True when a Redis answers PING at `url` within a second. */
export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Uses the Redis at `url` when it answers; otherwise starts a private `redis-server` on a free port
 * in a temporary directory (when one is on the PATH). Returns undefined when neither is possible.
 */
export async function obtainRedis(url: string): Promise<DemoRedis | undefined> {
  if (await redisAnswers(url)) return { url, private: false, stop: async () => undefined };
  return startPrivateRedis();
}

/**
 * Starts a private `redis-server` (no persistence) on a free port in a temporary directory, when one
 * is on the PATH: a store nobody else writes to, so what it holds can be measured as a whole.
 * Returns undefined when it cannot.
 */
export async function startPrivateRedis(): Promise<DemoRedis | undefined> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return undefined;
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; attempt < 50; attempt += 1) {
    if (await redisAnswers(privateUrl)) return { url: privateUrl, private: true, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  return undefined;
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
