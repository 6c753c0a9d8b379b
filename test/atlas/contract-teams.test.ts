import { describe, expect, it } from 'vitest';
import type { RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import { createAtlasClient } from '../../src/atlas/create-atlas-client.js';
import {
  AUTHS,
  createCapturingLogger,
  FIXTURE,
  fixtureConfig,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { defined } from '../support/defined.js';
import { checkAgainstSpec, checkResponseAgainstSpec } from '../support/openapi-contract.js';

const TEAMS = ['7e0000000000000000000001', '7e0000000000000000000002', '7e0000000000000000000003'];

/**
 * What the spec says is wrong with each call's request and each 2xx answer. The answers of getUserByName
 * are left out: the core simulator's `CloudAppUser` has no profile fields (country, mobileNumber, …) and
 * the checker also asks for its write-only `password`; only its `teamIds` are checked, by the tests.
 */
function problemsOf(calls: readonly RecordedAtlasCall[]): { requests: string[]; answers: string[] } {
  return {
    requests: calls.flatMap((c) => checkAgainstSpec(c).map((p) => `${c.method} ${c.path}: ${p}`)),
    answers: calls
      .filter((c) => !c.path.includes('/users/byName/'))
      .flatMap((c) => checkResponseAgainstSpec(c).map((p) => `${c.method} ${c.path} ${c.status}: ${p}`)),
  };
}

describe('Atlas v2 team calls against the official OpenAPI spec', () => {
  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'every team call %s sends conforms, and so does every answer: pages, add, add again, remove, remove again, a pending member',
    async (flavor) => {
      const simulator = await startFixtureSimulator({
        teams: TEAMS.map((id, n) => ({
          id,
          name: `team-${n + 1}`,
          orgId: FIXTURE.org,
          projectRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY'] },
        })),
      });
      const invited = simulator.invite({ username: 'invited@example.com', orgId: FIXTURE.org });
      // Pages of one team, so that listOrgTeams and listGroupTeams are read over three pages each.
      const client = createAtlasClient(
        { ...fixtureConfig(simulator, flavor, AUTHS.digest), pageSize: 1 },
        { logger: createCapturingLogger().logger, backoff: { baseMs: 10, capMs: 50 } },
      );
      const teams = defined(client.roles.teams);
      expect((await teams.listTeams(FIXTURE.org)).map((t) => t.id)).toEqual(TEAMS);
      expect((await teams.projectTeams(FIXTURE.project)).map((t) => t.teamId)).toEqual(TEAMS);
      const [first, second] = TEAMS as [string, string];
      expect(await teams.addMember(FIXTURE.org, first, FIXTURE.alice.id)).toEqual({ changed: true });
      expect((await teams.addMember(FIXTURE.org, first, FIXTURE.alice.id)).changed).toBe(false);
      expect(await teams.addMember(FIXTURE.org, second, invited)).toEqual({ changed: true });
      expect(
        (await client.roles.readUser(FIXTURE.alice.email, { kind: 'org', id: FIXTURE.org })).teamIds,
      ).toEqual([first]);
      const members = await client.roles.members.listMembers({ kind: 'org', id: FIXTURE.org });
      expect(members.find((m) => m.userId === FIXTURE.alice.id)?.teamIds).toEqual([first]);
      expect(await teams.removeMember(FIXTURE.org, first, FIXTURE.alice.id)).toEqual({ changed: true });
      expect((await teams.removeMember(FIXTURE.org, first, FIXTURE.alice.id)).changed).toBe(false);
      await client.close();
      await simulator.close();

      const sent = simulator.authenticatedCalls().filter((c) => c.path.startsWith('/api/atlas/v2/'));
      const teamCalls = sent
        .filter((c) => c.path.includes('/teams'))
        .map((c) => `${c.method} ${c.status} ${c.mediaType} ${c.path.replaceAll(/[a-f0-9]{24}/g, '{id}')}`);
      const V2023 = 'application/vnd.atlas.2023-01-01+json';
      const V2025 = 'application/vnd.atlas.2025-02-19+json';
      expect(teamCalls).toEqual([
        ...[1, 2, 3, 4].map(
          (n) => `GET 200 ${V2023} /api/atlas/v2/orgs/{id}/teams?itemsPerPage=1&pageNum=${n}`,
        ),
        ...[1, 2, 3, 4].map(
          (n) => `GET 200 ${V2023} /api/atlas/v2/groups/{id}/teams?itemsPerPage=1&pageNum=${n}`,
        ),
        `POST 200 ${V2025} /api/atlas/v2/orgs/{id}/teams/{id}:addUser`,
        `POST 409 ${V2025} /api/atlas/v2/orgs/{id}/teams/{id}:addUser`,
        `POST 200 ${V2025} /api/atlas/v2/orgs/{id}/teams/{id}:addUser`,
        // The client's read names Alice's teams as items (team:NAME): the organization's teams, read once.
        ...[1, 2, 3, 4].map(
          (n) => `GET 200 ${V2023} /api/atlas/v2/orgs/{id}/teams?itemsPerPage=1&pageNum=${n}`,
        ),
        `POST 200 ${V2025} /api/atlas/v2/orgs/{id}/teams/{id}:removeUser`,
        `POST 404 ${V2025} /api/atlas/v2/orgs/{id}/teams/{id}:removeUser`,
      ]);
      // The refused removal asked getOrgUser (2025-02-19) whether Alice is still in the team.
      expect(sent.at(-1)?.path).toBe(`/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}`);
      const { requests, answers } = problemsOf(sent);
      expect(requests).toEqual([]);
      expect(answers).toEqual([]);
      // The answers carried what the spec's schemas name: a pending member's OrgUserResponse with its team.
      const pendingAnswer = sent.find(
        (c) => c.path.endsWith(':addUser') && (c.body as { id?: string }).id === invited,
      )?.response;
      expect(pendingAnswer).toMatchObject({ orgMembershipStatus: 'PENDING', teamIds: [second] });
    },
  );

  it('the simulator answers the v2 team calls as the spec says, asked directly (one page, every team, a deleted user)', async () => {
    const simulator = await startFixtureSimulator({
      teams: [
        {
          id: defined(TEAMS[0]),
          name: 'payments-oncall',
          orgId: FIXTURE.org,
          members: [FIXTURE.alice.email, FIXTURE.owner.email],
          projectRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER'] },
        },
      ],
    });
    const { http } = fixtureHttp(simulator);
    const V2023 = 'application/vnd.atlas.2023-01-01+json';
    const V2025 = 'application/vnd.atlas.2025-02-19+json';
    await http.send({
      method: 'GET',
      path: `/api/atlas/v2/orgs/${FIXTURE.org}/teams`,
      mediaType: V2023,
      operation: 'x',
    });
    await http.send({
      method: 'GET',
      path: `/api/atlas/v2/groups/${FIXTURE.project}/teams`,
      query: { includeCount: 'false' },
      mediaType: V2023,
      operation: 'x',
    });
    await http.send({
      method: 'GET',
      path: `/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.owner.id}`,
      mediaType: V2025,
      operation: 'x',
    });
    await http.send({
      method: 'GET',
      path: `/api/atlas/v2/users/byName/${encodeURIComponent(FIXTURE.alice.email)}`,
      mediaType: V2023,
      operation: 'x',
    });
    simulator.deleteUser(FIXTURE.alice.email);
    await http.send({
      method: 'POST',
      path: `/api/atlas/v2/orgs/${FIXTURE.org}/teams/${TEAMS[0]}:removeUser`,
      body: { id: FIXTURE.owner.id },
      mediaType: V2025,
      operation: 'x',
    });
    await http.close();
    await simulator.close();

    const sent = simulator.authenticatedCalls();
    expect(sent.map((c) => c.status)).toEqual([200, 200, 200, 200, 200]);
    const { requests, answers } = problemsOf(sent);
    expect(requests).toEqual([]);
    expect(answers).toEqual([]);
    expect(sent[1]?.response).toEqual({
      links: [expect.objectContaining({ rel: 'self' })],
      results: [{ teamId: TEAMS[0], roleNames: ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER'], links: [] }],
    });
    expect(sent[2]?.response).toMatchObject({ teamIds: [TEAMS[0]] });
    expect(sent[3]?.response).toMatchObject({ teamIds: [TEAMS[0]] });
    // Alice's account went, and with it her place in the team; the owner's removal leaves nobody.
    expect(sent[4]?.response).toMatchObject({ id: FIXTURE.owner.id, teamIds: [] });
    expect(simulator.teamMembers(defined(TEAMS[0]))).toEqual([]);
  });
});
