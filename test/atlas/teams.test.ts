import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import { freePort } from '../../dev/local-redis.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import { createTeamsV1Api } from '../../src/atlas/flavors/teams-v1.js';
import { createTeamsV2Api } from '../../src/atlas/flavors/teams-v2.js';
import { rateKeyOf } from '../../src/atlas/rate-limiter.js';
import type { AtlasTeamsApi } from '../../src/atlas/teams-api.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import {
  AUTHS,
  FIXTURE,
  fixtureClient,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { startAtlasGateway } from '../support/atlas-gateway.js';
import { defined } from '../support/defined.js';
import { appErrorOf } from '../support/errors.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };
const ONCALL = '7e0000000000000000000001';
const AUDITORS = '7e0000000000000000000002';
const NO_SUCH_TEAM = '7e00000000000000000000ff';

/** Where each flavor sends its team calls. */
const BASES: Record<AtlasApiFlavor, string> = {
  'atlas-v2': '/api/atlas/v2',
  'atlas-v2-2025': '/api/atlas/v2',
  'cloud-manager': '/api/public/v1.0',
  'ops-manager': '/api/public/v1.0',
  'atlas-v1': '/api/atlas/v1.0',
};
const FLAVORS = Object.keys(BASES) as AtlasApiFlavor[];
const V2: readonly AtlasApiFlavor[] = ['atlas-v2', 'atlas-v2-2025'];

