import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, redisAnswers } from '../../dev/local-redis.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { parseConfig } from '../../src/config.js';
import { isAppError } from '../../src/errors.js';
import { createLogger } from '../../src/ops/logger.js';
import { connectRedis } from '../../src/ops/redis.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
import { uniquePrefix } from '../support/redis.js';
import { startOwnRedisCluster } from '../support/redis-cluster.js';

/** A redis-server of this test's own (TLS or Sentinel), stopped by pid afterwards. */
async function spawnRedis(args: string[], answers: () => Promise<boolean>): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await answers()); i += 1) await new Promise((r) => setTimeout(r, 50));
  if (!(await answers())) throw new Error(`redis-server ${args.join(' ')} did not start`);
  return child;
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl). */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=rolecall-test-ca',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
    '-subj',
    '/CN=127.0.0.1',
  );
  await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-out',
    at('server.pem'),
    '-days',
    '2',
    '-extfile',
    at('ext.cnf'),
  );
  return { ca: at('ca.pem'), cert: at('server.pem'), key: at('server.key') };
}

describe('Redis as operators run it', () => {
  let sandbox: Sandbox | undefined;
  const children: ChildProcess[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
    for (const child of children.splice(0)) await stop(child);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const grantOnce = async (s: Sandbox) => {
    const { id, approval } = await requestAs(
      s,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because redis modes',
    );
    await s.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    return waitForState(s, id, 'applied');
  };

  it('runs the whole flow over TLS (rediss://) with a password, verifying the server against REDIS_TLS_CA', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rolecall-tls-'));
    const certs = await makeCertificates(dir);
    const port = await freePort();
    const args = [
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      certs.cert,
      '--tls-key-file',
      certs.key,
    ];
    args.push(
      '--tls-ca-cert-file',
      certs.ca,
      '--tls-auth-clients',
      'no',
      '--requirepass',
      'pa55word',
      '--save',
      '',
    );
    const url = `rediss://:pa55word@127.0.0.1:${port}`;
    const ca = await readFile(certs.ca, 'utf8');
    const ping = () =>
      new Promise<boolean>((resolve) => {
        try {
          execFileSync(
            'redis-cli',
            [
              '--tls',
              '--cacert',
              certs.ca,
              '-p',
              String(port),
              '-a',
              'pa55word',
              '--no-auth-warning',
              'ping',
            ],
            { stdio: 'pipe' },
          );
          resolve(true);
        } catch {
          resolve(false);
        }
      });
    children.push(await spawnRedis(args, ping));

    // Without the private CA the server's certificate is not trusted: the connection fails in words.
    const untrusted = await connectRedis(
      { url, prefix: 'x' },
      'commands',
      createLogger({ write: () => undefined }),
    )
      .then((redis) => redis.disconnect())
      .catch((e: unknown) => e);
    expect(isAppError(untrusted, 'STORAGE_UNAVAILABLE')).toBe(true);
    expect((untrusted as Error).message).toMatch(
      /^Cannot reach Redis at rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+\/?: self-signed certificate/,
    );
    // A CA file that cannot be read stops the start-up before any connection.
    const missing = (() => {
      try {
        parseConfig({
          SLACK_BOT_TOKEN: 'xoxb-1',
          SLACK_SIGNING_SECRET: 's',
          ATLAS_PUBLIC_KEY: 'p',
          ATLAS_PRIVATE_KEY: 'k',
          REDIS_URL: url,
          REDIS_TLS_CA: join(dir, 'missing.pem'),
        });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(isAppError(missing, 'CONFIG_INVALID')).toBe(true);
    expect((missing as Error).message).toContain(
      `REDIS_TLS_CA ${join(dir, 'missing.pem')} cannot be read (ENOENT)`,
    );

    sandbox = await startSandbox({ redisUrl: url, redisTlsCa: ca, prefix: uniquePrefix('tls') });
    const applied = await grantOnce(sandbox);
    expect(applied.state).toBe('applied');
    // Nothing listens in the clear.
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
  });

  it('finds the master through Redis Sentinel when REDIS_SENTINELS is set', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rolecall-sentinel-'));
    const masterPort = await freePort();
    children.push(
      await spawnRedis(['--port', String(masterPort), '--save', ''], () =>
        redisAnswers(`redis://127.0.0.1:${masterPort}`),
      ),
    );
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      `port ${sentinelPort}\nsentinel monitor rolecall-master 127.0.0.1 ${masterPort} 1\n`,
    );
    children.push(
      await spawnRedis([conf, '--sentinel'], () => redisAnswers(`redis://127.0.0.1:${sentinelPort}`)),
    );

    sandbox = await startSandbox({
      redisUrl: `redis://127.0.0.1:${masterPort}`,
      prefix: uniquePrefix('sentinel'),
      // REDIS_URL points nowhere: the app can only reach Redis through the sentinel.
      env: {
        REDIS_URL: 'redis://127.0.0.1:1',
        REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
        REDIS_SENTINEL_NAME: 'rolecall-master',
      },
    });
    const applied = await grantOnce(sandbox);
    expect(applied.state).toBe('applied');
  });

  it('keeps every key of Rolecall and BullMQ in the hash-tagged prefix slot of a three-master Redis Cluster', async () => {
    const cluster = await startOwnRedisCluster();
    try {
      const prefix = uniquePrefix('cluster');
      sandbox = await startSandbox({
        redisUrl: `redis://127.0.0.1:${cluster.ports[0]}`,
        prefix,
        env: { REDIS_CLUSTER_NODES: cluster.nodes },
      });
      expect(sandbox.config.redis.prefix).toBe(`{${prefix}}`);
      // A temporary grant: its revocation job waits (delayed) in BullMQ, its ledger and indexes in Rolecall.
      const { id, approval } = await requestAs(
        sandbox,
        PEOPLE.alice,
        'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because cluster',
      );
      await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
      expect((await waitForState(sandbox, id, 'applied')).state).toBe('applied');

      const perNode: { port: number; keys: string[] }[] = [];
      for (const port of cluster.ports) {
        const keys = execFileSync('redis-cli', ['-p', String(port), '--scan', '--pattern', `{${prefix}}:*`], {
          encoding: 'utf8',
        })
          .split('\n')
          .filter(Boolean);
        perNode.push({ port, keys });
      }
      const holders = perNode.filter((node) => node.keys.length > 0);
      expect(holders).toHaveLength(1);
      const keys = holders[0]?.keys ?? [];
      expect(keys).toEqual(
        expect.arrayContaining([
          `{${prefix}}:request:${id}`,
          `{${prefix}}:audit`,
          `{${prefix}}:grants:ending`,
          `{${prefix}}:revoke:delayed`,
          `{${prefix}}:apply:meta`,
        ]),
      );
      const slots = new Set(
        keys.map((key) =>
          execFileSync('redis-cli', ['-p', String(cluster.ports[0]), 'cluster', 'keyslot', key], {
            encoding: 'utf8',
          }).trim(),
        ),
      );
      expect(slots.size).toBe(1);
    } finally {
      await sandbox?.stop();
      sandbox = undefined;
      await cluster.stop();
    }
  });
});
