import { describe, expect, it } from 'vitest';
import { describeDurability, planDurability } from '../../src/ops/redis-durability.js';
import {
  evictionProblem,
  parseInfo,
  persistenceWarning,
  type RedisServerFacts,
  versionAtLeast,
} from '../../src/ops/redis-settings.js';

const server = (facts: Partial<RedisServerFacts> = {}): RedisServerFacts => ({
  node: '127.0.0.1:6379',
  version: '7.0.15',
  maxmemoryPolicy: 'noeviction',
  appendonly: true,
  replicas: 0,
  replicaLags: [],
  ...facts,
});

describe('redis settings', () => {
  it('reads the fields Rolecall checks from INFO text', () => {
    const info = parseInfo(
      '# Server\r\nredis_version:7.0.15\r\n# Memory\r\nmaxmemory_policy:allkeys-lru\r\n# Persistence\r\naof_enabled:0\r\n# Replication\r\nconnected_slaves:2\r\n',
    );
    expect(info).toMatchObject({
      redis_version: '7.0.15',
      maxmemory_policy: 'allkeys-lru',
      aof_enabled: '0',
      connected_slaves: '2',
    });
  });

  it('refuses every policy but noeviction, naming the server', () => {
    expect(evictionProblem([server()])).toBeUndefined();
    for (const policy of ['allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-ttl', 'allkeys-random']) {
      expect(evictionProblem([server(), server({ node: 'b:6379', maxmemoryPolicy: policy })])).toContain(
        `b:6379 has maxmemory-policy ${policy}`,
      );
    }
  });

  it('warns when a server keeps nothing on disk', () => {
    expect(persistenceWarning([server()])).toBeUndefined();
    expect(persistenceWarning([server({ appendonly: false })])).toContain('append-only persistence is off');
  });

  it('compares versions by major and minor', () => {
    expect(versionAtLeast('7.2.0', 7, 2)).toBe(true);
    expect(versionAtLeast('7.0.15', 7, 2)).toBe(false);
    expect(versionAtLeast('8.0.1', 7, 2)).toBe(true);
  });

  it('asks for what the servers offer when set to auto', () => {
    const auto = { replicas: 'auto', aof: 'auto', timeoutMs: 1000 } as const;
    expect(planDurability(auto, [server()])).toEqual({ replicas: 0, aof: false, timeoutMs: 1000 });
    expect(planDurability(auto, [server({ replicas: 2 })])).toMatchObject({ replicas: 1 });
    expect(planDurability(auto, [server({ replicas: 1 }), server({ replicas: 0 })])).toMatchObject({
      replicas: 0,
    });
    expect(planDurability(auto, [server({ version: '7.2.4' })])).toMatchObject({ aof: true });
    expect(planDurability(auto, [server({ version: '7.2.4', appendonly: false })])).toMatchObject({
      aof: false,
    });
    expect(describeDurability({ replicas: 0, aof: false, timeoutMs: 1000 })).toContain('not confirmed');
  });

  it('refuses at start-up to ask for more than the servers offer', () => {
    expect(() =>
      planDurability({ replicas: 2, aof: 'auto', timeoutMs: 1000 }, [server({ replicas: 1 })]),
    ).toThrow(/REDIS_WAIT_REPLICAS=2, but a Redis master has only 1 replica/);
    expect(() => planDurability({ replicas: 0, aof: true, timeoutMs: 1000 }, [server()])).toThrow(
      /WAITAOF needs 7.2/,
    );
    expect(planDurability({ replicas: 0, aof: false, timeoutMs: 1000 }, [server({ replicas: 3 })])).toEqual({
      replicas: 0,
      aof: false,
      timeoutMs: 1000,
    });
  });
});
