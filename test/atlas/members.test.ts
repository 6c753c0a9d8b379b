import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import { MAX_PAGES, PAGE_SIZE, readAllPages } from '../../src/atlas/flavors/paging.js';
import type { AtlasCall, AtlasHttp } from '../../src/atlas/http-client.js';
import type { RateKey } from '../../src/atlas/rate-limiter.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureClient,
  fixtureConfig,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { appErrorOf } from '../support/errors.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };

/** Where each flavor lists and removes members. */
const BASES: Record<AtlasApiFlavor, string> = {
  'atlas-v2': '/api/atlas/v2',
  'atlas-v2-2025': '/api/atlas/v2',
  'cloud-manager': '/api/public/v1.0',
  'ops-manager': '/api/public/v1.0',
  'atlas-v1': '/api/atlas/v1.0',
};
const FLAVORS = Object.keys(BASES) as AtlasApiFlavor[];
const V2: readonly AtlasApiFlavor[] = ['atlas-v2', 'atlas-v2-2025'];

const listPath = (flavor: AtlasApiFlavor, scope: AtlasScope) =>
  `${BASES[flavor]}/${scope.kind === 'org' ? 'orgs' : 'groups'}/${scope.id}/users`;

describe.each(FLAVORS)('Atlas members on %s', (flavor) => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator({
      publicApiProduct: flavor === 'ops-manager' ? 'ops-manager' : 'cloud-manager',
    });
  });

  afterEach(async () => {
    await simulator.close();
  });

  it('lists 1,200 members over 3 pages of 500, each member once with their roles in that scope only', async () => {
    const seeded = simulator.seedUsers(1_200, {
      usernamePrefix: 'Member.Mixed',
      orgRoles: { [FIXTURE.org]: ['ORG_MEMBER', 'ORG_READ_ONLY'] },
      groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
    });
    const client = fixtureClient(simulator, flavor, AUTHS.digest);

    const project = await client.roles.members.listMembers(PROJECT);
    const org = await client.roles.members.listMembers(ORG);
    await client.close();

    const lists = simulator
      .authenticatedCalls()
      .map((c) => `${c.method} ${c.status} ${c.path}`)
      .filter((c) => c.includes('/users?'));
    expect(lists).toEqual(
      [PROJECT, ORG].flatMap((scope) =>
        [1, 2, 3].map((n) => `GET 200 ${listPath(flavor, scope)}?itemsPerPage=500&pageNum=${n}`),
      ),
    );
    const sizes = simulator
      .authenticatedCalls()
      .filter((c) => c.path.includes('/users?'))
      .map((c) => (c.response as { results: unknown[]; totalCount: number }).results.length);
    expect(sizes).toEqual([500, 500, 201, 500, 500, 202]);

    expect(project).toHaveLength(1_201);
    expect(new Set(project.map((m) => m.userId)).size).toBe(1_201);
    expect(project.find((m) => m.userId === FIXTURE.alice.id)).toEqual({
      userId: FIXTURE.alice.id,
      username: FIXTURE.alice.email,
      roles: ['GROUP_READ_ONLY'],
    });
    const byId = new Map(project.map((m) => [m.userId, m]));
    for (const user of seeded) {
      expect(byId.get(user.id)).toEqual({
        userId: user.id,
        username: user.username.toLowerCase(),
        roles: ['GROUP_READ_ONLY'],
      });
    }

    expect(org).toHaveLength(1_202);
    expect(new Set(org.map((m) => m.userId)).size).toBe(1_202);
    expect(org.find((m) => m.userId === FIXTURE.owner.id)?.roles).toEqual(['ORG_OWNER']);
    expect(org.find((m) => m.userId === FIXTURE.alice.id)?.roles).toEqual(['ORG_MEMBER']);
    const seededInOrg = org.filter((m) => m.username.startsWith('member.mixed'));
    expect(seededInOrg).toHaveLength(1_200);
    expect(seededInOrg.every((m) => m.roles.join() === 'ORG_MEMBER,ORG_READ_ONLY')).toBe(true);
  });

  it('removes someone from a project, and a second removal finds them gone without an error', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    await client.roles.members.removeFromProject(FIXTURE.project, FIXTURE.alice.id);
    await client.roles.members.removeFromProject(FIXTURE.project, FIXTURE.alice.id);
    await client.close();

    const deletes = simulator
      .authenticatedCalls()
      .filter((c) => c.method === 'DELETE')
      .map((c) => `${c.status} ${c.path}`);
    const path = `${listPath(flavor, PROJECT)}/${FIXTURE.alice.id}`;
    expect(deletes).toEqual([`204 ${path}`, `404 ${path}`]);
    expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT)).toEqual([]);
    expect(simulator.rolesOf(FIXTURE.alice.email, ORG)).toEqual(['ORG_MEMBER']);
    expect(simulator.timeline(FIXTURE.alice.email, PROJECT).map((t) => t.roles)).toEqual([
      ['GROUP_READ_ONLY'],
      [],
    ]);
  });

  it('refuses ids that are not 24 hex before calling Atlas', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const members = client.roles.members;
    expect((await appErrorOf(() => members.listMembers({ kind: 'project', id: 'payments' }))).code).toBe(
      'ATLAS_INVALID_INPUT',
    );
    expect((await appErrorOf(() => members.removeFromProject(FIXTURE.project, 'alice'))).code).toBe(
      'ATLAS_INVALID_INPUT',
    );
    if (members.removeFromOrg) {
      expect((await appErrorOf(() => members.removeFromOrg?.('acme', FIXTURE.alice.id))).code).toBe(
        'ATLAS_INVALID_INPUT',
      );
    }
    await client.close();
    expect(simulator.calls).toEqual([]);
  });

  if (V2.includes(flavor)) {
    it('leaves pending invitations out of both lists', async () => {
      simulator.invite({
        username: 'invited@example.com',
        orgId: FIXTURE.org,
        orgRoles: ['ORG_MEMBER'],
        groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
      });
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      const org = await client.roles.members.listMembers(ORG);
      const project = await client.roles.members.listMembers(PROJECT);
      await client.close();

      expect(org.map((m) => m.username).sort()).toEqual([FIXTURE.alice.email, FIXTURE.owner.email]);
      expect(project.map((m) => m.username)).toEqual([FIXTURE.alice.email]);
      // Atlas did list the invitation; the client left it out.
      const listed = simulator
        .authenticatedCalls()
        .flatMap((c) => (c.response as { results?: { orgMembershipStatus: string }[] }).results ?? []);
      expect(listed.filter((r) => r.orgMembershipStatus === 'PENDING')).toHaveLength(2);
    });

    it('removes someone from the organization (and so its projects); a second removal is no error', async () => {
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      await client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.alice.id);
      await client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.alice.id);
      await client.close();

      const deletes = simulator
        .authenticatedCalls()
        .filter((c) => c.method === 'DELETE')
        .map((c) => `${c.status} ${c.path} ${c.mediaType}`);
      const path = `/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}`;
      expect(deletes).toEqual([
        `204 ${path} application/vnd.atlas.2025-02-19+json`,
        `404 ${path} application/vnd.atlas.2025-02-19+json`,
      ]);
      expect(simulator.timeline(FIXTURE.alice.email, ORG).map((t) => t.roles)).toEqual([['ORG_MEMBER'], []]);
      expect(simulator.timeline(FIXTURE.alice.email, PROJECT).map((t) => t.roles)).toEqual([
        ['GROUP_READ_ONLY'],
        [],
      ]);
    });

    it('takes back a pending invitation with removeOrgUser', async () => {
      const id = simulator.invite({
        username: 'invited@example.com',
        orgId: FIXTURE.org,
        orgRoles: ['ORG_MEMBER'],
      });
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      await client.roles.members.removeFromOrg?.(FIXTURE.org, id);
      await client.close();
      expect(simulator.invitations()).toEqual([]);
    });

    it('refuses to remove the last owner of the organization, in words, once, until there is another', async () => {
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      const error = await appErrorOf(() =>
        client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.owner.id),
      );
      expect(error.code).toBe('ATLAS_LAST_OWNER');
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(
        'This person is the last owner of the organization, and Atlas keeps at least one. Make someone else an Organization Owner first, then try again. (Atlas CANNOT_DELETE_LAST_ADMIN)',
      );
      expect(error.details.detail).toBe(
        'An organization needs to have at least one owner. You cannot demote or remove the last owner.',
      );
      expect(simulator.authenticatedCalls().map((c) => `${c.method} ${c.status}`)).toEqual(['DELETE 403']);
      expect(simulator.rolesOf(FIXTURE.owner.email, ORG)).toEqual(['ORG_OWNER']);

      simulator.setRoles(FIXTURE.alice.email, ORG, ['ORG_OWNER']);
      await client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.owner.id);
      expect(simulator.rolesOf(FIXTURE.owner.email, ORG)).toEqual([]);
      await client.close();
    });
  } else {
    it('has no removeFromOrg on this flavor', () => {
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      expect(client.roles.members.removeFromOrg).toBeUndefined();
    });

    it('refuses to remove the last owner of a project, in words', async () => {
      simulator.setRoles(FIXTURE.alice.email, PROJECT, ['GROUP_OWNER']);
      const client = fixtureClient(simulator, flavor, AUTHS.digest);
      const error = await appErrorOf(() =>
        client.roles.members.removeFromProject(FIXTURE.project, FIXTURE.alice.id),
      );
      await client.close();
      expect(error.code).toBe('ATLAS_LAST_OWNER');
      expect(error.retryable).toBe(false);
      expect(error.message).toBe(
        'This person is the last owner of the project, and Atlas keeps at least one. Make someone else a Project Owner first, then try again. (Atlas CANNOT_DELETE_LAST_OWNER)',
      );
      expect(simulator.rolesOf(FIXTURE.alice.email, PROJECT)).toEqual(['GROUP_OWNER']);
    });
  }

  it('charges listing and removing to the Atlas users buckets of that org or project, one token per exchange', async () => {
    simulator.seedUsers(600, {
      orgRoles: { [FIXTURE.org]: ['ORG_MEMBER'] },
      groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
    });
    const taken: string[] = [];
    const client = createAtlasClient(fixtureConfig(simulator, flavor, AUTHS.digest), {
      logger: createCapturingLogger().logger,
      rateLimiter: {
        async take(key: RateKey) {
          taken.push(`${key.bucket} ${key.key}`);
        },
      },
    });
    await client.roles.members.listMembers(ORG);
    await client.roles.members.listMembers(PROJECT);
    await client.roles.members.removeFromProject(FIXTURE.project, FIXTURE.alice.id);
    await client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.alice.id);
    await client.close();

    const count = (key: string) => taken.filter((t) => t === key).length;
    // Digest: one challenge for the client's first call (the org list's first page), then one
    // signed exchange, one token, per call: two org pages (and the org removal on v2), two project
    // pages and the project removal.
    const orgTokens = 1 + 2 + (V2.includes(flavor) ? 1 : 0);
    expect(count(`org users-org:${FIXTURE.org}`)).toBe(orgTokens);
    expect(count(`project users-group:${FIXTURE.project}`)).toBe(2 + 1);
    expect(taken).toHaveLength(orgTokens + 3);
    expect(simulator.calls).toHaveLength(taken.length);
    expect(simulator.calls.filter((c) => c.auth === 'none').map((c) => c.path)).toEqual([
      expect.stringContaining(`/orgs/${FIXTURE.org}/users`),
    ]);
  });
});

