import { describe, expect, it } from 'vitest';
import type { AtlasApiFlavor } from '../../src/config.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import { AUTHS, FIXTURE, fixtureClient, startFixtureSimulator } from '../support/atlas-fixture.js';
import { checkAgainstSpec } from '../support/openapi-contract.js';

const SCOPES: AtlasScope[] = [
  { kind: 'org', id: FIXTURE.org },
  { kind: 'project', id: FIXTURE.project },
];
const ADD = { org: 'ORG_READ_ONLY', project: 'GROUP_DATA_ACCESS_READ_ONLY' } as const;

describe('Atlas v2 requests against the official OpenAPI spec', () => {
  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'every request %s sends (read, grant, swap, revoke, in both scopes) conforms',
    async (flavor) => {
      const simulator = await startFixtureSimulator();
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      for (const scope of SCOPES) {
        const user = await client.roles.readUser(FIXTURE.alice.email, scope);
        const added = [...user.roles, ADD[scope.kind]];
        await client.roles.setRoles(scope, user.userId, user.roles, added);
        await client.roles.setRoles(scope, user.userId, added, [ADD[scope.kind]]);
        await client.roles.setRoles(scope, user.userId, [ADD[scope.kind]], user.roles);
      }
      await client.close();
      await simulator.close();

      const sent = simulator.calls.filter((c) => c.path.startsWith('/api/atlas/v2/'));
      expect(sent.length).toBeGreaterThanOrEqual(flavor === 'atlas-v2' ? 16 : 20);
      const operations = new Set(
        sent.map((c) => `${c.method} ${c.path.replace(/[a-f0-9]{24}/g, '{id}').split('?')[0]}`),
      );
      expect(operations.size).toBeGreaterThanOrEqual(flavor === 'atlas-v2' ? 3 : 6);
      const problems = sent.flatMap((c) => checkAgainstSpec(c).map((p) => `${c.method} ${c.path}: ${p}`));
      expect(problems).toEqual([]);
    },
  );

  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'temporary project membership on %s (status, addGroupUsers, removeGroupUser) conforms, in version 2025-02-19',
    async (flavor) => {
      const simulator = await startFixtureSimulator();
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      const membership = client.roles.projectMembership;
      expect(membership).toBeDefined();
      const project: AtlasScope = { kind: 'project', id: FIXTURE.project };
      expect(await membership?.orgStatus(FIXTURE.owner.email, FIXTURE.project)).toBe('ACTIVE');
      expect((await client.roles.readUser(FIXTURE.owner.email, project)).roles).toEqual([]);
      await membership?.addToProject(FIXTURE.project, FIXTURE.owner.email, ['GROUP_READ_ONLY']);
      expect(simulator.rolesOf(FIXTURE.owner.email, project)).toEqual(['GROUP_READ_ONLY']);
      await membership?.addToProject(FIXTURE.project, FIXTURE.owner.email, ['GROUP_READ_ONLY']);
      await membership?.removeFromProject(FIXTURE.project, FIXTURE.owner.id);
      await membership?.removeFromProject(FIXTURE.project, FIXTURE.owner.id);
      expect(simulator.rolesOf(FIXTURE.owner.email, project)).toEqual([]);
      await client.close();
      await simulator.close();

      const sent = simulator.authenticatedCalls().filter((c) => c.path.startsWith('/api/atlas/v2/'));
      const writes = sent.filter((c) => c.method === 'POST' || c.method === 'DELETE');
      expect(writes.map((c) => `${c.method} ${c.status} ${c.mediaType}`)).toEqual([
        'POST 201 application/vnd.atlas.2025-02-19+json',
        'POST 409 application/vnd.atlas.2025-02-19+json',
        'DELETE 204 application/vnd.atlas.2025-02-19+json',
        'DELETE 404 application/vnd.atlas.2025-02-19+json',
      ]);
      expect(writes[0]?.body).toEqual({ username: FIXTURE.owner.email, roles: ['GROUP_READ_ONLY'] });
      const problems = sent.flatMap((c) => checkAgainstSpec(c).map((p) => `${c.method} ${c.path}: ${p}`));
      expect(problems).toEqual([]);
    },
  );

  it('fails requests the spec rejects, so the check has teeth', () => {
    const put = {
      method: 'PUT',
      path: `/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}/roles`,
      accept: 'application/vnd.atlas.2023-01-01+json',
      contentType: 'application/vnd.atlas.2023-01-01+json',
      body: { orgRoles: ['ORG_MEMBER'] },
    };
    expect(checkAgainstSpec(put)).toEqual([]);
    expect(checkAgainstSpec({ ...put, body: { orgRoles: ['ORG_ADMIN'] } }).join()).toContain(
      'must be equal to one of the allowed values',
    );
    expect(checkAgainstSpec({ ...put, body: { orgRoles: ['ORG_MEMBER'], groupRoles: [] } })).toEqual([
      'body.groupRoles is not in the schema',
    ]);
    expect(
      checkAgainstSpec({ ...put, contentType: 'application/json', accept: 'application/json' }).join(),
    ).toContain('Content-Type application/json is not one of application/vnd.atlas.2023-01-01+json');
    expect(
      checkAgainstSpec({ ...put, path: `/api/atlas/v2/orgs/acme/users/${FIXTURE.alice.id}/roles` }).join(),
    ).toContain('path parameter orgId="acme"');
    expect(checkAgainstSpec({ ...put, method: 'PATCH' })).toEqual([
      'PATCH is not an operation of /api/atlas/v2/orgs/{orgId}/users/{userId}/roles',
    ]);
    expect(
      checkAgainstSpec({
        method: 'GET',
        path: `/api/atlas/v2/orgs/${FIXTURE.org}/users?username=not-an-email`,
        accept: 'application/vnd.atlas.2025-02-19+json',
        contentType: undefined,
        body: undefined,
      }).join(),
    ).toContain('query parameter username="not-an-email"');
    expect(
      checkAgainstSpec({
        method: 'POST',
        path: `/api/atlas/v2/groups/${FIXTURE.project}/users`,
        accept: 'application/vnd.atlas.2025-02-19+json',
        contentType: 'application/vnd.atlas.2025-02-19+json',
        body: { username: FIXTURE.owner.email, roles: [] },
      }).join(),
    ).toContain('must NOT have fewer than 1 items');
  });
});