/** Two teams of the fixture org: the owner on call (with a project role), nobody among the auditors. */
function startTeamsSimulator(flavor: AtlasApiFlavor): Promise<AtlasSimulator> {
  return startFixtureSimulator({
    publicApiProduct: flavor === 'ops-manager' ? 'ops-manager' : 'cloud-manager',
    teams: [
      {
        id: ONCALL,
        name: 'payments-oncall',
        orgId: FIXTURE.org,
        members: [FIXTURE.owner.email],
        projectRoles: { [FIXTURE.project]: ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER'] },
      },
      { id: AUDITORS, name: 'auditors', orgId: FIXTURE.org },
    ],
  });
}

describe.each(FLAVORS)('Atlas teams on %s', (flavor) => {
  let simulator: AtlasSimulator;

  beforeEach(async () => {
    simulator = await startTeamsSimulator(flavor);
  });

  afterEach(async () => {
    await simulator.close();
  });

  it('lists the teams of the organization and the teams of a project with their roles', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    expect(await teams.listTeams(FIXTURE.org)).toEqual([
      { id: ONCALL, name: 'payments-oncall' },
      { id: AUDITORS, name: 'auditors' },
    ]);
    expect(await teams.projectTeams(FIXTURE.project)).toEqual([
      { teamId: ONCALL, roles: ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER'] },
    ]);
    await client.close();
    const paths = simulator.authenticatedCalls().map((c) => `${c.method} ${c.path.split('?')[0]}`);
    expect(paths).toEqual([
      `GET ${BASES[flavor]}/orgs/${FIXTURE.org}/teams`,
      `GET ${BASES[flavor]}/groups/${FIXTURE.project}/teams`,
    ]);
  });

  it('adds a member, says "already" when added again, removes them, says "already" when removed again', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    expect(await teams.addMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({ changed: true });
    expect(simulator.teamMembers(AUDITORS)).toEqual([FIXTURE.alice.email]);
    expect(await teams.addMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({
      changed: false,
      afterLostAnswer: false,
    });
    expect(await teams.removeMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({ changed: true });
    expect(await teams.removeMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({
      changed: false,
      afterLostAnswer: false,
    });
    await client.close();
    expect(simulator.teamMembers(AUDITORS)).toEqual([]);
    expect(simulator.teamTimeline(AUDITORS, FIXTURE.alice.email).map((t) => t.member)).toEqual([
      false,
      true,
      false,
    ]);
    const writes = simulator
      .authenticatedCalls()
      .filter((c) => c.method !== 'GET')
      .map((c) => `${c.method} ${c.status} ${c.path.replaceAll(/[a-f0-9]{24}/g, '{id}')}`);
    const v2 = BASES[flavor] === '/api/atlas/v2';
    expect(writes).toEqual(
      v2
        ? [
            'POST 200 /api/atlas/v2/orgs/{id}/teams/{id}:addUser',
            'POST 409 /api/atlas/v2/orgs/{id}/teams/{id}:addUser',
            'POST 200 /api/atlas/v2/orgs/{id}/teams/{id}:removeUser',
            'POST 404 /api/atlas/v2/orgs/{id}/teams/{id}:removeUser',
          ]
        : [
            `POST 200 ${BASES[flavor]}/orgs/{id}/teams/{id}/users`,
            `POST 409 ${BASES[flavor]}/orgs/{id}/teams/{id}/users`,
            `DELETE 204 ${BASES[flavor]}/orgs/{id}/teams/{id}/users/{id}`,
            `DELETE 404 ${BASES[flavor]}/orgs/{id}/teams/{id}/users/{id}`,
          ],
    );
    const bodies = simulator
      .authenticatedCalls()
      .filter((c) => c.method === 'POST')
      .map((c) => c.body);
    expect(bodies[0]).toEqual(v2 ? { id: FIXTURE.alice.id } : [{ id: FIXTURE.alice.id }]);
  });

  it('reads the team ids with the roles on the organization (no extra call), and none on a project', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const before = await client.roles.readUser(FIXTURE.owner.email, ORG);
    expect(before.teamIds).toEqual([ONCALL]);
    simulator.setTeamMembers(AUDITORS, [FIXTURE.owner.email]);
    // A second read (by id on atlas-v2-2025) sees the change made by hand.
    const after = await client.roles.readUser(FIXTURE.owner.email, ORG);
    expect(new Set(after.teamIds)).toEqual(new Set([ONCALL, AUDITORS]));
    expect((await client.roles.readUser(FIXTURE.alice.email, PROJECT)).teamIds).toBeUndefined();
    expect((await client.roles.readUser(FIXTURE.alice.email, ORG)).teamIds).toEqual([]);
    await client.close();
    // One call per read (atlas-v1 and the PUT flavors read by name, atlas-v2-2025 lists then reads by id),
    // and one list of the organization's teams, read once for the items' names.
    expect(simulator.authenticatedCalls()).toHaveLength(5);
    expect(
      simulator.authenticatedCalls().filter((c) => /\/orgs\/[^/]+\/teams$/.test(c.path.split('?')[0] ?? '')),
    ).toHaveLength(1);
  });

  it("lists the members of the organization with their team ids, and a project's without", async () => {
    simulator.setTeamMembers(AUDITORS, [FIXTURE.alice.email, FIXTURE.owner.email]);
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const org = await client.roles.members.listMembers(ORG);
    const project = await client.roles.members.listMembers(PROJECT);
    await client.close();
    const teamsOf = (email: string) => org.find((m) => m.username === email)?.teamIds;
    expect(teamsOf(FIXTURE.alice.email)).toEqual([AUDITORS]);
    expect(new Set(teamsOf(FIXTURE.owner.email))).toEqual(new Set([ONCALL, AUDITORS]));
    expect(project.map((m) => m.teamIds)).toEqual([undefined]);
  });

  it('fails in words for a team that does not exist, and never calls a missing team "already done"', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    const added = await appErrorOf(() => teams.addMember(FIXTURE.org, NO_SUCH_TEAM, FIXTURE.alice.id));
    expect(added.code).toBe('ATLAS_REJECTED');
    expect(added.message).toMatch(
      /team does not exist in this Atlas organization.*\(Atlas TEAM_NOT_FOUND\)$/,
    );
    const removed = await appErrorOf(() => teams.removeMember(FIXTURE.org, NO_SUCH_TEAM, FIXTURE.alice.id));
    expect(removed.details.errorCode).toBe('TEAM_NOT_FOUND');
    await client.close();
  });

  it('fails in words for someone outside the organization, whose removal is "already done"', async () => {
    const [outsider] = simulator.seedUsers(1, { usernamePrefix: 'outsider' });
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    const refused = await appErrorOf(() => teams.addMember(FIXTURE.org, AUDITORS, defined(outsider).id));
    expect(refused.code).toBe('ATLAS_NOT_A_MEMBER');
    expect(refused.message).toMatch(/not a member of this organization\. \(Atlas USER_NOT_IN_ORG\)$/);
    expect(await teams.removeMember(FIXTURE.org, AUDITORS, defined(outsider).id)).toEqual({
      changed: false,
      afterLostAnswer: false,
    });
    await client.close();
  });

  it('checks every id before it reaches a path', async () => {
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    const cases: [() => Promise<unknown>, string][] = [
      [() => teams.listTeams('acme'), 'orgId "acme"'],
      [() => teams.projectTeams('../users'), 'groupId "../users"'],
      [() => teams.addMember(FIXTURE.org, 'oncall', FIXTURE.alice.id), 'teamId "oncall"'],
      [() => teams.removeMember(FIXTURE.org, AUDITORS, 'alice@example.com'), 'userId "alice@example.com"'],
      [() => teams.removeMember('ORG', AUDITORS, FIXTURE.alice.id), 'orgId "ORG"'],
    ];
    for (const [run, words] of cases) {
      const error = await appErrorOf(run);
      expect(error.code).toBe('ATLAS_INVALID_INPUT');
      expect(error.message).toContain(words);
    }
    await client.close();
    expect(simulator.calls).toHaveLength(0);
  });

  it('takes the person out of every team of the organization when they leave it or their account goes', async () => {
    simulator.setTeamMembers(AUDITORS, [FIXTURE.alice.email]);
    simulator.setRoles(FIXTURE.alice.email, ORG, []);
    expect(simulator.teamMembers(AUDITORS)).toEqual([]);
    simulator.deleteUser(FIXTURE.owner.email);
    expect(simulator.teamMembers(ONCALL)).toEqual([]);
    expect(simulator.teamTimeline(ONCALL, FIXTURE.owner.email).map((t) => t.member)).toEqual([true, false]);
    expect(simulator.teamTimeline(AUDITORS, FIXTURE.alice.email).map((t) => t.member)).toEqual([
      false,
      true,
      false,
    ]);
  });
});

describe.each(V2)('Atlas teams and pending members on %s', (flavor) => {
  it('adds and removes someone whose invitation is pending (2025-02-19 takes them), answered with their OrgUserResponse', async () => {
    const simulator = await startTeamsSimulator(flavor);
    const invited = simulator.invite({ username: 'invited@example.com', orgId: FIXTURE.org });
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const teams = defined(client.roles.teams);
    expect(await teams.addMember(FIXTURE.org, AUDITORS, invited)).toEqual({ changed: true });
    expect(simulator.teamMembers(AUDITORS)).toEqual(['invited@example.com']);
    const answer = simulator.authenticatedCalls().at(-1)?.response as Record<string, unknown>;
    expect(answer).toMatchObject({ id: invited, orgMembershipStatus: 'PENDING', teamIds: [AUDITORS] });
    expect(await teams.removeMember(FIXTURE.org, AUDITORS, invited)).toEqual({ changed: true });
    await client.close();
    await simulator.close();
  });

  it('refuses someone whose invitation was rejected with USER_NOT_IN_ORG, as the spec says', async () => {
    const simulator = await startTeamsSimulator(flavor);
    const rejected = simulator.invite({
      username: 'declined@example.com',
      orgId: FIXTURE.org,
      status: 'INVITATION_REJECTED',
    });
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const error = await appErrorOf(() =>
      defined(client.roles.teams).addMember(FIXTURE.org, AUDITORS, rejected),
    );
    expect(error.details.errorCode).toBe('USER_NOT_IN_ORG');
    await client.close();
    await simulator.close();
  });

  it('leaves the team when removeOrgUser takes the person out of the organization', async () => {
    const simulator = await startTeamsSimulator(flavor);
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    await defined(client.roles.teams).addMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id);
    await client.roles.members.removeFromOrg?.(FIXTURE.org, FIXTURE.alice.id);
    expect(simulator.teamMembers(AUDITORS)).toEqual([]);
    await client.close();
    await simulator.close();
  });
});

describe.each(FLAVORS.filter((f) => !V2.includes(f)))('Atlas teams and pending members on %s', (flavor) => {
  it('refuses someone whose invitation is pending, in words (the v1.0 calls take active members only)', async () => {
    const simulator = await startTeamsSimulator(flavor);
    const invited = simulator.invite({ username: 'invited@example.com', orgId: FIXTURE.org });
    const client = fixtureClient(simulator, flavor, AUTHS.digest);
    const error = await appErrorOf(() =>
      defined(client.roles.teams).addMember(FIXTURE.org, AUDITORS, invited),
    );
    expect(error.code).toBe('ATLAS_NOT_A_MEMBER');
    expect(error.message).toMatch(
      /has not accepted the invitation.*teams.*\(Atlas CANNOT_ADD_PENDING_USER\)$/,
    );
    expect(simulator.teamMembers(AUDITORS)).toEqual([]);
    await client.close();
    await simulator.close();
  });
});

describe('Atlas team changes whose answer was lost', () => {
  let simulator: AtlasSimulator;
  beforeEach(async () => {
    simulator = await startTeamsSimulator('atlas-v2-2025');
  });
  afterEach(async () => {
    await simulator.close();
  });

  /** The v2 and v1.0 team calls through a gateway that can lose Atlas's answers (test/support/atlas-gateway.ts). */
  const apis = async () => {
    const port = await freePort();
    const gateway = await startAtlasGateway(Number(new URL(simulator.url).port), port);
    const { http } = fixtureHttp(simulator, { baseUrl: `http://127.0.0.1:${port}` });
    const v2: AtlasTeamsApi = createTeamsV2Api(http);
    const v1: AtlasTeamsApi = createTeamsV1Api(http, {
      base: '/api/public/v1.0',
      readRole: { org: 'Organization Read Only', project: 'Project Read Only' },
      writeRole: 'Organization Owner',
    });
    const close = async () => {
      await http.close();
      await gateway.close();
    };
    return { v2, v1, gateway, close };
  };

  it('says a landed :addUser whose answer was lost is "already", after a lost answer', async () => {
    const { v2, gateway, close } = await apis();
    gateway.lose(/:addUser$/);
    expect(await v2.addMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({
      changed: false,
      afterLostAnswer: true,
    });
    expect(simulator.teamMembers(AUDITORS)).toEqual([FIXTURE.alice.email]);
    await close();
  });

  it('says a landed removal whose answer was lost is "already" once Atlas confirms the person is out', async () => {
    simulator.setTeamMembers(AUDITORS, [FIXTURE.alice.email]);
    const { v2, v1, gateway, close } = await apis();
    gateway.lose(/:removeUser$/);
    expect(await v2.removeMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({
      changed: false,
      afterLostAnswer: true,
    });
    simulator.setTeamMembers(AUDITORS, [FIXTURE.alice.email]);
    gateway.lose(/\/teams\/[a-f0-9]{24}\/users\//, { method: 'DELETE' });
    expect(await v1.removeMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id)).toEqual({
      changed: false,
      afterLostAnswer: true,
    });
    expect(simulator.teamMembers(AUDITORS)).toEqual([]);
    await close();
  });

  it('throws a refused removal when Atlas says the person is still in the team', async () => {
    simulator.setTeamMembers(AUDITORS, [FIXTURE.alice.email]);
    const { v2, close } = await apis();
    const refusal = { detail: 'Cannot find resource x.', error: 404, errorCode: 'RESOURCE_NOT_FOUND' };
    simulator.inject({ method: 'POST', path: /:removeUser$/, status: 404, body: refusal });
    const error = await appErrorOf(() => v2.removeMember(FIXTURE.org, AUDITORS, FIXTURE.alice.id));
    expect(error.details).toMatchObject({ status: 404, errorCode: 'RESOURCE_NOT_FOUND' });
    expect(simulator.teamMembers(AUDITORS)).toEqual([FIXTURE.alice.email]);
    // It asked once (getOrgUser's teamIds) before throwing.
    const reads = simulator.authenticatedCalls().filter((c) => c.method === 'GET');
    expect(reads.map((c) => c.path)).toEqual([`/api/atlas/v2/orgs/${FIXTURE.org}/users/${FIXTURE.alice.id}`]);
    await close();
  });
});

describe('Atlas rate buckets of the team calls', () => {
  it('counts /orgs/{id}/teams… against the organization (Teams, NOTES.md section 9) and /groups/{id}/teams against the project', () => {
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/teams/${AUDITORS}:addUser`)).toEqual({
      key: `teams-org:${FIXTURE.org}`,
      bucket: 'org',
    });
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/teams`).key).toBe(`teams-org:${FIXTURE.org}`);
    expect(
      rateKeyOf(`/api/public/v1.0/orgs/${FIXTURE.org}/teams/${AUDITORS}/users/${FIXTURE.alice.id}`),
    ).toEqual({ key: `teams-org:${FIXTURE.org}`, bucket: 'org' });
    expect(rateKeyOf(`/api/atlas/v2/groups/${FIXTURE.project}/teams`)).toEqual({
      key: `teams-group:${FIXTURE.project}`,
      bucket: 'project',
    });
    // The users endpoints keep their own buckets.
    expect(rateKeyOf(`/api/atlas/v2/orgs/${FIXTURE.org}/users`).key).toBe(`users-org:${FIXTURE.org}`);
  });
});