describe('Atlas members and the server-side rate limits', () => {
  it("meets the project users bucket's 429 on a long project list, while the org list is not held back", async () => {
    const simulator = await startFixtureSimulator({
      rateLimits: {
        org: { capacity: 100, refillPerMinute: 6_000 },
        // The client's Digest challenge and the first two pages: the third page finds it empty.
        project: { capacity: 3, refillPerMinute: 1 },
        user: { capacity: 100, refillPerMinute: 6_000 },
      },
    });
    simulator.seedUsers(1_200, {
      orgRoles: { [FIXTURE.org]: ['ORG_MEMBER'] },
      groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
    });
    const client = createAtlasClient(
      { ...fixtureConfig(simulator, 'atlas-v2-2025', AUTHS.digest), maxRetries: 0 },
      { logger: createCapturingLogger().logger },
    );
    const error = await appErrorOf(() => client.roles.members.listMembers(PROJECT));
    expect(error.code).toBe('ATLAS_UNAVAILABLE');
    expect(error.retryable).toBe(true);
    expect(simulator.calls.filter((c) => c.status === 429).map((c) => c.path)).toEqual([
      `/api/atlas/v2/groups/${FIXTURE.project}/users?itemsPerPage=500&pageNum=3`,
    ]);
    expect(await client.roles.members.listMembers(ORG)).toHaveLength(1_202);
    await client.close();
    await simulator.close();
  });
});

