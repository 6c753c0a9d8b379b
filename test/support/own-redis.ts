import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, redisAnswers } from '../../dev/local-redis.js';

/** A redis-server of the test's own, with append-only persistence, that can be restarted. */
export interface OwnRedis {
  readonly url: string;
  /** Stops the server (it writes its AOF) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and keeps its data: an outage, until restart(). */
  halt(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `redis-server --appendonly yes --appendfsync always` on a free port in a temp dir. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
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
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
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
  return {
    url,
    async restart() {
      await halt();
      await start();
    },
    halt,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
