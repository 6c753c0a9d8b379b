import { afterEach, describe, expect, it } from 'vitest';
import type { SimFederation, SimRoleMapping } from '../../dev/atlas-sim/federation.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { requestIdIn, waitForEphemeral, waitForThreadReply } from '../../dev/slack-flow.js';
import { FLOW_FLAVORS, type FlowFlavor } from '../support/flow-flavors.js';
import { ORG, PROJECT, readAudit, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READERS = { id: '6d0000000000000000000002', name: 'data-readers' };
/** A second organization, with a project, whose identity provider maps no roles. */
const GLOBEX = { id: '5f1a2b3c4d5e6f7a8b9c0e20', name: 'globex' };
const GLOBEX_PROD = { id: '5f1a2b3c4d5e6f7a8b9c0e2e', name: 'globex-prod', orgId: GLOBEX.id };
const READ = 'GROUP_READ_ONLY';
const DATA_READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const DATA_WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const DANA = PEOPLE.dana.email.toLowerCase();

// The project points people to a team instead of per-person roles; its organization offers that team.
const POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [${READ}, ${DATA_READ}, ${DATA_WRITE}]
    federatedTeam: ${READERS.name}
  - name: ${ATLAS.org.name}
    org: ${ATLAS.org.id}
    approvers: [${PEOPLE.carol.id}]
    roles: [ORG_READ_ONLY]
    teams: [${READERS.name}]
  - name: ${GLOBEX_PROD.name}
    project: ${GLOBEX_PROD.id}
    approvers: [${PEOPLE.bob.id}]
    roles: [${READ}]
`;

/** The IdP groups of acme's identity provider and what their mappings give. */
const MAPPINGS: readonly SimRoleMapping[] = [
  { externalGroupName: 'acme-staff', assignments: [{ orgId: ATLAS.org.id, role: 'ORG_MEMBER' }] },
  {
    externalGroupName: 'payments-readers',
    assignments: [{ groupId: ATLAS.project.id, role: READ }],
  },
];

describe('federation (end to end)', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, api: FlowFlavor['api'], federation: readonly SimFederation[]) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: POLICY,
      atlasApi: api,
      atlas: {
        orgs: [GLOBEX],
        projects: [GLOBEX_PROD],
        teams: [
          {
            ...READERS,
            orgId: ATLAS.org.id,
            members: [],
            projectRoles: { [ATLAS.project.id]: [DATA_READ] },
          },
        ],
        federation,
      },
    });
  };

  describe.each(FLOW_FLAVORS)('on ATLAS_API=$api', (flavor) => {
    it('refuses a per-person role where role mappings are in force, naming the IdP group and the team, and grants that team', async () => {
      await start('federated-refusal', flavor.api, [{ orgId: ATLAS.org.id, roleMappings: MAPPINGS }]);
      await sandbox.driver.command(
        PEOPLE.mallory,
        `request ${READ} on ${ATLAS.project.name} for 1h because reporting`,
        CHANNELS.general,
      );
      const said = await waitForEphemeral(sandbox.slack, PEOPLE.mallory.id, /was not filed/);
      const refused = await waitForState(sandbox, requestIdIn(said), 'refused');
      expect(refused.failure?.code).toBe('FEDERATED_ROLES');
      const words = refused.failure?.message ?? '';
      expect(words).toContain(
        `The organization ${ATLAS.org.name} maps identity-provider (IdP) groups to Atlas roles`,
      );
      expect(words).toContain(`Ask for team:${READERS.name} instead`);
      expect(words).toContain(
        `to get ${READ} on the project ${ATLAS.project.name}, ask to join the IdP group payments-readers`,
      );
      expect(said).toContain('payments-readers');
      expect(said).toContain(`team:${READERS.name}`);
      expect(sandbox.slack.messagesIn(CHANNELS.approvals)).toEqual([]);
      expect(sandbox.atlas.rolesOf(PEOPLE.mallory.email, PROJECT)).toEqual([]);

      // The team the words suggest goes through: approved, applied, and she is in it.
      const team = await requestAs(
        sandbox,
        PEOPLE.mallory,
        `request team:${READERS.name} on ${ATLAS.org.name} for 1h because reporting`,
      );
      await sandbox.driver.clickButton(PEOPLE.carol, team.approval, 'request_approve');
      const applied = await waitForState(sandbox, team.id, 'applied');
      expect(applied.grant?.held).toEqual([`team:${READERS.name}`]);
      expect(sandbox.atlas.teamMembers(READERS.id)).toEqual([PEOPLE.mallory.email]);
      expect(sandbox.atlas.rolesOf(PEOPLE.mallory.email, ORG)).toEqual(['ORG_MEMBER']);
    }, 30_000);

    it('leaves an organization without role mappings alone', async () => {
      await start('unfederated', flavor.api, [{ orgId: ATLAS.org.id, roleMappings: MAPPINGS }]);
      sandbox.atlas.setRoles(PEOPLE.mallory.email, { kind: 'org', id: GLOBEX.id }, ['ORG_MEMBER']);
      const asked = await requestAs(
        sandbox,
        PEOPLE.mallory,
        `request ${READ} on ${GLOBEX_PROD.name} for 1h because reporting`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
      const applied = await waitForState(sandbox, asked.id, 'applied');
      expect(applied.grant?.held).toEqual([READ]);
      expect(sandbox.atlas.rolesOf(PEOPLE.mallory.email, { kind: 'project', id: GLOBEX_PROD.id })).toEqual([
        READ,
      ]);
    }, 30_000);
  });

  it('says a role an SSO login took back was removed by Atlas at SSO login, and one removed by hand was removed outside Rolecall', async () => {
    // atlas-v2 reads before it revokes, so a revocation notices what else of the person's is gone.
    await start('sso-drift', 'atlas-v2', [{ orgId: ATLAS.org.id, roleMappings: [] }]);
    /** A long grant (whose role goes missing) and a short one (whose revocation notices it), approved and applied. */
    const grantTwo = async (person: typeof PEOPLE.alice | typeof PEOPLE.dana) => {
      const long = await requestAs(
        sandbox,
        person,
        `request ${DATA_READ} on ${ATLAS.project.name} for 1h because reporting`,
      );
      const short = await requestAs(
        sandbox,
        person,
        `request ${DATA_WRITE} on ${ATLAS.project.name} for 4s because a fix`,
      );
      await sandbox.driver.clickButton(PEOPLE.bob, long.approval, 'request_approve');
      await sandbox.driver.clickButton(PEOPLE.bob, short.approval, 'request_approve');
      await waitForState(sandbox, long.id, 'applied');
      await waitForState(sandbox, short.id, 'applied');
      return { long, short };
    };
    const alice = await grantTwo(PEOPLE.alice);
    const dana = await grantTwo(PEOPLE.dana);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT).sort()).toEqual([DATA_READ, DATA_WRITE, READ]);

    // Mappings are turned on; Alice signs in through the IdP and Atlas sets her roles to what they give.
    sandbox.atlas.setRoleMappings(ATLAS.org.id, MAPPINGS);
    sandbox.atlas.ssoLogin(PEOPLE.alice.email, ATLAS.org.id, ['acme-staff', 'payments-readers']);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual([READ]);
    // Dana's roles are changed by hand, by an owner, not at a login.
    sandbox.atlas.setRoles(DANA, PROJECT, [READ]);

    // The short grants end; their revocations read the roles and find the long grants' roles gone.
    const sso = await waitForThreadReply(
      sandbox.slack,
      alice.long.approval,
      /removed by Atlas at SSO login/,
      15_000,
    );
    expect(sso.text).toContain(`${DATA_READ} was removed by Atlas at SSO login`);
    expect(sso.text).not.toContain('outside Rolecall');
    const byHand = await waitForThreadReply(sandbox.slack, dana.long.approval, /outside Rolecall/, 15_000);
    expect(byHand.text).toContain(`${DATA_READ}\` was removed from`);
    expect(byHand.text).not.toContain('SSO login');

    const aliceAudit = (await readAudit(sandbox, alice.long.id)).map((e) => e.detail).join('\n');
    expect(aliceAudit).toContain(`drift: ${DATA_READ} was removed by Atlas at SSO login`);
    expect(aliceAudit).not.toContain('outside Rolecall');
    const danaAudit = (await readAudit(sandbox, dana.long.id)).map((e) => e.detail).join('\n');
    expect(danaAudit).toContain(`drift: ${DATA_READ} was removed in Atlas outside Rolecall`);
    expect(danaAudit).not.toContain('SSO login');
    const aliceDrift = (await readRequest(sandbox, alice.long.id)).drift;
    expect(aliceDrift.map((d) => [d.role, typeof d.ssoLoginAt])).toEqual([[DATA_READ, 'number']]);
    const danaDrift = (await readRequest(sandbox, dana.long.id)).drift;
    expect(danaDrift.map((d) => [d.role, d.ssoLoginAt])).toEqual([[DATA_READ, undefined]]);
    await waitForState(sandbox, alice.short.id, 'revoked', 15_000);
    await waitForState(sandbox, dana.short.id, 'revoked', 15_000);
  }, 45_000);
});