/** An AtlasHttp that answers list calls from `pages(pageNum)` and records the calls. */
function fakeHttp(pages: (pageNum: number) => { id: string }[]) {
  const calls: AtlasCall[] = [];
  const http: AtlasHttp = {
    async send<T>(call: AtlasCall) {
      calls.push(call);
      const results = pages(Number(call.query?.pageNum));
      return { status: 200, body: { results, totalCount: 0 } as T, headers: {} };
    },
    async close() {},
  };
  return { http, calls };
}

const ids = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: (from + i).toString(16).padStart(24, '0') }));

const LIST = {
  path: `/api/atlas/v2/groups/${FIXTURE.project}/users`,
  mediaType: 'application/vnd.atlas.2025-02-19+json',
  operation: 'listing the members of the project',
};

describe('reading every page', () => {
  it('stops at an empty page after full ones', async () => {
    const { http, calls } = fakeHttp((n) => (n === 1 ? ids(0, PAGE_SIZE) : []));
    expect(await readAllPages(http, LIST, (u: { id: string }) => u.id)).toHaveLength(PAGE_SIZE);
    expect(calls.map((c) => c.query)).toEqual([
      { itemsPerPage: '500', pageNum: '1' },
      { itemsPerPage: '500', pageNum: '2' },
    ]);
    expect(calls.every((c) => c.method === 'GET')).toBe(true);
  });

  it('keeps an entry that a shifting list sends twice only once', async () => {
    const { http } = fakeHttp((n) => (n === 1 ? ids(0, PAGE_SIZE) : n === 2 ? ids(PAGE_SIZE - 3, 10) : []));
    const items = await readAllPages(http, LIST, (u: { id: string }) => u.id);
    expect(items).toHaveLength(PAGE_SIZE + 7);
    expect(new Set(items.map((u) => u.id)).size).toBe(PAGE_SIZE + 7);
  });

  it('gives up with an error when the server sends the same full page again', async () => {
    const { http, calls } = fakeHttp(() => ids(0, PAGE_SIZE));
    const error = await appErrorOf(() => readAllPages(http, LIST, (u: { id: string }) => u.id));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('page 2 while listing the members of the project');
    expect(calls).toHaveLength(2);
  });

  it(`gives up with an error after ${MAX_PAGES} full pages rather than read forever`, async () => {
    const { http, calls } = fakeHttp((n) => ids(n * PAGE_SIZE, PAGE_SIZE));
    const error = await appErrorOf(() => readAllPages(http, LIST, (u: { id: string }) => u.id));
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain(`after ${MAX_PAGES} pages of ${PAGE_SIZE}`);
    expect(error.retryable).toBe(false);
    expect(calls).toHaveLength(MAX_PAGES);
  });

  it('gives up when Atlas itself ignores pageNum (the simulator answering page 1 every time)', async () => {
    const simulator = await startFixtureSimulator();
    const page = ids(1, PAGE_SIZE).map((u, i) => ({
      id: u.id,
      username: `same${i}@example.com`,
      orgMembershipStatus: 'ACTIVE',
      roles: ['GROUP_READ_ONLY'],
    }));
    simulator.inject({ method: 'GET', path: /\/users$/, status: 200, body: { results: page }, times: 10 });
    const client = fixtureClient(simulator, 'atlas-v2-2025', AUTHS.digest);
    const error = await appErrorOf(() => client.roles.members.listMembers(PROJECT));
    expect(error.code).toBe('INTERNAL');
    expect(simulator.authenticatedCalls()).toHaveLength(2);
    await client.close();
    await simulator.close();
  });
});

