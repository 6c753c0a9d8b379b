import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SimFederation } from '../../dev/atlas-sim/federation.js';
import type { AtlasSimulator } from '../../dev/atlas-simulator.js';
import type { AtlasApiFlavor } from '../../src/atlas/atlas-options.js';
import type { AtlasScope } from '../../src/lib/scope.js';
import {
  AUTHS,
  FIXTURE,
  fixtureClient,
  fixtureHttp,
  startFixtureSimulator,
} from '../support/atlas-fixture.js';
import { defined } from '../support/defined.js';
import { checkAgainstSpec, checkResponseAgainstSpec } from '../support/openapi-contract.js';

const ORG: AtlasScope = { kind: 'org', id: FIXTURE.org };
const PROJECT: AtlasScope = { kind: 'project', id: FIXTURE.project };
const V2_2023 = 'application/vnd.atlas.2023-01-01+json';

const ACME: SimFederation = {
  orgId: FIXTURE.org,
  roleMappings: [
    {
      externalGroupName: 'atlas-readers',
      assignments: [
        { orgId: FIXTURE.org, role: 'ORG_MEMBER' },
        { groupId: FIXTURE.project, role: 'GROUP_READ_ONLY' },
      ],
    },
    { externalGroupName: 'owners', assignments: [{ orgId: FIXTURE.org, role: 'ORG_OWNER' }] },
  ],
};

/**
 * The spec declares the `eventType` query items (`EventTypeForOrg`, `EventTypeForNdsGroup`) as
 * `type: object` with a `oneOf` of string enums, which no value can satisfy: a defect of the spec, not of
 * the request (the string enums are what Atlas documents as event type names). Such a problem is kept
 * out only when the value is one of those enums.
 */
const EVENT_TYPES = (() => {
  const subset = parse(
    readFileSync(new URL('../fixtures/atlas/atlas-admin-api-v2.access.subset.yaml', import.meta.url), 'utf8'),
  ) as { components: { schemas: Record<string, { oneOf?: { enum?: string[] }[] }> } };
  const names = (schema: string) =>
    subset.components.schemas[schema]?.oneOf?.flatMap((b) => b.enum ?? []) ?? [];
  return { org: new Set(names('EventTypeForOrg')), project: new Set(names('EventTypeForNdsGroup')) };
})();
const specDefect = (path: string, problem: string): boolean => {
  const found = /^query parameter eventType="([A-Z_]+)": data\/0 must be object$/.exec(problem);
  const names = path.startsWith('/api/atlas/v2/orgs/') ? EVENT_TYPES.org : EVENT_TYPES.project;
  return found !== null && names.has(found[1] as string);
};

const simulators: AtlasSimulator[] = [];
afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
});

/** Every problem the official spec finds with what went over the wire, both ways. */
const problemsOf = (simulator: AtlasSimulator) => {
  const sent = simulator.authenticatedCalls().filter((c) => c.path.startsWith('/api/atlas/v2/'));
  return {
    sent,
    requests: sent.flatMap((c) =>
      checkAgainstSpec(c)
        .filter((p) => !specDefect(c.path, p))
        .map((p) => `${c.method} ${c.path}: ${p}`),
    ),
    answers: sent.flatMap((c) =>
      checkResponseAgainstSpec(c).map((p) => `${c.method} ${c.path} ${c.status}: ${p}`),
    ),
  };
};

