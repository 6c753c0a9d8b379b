import { describe, expect, it } from 'vitest';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import type { DatabaseUserSpec } from '../../src/atlas/database-access-api.js';
import { generatePassword } from '../../src/database-access/credentials.js';
import {
  AUTHS,
  FIXTURE,
  fixtureClient,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { checkAgainstSpec, checkResponseAgainstSpec } from '../support/openapi-contract.js';

const GROUP = FIXTURE.project;
const V2_2023 = 'application/vnd.atlas.2023-01-01+json';

/** The spec's operation of a recorded call, by method and path template. */
function operationOf(method: string, path: string): string {
  const template = path
    .split('?')[0]
    ?.replace(/[a-f0-9]{24}/, '{groupId}')
    .replace(/databaseUsers\/[^/]+\/[^/]+$/, 'databaseUsers/{databaseName}/{username}')
    .replace(/accessList\/[^/]+$/, 'accessList/{entryValue}');
  return `${method} ${template}`;
}

describe('database access against the official OpenAPI spec', () => {
  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'every request %s sends, and every answer the simulator gives, conforms',
    async (flavor) => {
      const simulator = await startFixtureSimulator({ clusters: [{ groupId: GROUP, name: 'orders' }] });
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      const database = client.database;
      expect(database).toBeDefined();
      if (!database) return;
      const deleteAfter = Date.now() + 3_600_000;
      const base = {
        roles: [{ roleName: 'read', databaseName: 'orders', collectionName: 'carts' }],
        clusters: ['orders'],
        deleteAfter,
        description: 'Rolecall AR-2Q8ZK4M',
      };
      const specs: DatabaseUserSpec[] = [
        {
          ...base,
          username: 'rc-alice-orders-read-ar2q8zk4m',
          auth: 'password',
          password: generatePassword(),
        },
        { ...base, username: '5dd7496c7a3e5a648454341c/alice@example.com', auth: 'oidc' },
        { ...base, username: 'arn:aws:iam::123456789012:role/alice', auth: 'aws-iam' },
      ];
      for (const spec of specs) {
        await database.createUser(GROUP, spec);
        await database.createUser(GROUP, spec);
        await database.readUser(GROUP, spec.auth, spec.username);
        await database.updateUser(GROUP, spec.auth, spec.username, { deleteAfter: deleteAfter + 60_000 });
      }
      await database.updateUser(GROUP, 'password', specs[0]?.username ?? '', {
        password: generatePassword(),
      });
      expect(await database.listUsers(GROUP)).toHaveLength(3);
      for (const spec of specs) {
        await database.deleteUser(GROUP, spec.auth, spec.username);
        await database.deleteUser(GROUP, spec.auth, spec.username);
      }
      for (const cidrBlock of ['203.0.113.9', '198.51.100.0/24', '2001:db8::1']) {
        await database.addAccessListEntry(GROUP, { cidrBlock, deleteAfter, comment: 'Rolecall AR-2Q8ZK4M' });
        await database.addAccessListEntry(GROUP, { cidrBlock, deleteAfter, comment: 'Rolecall AR-2Q8ZK4M' });
        await database.readAccessListEntry(GROUP, cidrBlock);
      }
      // The list of entries, which the adapter does not need, answered as the spec says too.
      const { http } = fixtureHttp(simulator);
      await http.send({
        method: 'GET',
        path: `/api/atlas/v2/groups/${GROUP}/accessList`,
        mediaType: V2_2023,
        operation: 'listing the access list',
      });
      await http.close();
      for (const cidrBlock of ['203.0.113.9', '198.51.100.0/24', '2001:db8::1']) {
        await database.removeAccessListEntry(GROUP, cidrBlock);
        await database.removeAccessListEntry(GROUP, cidrBlock);
      }
      await client.close();
      await simulator.close();

      const sent = simulator.authenticatedCalls();
      const operations = new Set(sent.map((c) => operationOf(c.method, c.path)));
      expect([...operations].sort()).toEqual(
        [
          'DELETE /api/atlas/v2/groups/{groupId}/accessList/{entryValue}',
          'DELETE /api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}',
          'GET /api/atlas/v2/groups/{groupId}/accessList',
          'GET /api/atlas/v2/groups/{groupId}/accessList/{entryValue}',
          'GET /api/atlas/v2/groups/{groupId}/databaseUsers',
          'GET /api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}',
          'PATCH /api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username}',
          'POST /api/atlas/v2/groups/{groupId}/accessList',
          'POST /api/atlas/v2/groups/{groupId}/databaseUsers',
        ].sort(),
      );
      // Both answers of each kind were seen: success, and "already there" / "already gone".
      const statuses = new Set(sent.map((c) => `${operationOf(c.method, c.path)} ${c.status}`));
      expect(statuses).toContain('POST /api/atlas/v2/groups/{groupId}/databaseUsers 201');
      expect(statuses).toContain('POST /api/atlas/v2/groups/{groupId}/databaseUsers 409');
      expect(statuses).toContain(
        'DELETE /api/atlas/v2/groups/{groupId}/databaseUsers/{databaseName}/{username} 404',
      );
      expect(statuses).toContain('GET /api/atlas/v2/groups/{groupId}/accessList/{entryValue} 404');
      expect(statuses).toContain('POST /api/atlas/v2/groups/{groupId}/accessList 200');
      expect(statuses).toContain('DELETE /api/atlas/v2/groups/{groupId}/accessList/{entryValue} 404');
      expect(sent.every((c) => c.mediaType === V2_2023)).toBe(true);

      const requestProblems = sent.flatMap((c) =>
        checkAgainstSpec(c).map((p) => `${c.method} ${c.path}: ${p}`),
      );
      expect(requestProblems).toEqual([]);
      const answered = sent.filter((c) => c.status >= 200 && c.status < 300);
      expect(answered.length).toBeGreaterThan(20);
      const responseProblems = answered.flatMap((c) =>
        checkResponseAgainstSpec(c).map((p) => `${c.method} ${c.path} ${c.status}: ${p}`),
      );
      expect(responseProblems).toEqual([]);
      // The spec: the password "doesn't appear in this response".
      expect(answered.some((c) => JSON.stringify(c.response ?? {}).includes('password'))).toBe(false);
    },
  );

  it('the checker itself refuses what the spec refuses (a compressed IPv6 block, a body field it lacks)', () => {
    const entry = (cidrBlock: string, extra: Record<string, unknown> = {}) =>
      checkAgainstSpec({
        method: 'POST',
        path: `/api/atlas/v2/groups/${GROUP}/accessList`,
        accept: V2_2023,
        contentType: V2_2023,
        body: [{ cidrBlock, comment: 'x', deleteAfterDate: '2030-01-01T00:00:00Z', ...extra }],
      });
    expect(entry('2001:db8:0:0:0:0:0:1/128')).toEqual([]);
    expect(entry('2001:db8::1/128')).not.toEqual([]);
    expect(entry('203.0.113.9/32', { expiresAt: 'soon' })).toEqual([
      'body[0].expiresAt is not in the schema',
    ]);
  });
});