describe("the simulator's member lists", () => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startFixtureSimulator();
    simulator.seedUsers(250, { groupRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] } });
  });

  afterEach(async () => {
    await simulator.close();
  });

  const list = (query: Record<string, string>, mediaType = 'application/vnd.atlas.2025-02-19+json') => {
    const { http } = fixtureHttp(simulator);
    return http
      .send<{ results: { username: string }[]; totalCount?: number; links: { rel: string; href: string }[] }>(
        {
          method: 'GET',
          path: `/api/atlas/v2/groups/${FIXTURE.project}/users`,
          query,
          mediaType,
          operation: 'listing',
        },
      )
      .finally(() => http.close());
  };

  it('pages like Atlas: 100 by default, totalCount, links to the pages around, nothing past the end', async () => {
    const first = await list({});
    expect(first.body.results).toHaveLength(100);
    expect(first.body.totalCount).toBe(251);
    expect(first.body.links.map((l) => l.rel)).toEqual(['self', 'next']);
    expect(first.body.links[1]?.href).toBe(
      `${simulator.url}/api/atlas/v2/groups/${FIXTURE.project}/users?pageNum=2&itemsPerPage=100`,
    );
    const last = await list({ itemsPerPage: '100', pageNum: '3' });
    expect(last.body.results).toHaveLength(51);
    expect(last.body.links.map((l) => l.rel)).toEqual(['previous', 'self']);
    expect((await list({ itemsPerPage: '100', pageNum: '4' })).body.results).toEqual([]);
    expect((await list({ includeCount: 'false' })).body.totalCount).toBeUndefined();
    const pages = [1, 2, 3].map((n) => list({ itemsPerPage: '100', pageNum: String(n) }));
    const names = (await Promise.all(pages)).flatMap((p) => p.body.results.map((r) => r.username));
    expect(new Set(names).size).toBe(251);
  });

  it('filters by username', async () => {
    const one = await list({ username: 'member7@example.com' });
    expect(one.body.results.map((r) => r.username)).toEqual(['member7@example.com']);
  });

  it.each([
    [{ itemsPerPage: '501' }, 'INVALID_PARAMETER'],
    [{ itemsPerPage: '0' }, 'INVALID_PARAMETER'],
    [{ pageNum: '0' }, 'INVALID_PARAMETER'],
    [{ pageNum: 'two' }, 'INVALID_PARAMETER'],
    [{ orgMembershipStatuses: 'GONE' }, 'INVALID_ENUM_VALUE'],
    [{ includeOrgUsers: 'true' }, 'INVALID_PARAMETER'],
  ])('refuses %o with 400 %s', async (query, errorCode) => {
    const error = await appErrorOf(() => list(query));
    expect(error.details).toMatchObject({ status: 400, errorCode });
  });

  it('checks the media type: 2025-02-19 on v2, JSON on v1.0', async () => {
    const error = await appErrorOf(() => list({}, 'application/vnd.atlas.2023-01-01+json'));
    expect(error.details).toMatchObject({ status: 406 });
    const { http } = fixtureHttp(simulator);
    const v1 = await appErrorOf(() =>
      http.send({
        method: 'GET',
        path: `/api/public/v1.0/groups/${FIXTURE.project}/users`,
        mediaType: 'application/vnd.atlas.2025-02-19+json',
        operation: 'listing',
      }),
    );
    expect(v1.details).toMatchObject({ status: 406 });
    await http.close();
  });
});