describe('federation and events against the official OpenAPI spec', () => {
  it.each(['atlas-v2', 'atlas-v2-2025'] as AtlasApiFlavor[])(
    'every federation read %s sends conforms, and every simulator answer too',
    async (flavor) => {
      const simulator = await startFixtureSimulator({ federation: [ACME] });
      simulators.push(simulator);
      const federation = defined(fixtureClient(simulator, flavor, AUTHS.digest).federation);
      expect((await federation.readRoleMappings(FIXTURE.org))?.mappings).toHaveLength(2);
      // The list fallback: a configuration that leaves roleMappings out (injected, so not checked as an answer).
      simulator.inject({
        path: /\/connectedOrgConfigs\/[a-f0-9]{24}$/,
        status: 200,
        body: { orgId: FIXTURE.org, domainRestrictionEnabled: false },
      });
      expect((await federation.readRoleMappings(FIXTURE.org))?.mappings).toHaveLength(2);
      const since = Date.now() - 1;
      simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['owners']);
      expect(await federation.removedAtLogin(PROJECT, FIXTURE.alice.id, FIXTURE.alice.email, since)).toEqual(
        expect.any(Number),
      );
      expect(await federation.removedAtLogin(ORG, FIXTURE.alice.id, FIXTURE.alice.email, since)).toEqual(
        expect.any(Number),
      );
      const { sent, requests, answers } = problemsOf(simulator);
      const operations = new Set(
        sent.map((c) => `${c.method} ${c.path.replace(/[a-f0-9]{24}/g, '{id}').split('?')[0]}`),
      );
      expect([...operations].sort()).toEqual([
        'GET /api/atlas/v2/federationSettings/{id}/connectedOrgConfigs/{id}',
        'GET /api/atlas/v2/federationSettings/{id}/connectedOrgConfigs/{id}/roleMappings',
        'GET /api/atlas/v2/groups/{id}/events',
        'GET /api/atlas/v2/orgs/{id}/events',
        'GET /api/atlas/v2/orgs/{id}/federationSettings',
      ]);
      expect(sent.every((c) => c.accept === V2_2023)).toBe(true);
      expect(requests).toEqual([]);
      const injected = sent.filter((c) => c.path.endsWith(`/connectedOrgConfigs/${FIXTURE.org}`)).at(-1);
      expect(answers.filter((p) => !injected || !p.startsWith(`GET ${injected.path} `))).toEqual([]);
    },
  );

  it('every kind of event a login records, and every shape of the federation settings, conforms', async () => {
    const simulator = await startFixtureSimulator({
      orgs: [
        { id: FIXTURE.org, name: 'acme' },
        { id: '6a0000000000000000000002', name: 'no-idp' },
        { id: '6a0000000000000000000003', name: 'inactive' },
      ],
      federation: [
        ACME,
        { orgId: '6a0000000000000000000002', identityProviderId: null, roleMappings: [] },
        {
          orgId: '6a0000000000000000000003',
          identityProviderStatus: 'INACTIVE',
          roleMappings: ACME.roleMappings,
        },
      ],
    });
    simulators.push(simulator);
    // Alice leaves the project and gains ORG_OWNER; then joins it again with other roles; then leaves the org.
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['owners']);
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['atlas-readers']);
    simulator.setRoleMappings(FIXTURE.org, [
      { externalGroupName: 'project-only', assignments: [{ groupId: FIXTURE.project, role: 'GROUP_OWNER' }] },
    ]);
    simulator.ssoLogin(FIXTURE.alice.email, FIXTURE.org, ['project-only']);
    const { http } = fixtureHttp(simulator);
    const get = (path: string, query: Record<string, string> = {}) =>
      http.send<{ results?: { eventTypeName: string }[] }>({
        method: 'GET',
        path,
        query,
        mediaType: V2_2023,
        operation: 'x',
      });
    const orgEvents = await get(`/api/atlas/v2/orgs/${FIXTURE.org}/events`, {
      itemsPerPage: '2',
      pageNum: '1',
    });
    const groupEvents = await get(`/api/atlas/v2/groups/${FIXTURE.project}/events`);
    expect(orgEvents.body.results?.map((e) => e.eventTypeName)).toEqual([
      'REMOVED_FROM_ORG',
      'USER_ROLES_CHANGED_AUDIT',
    ]);
    expect(groupEvents.body.results?.map((e) => e.eventTypeName)).toEqual([
      'USER_ROLES_CHANGED_AUDIT',
      'JOINED_GROUP',
      'REMOVED_FROM_GROUP',
    ]);
    for (const orgId of [FIXTURE.org, '6a0000000000000000000002', '6a0000000000000000000003'])
      await get(`/api/atlas/v2/orgs/${orgId}/federationSettings`);
    await http.close();
    const { sent, requests, answers } = problemsOf(simulator);
    expect(sent).toHaveLength(5);
    expect(requests).toEqual([]);
    expect(answers).toEqual([]);
  });
});
