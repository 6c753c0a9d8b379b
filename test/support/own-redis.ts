import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from '../../dev/local-redis.js';

/** A redis-server of the test's own, with append-only persistence, that can be restarted. */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** Stops the server (it writes its AOF) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and keeps its data: an outage, until restart(). */
  halt(): Promise<void>;
  /** Freezes the process (SIGSTOP): connected, silent, as a stuck replica is; `resume` thaws it. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** Options for {@link startOwnRedis}. */
export interface OwnRedisOptions {
  /**
   * Append-only persistence (`--appendonly yes --appendfsync always`); without it a restart comes
   * back empty, as a Redis that keeps nothing on disk does. @defaultValue true
   */
  readonly persistence?: boolean;
  /** More `redis-server` arguments, e.g. `['--maxmemory-policy', 'allkeys-lru']` or `['--replicaof', …]`. */
  readonly args?: readonly string[];
}

/** Starts `redis-server` on a free port in a temp dir (append-only, fsync always, unless told otherwise). */
export async function startOwnRedis(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  // A free port can be taken by another test file's server between freePort() and the bind: then
  // ours exits and the one answering is not ours. Try again on another port until ours answers.
  for (let attempt = 1; ; attempt += 1) {
    const redis = await startOn(await freePort(), options);
    if (redis) return redis;
    if (attempt >= 5) throw new Error('could not start a redis-server of our own on a free port');
  }
}

/** Whether the server at `url` is the one serving `dir` (not another test's on a reused port). */
async function servesDir(url: string, dir: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [, served] = (await redis.config('GET', 'dir')) as [string, string];
    return served === dir || served === (await realpath(dir));
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function startOn(port: number, options: OwnRedisOptions): Promise<OwnRedis | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        ...(options.persistence === false
          ? ['--appendonly', 'no']
          : ['--appendonly', 'yes', '--appendfsync', 'always']),
        '--save',
        '',
        ...(options.args ?? []),
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !(await redisAnswers(url)); i += 1)
      await new Promise((r) => setTimeout(r, 50));
  };
  const halt = async () => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  if (!(await servesDir(url, dir))) {
    await halt();
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    url,
    port,
    async restart() {
      await halt();
      await start();
    },
    halt,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      child?.kill('SIGCONT');
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
