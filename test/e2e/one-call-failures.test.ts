// The one-call grant (atlas-v2-2025) when Atlas's answer to a write is lost, when an undo fails,
// or when both meet: no role Rolecall added outlives its grant, and nothing is left by a failed one.
import { afterEach, describe, expect, it } from 'vitest';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox } from '../../dev/sandbox.js';
import type { AccessRequest } from '../../src/requests/model.js';
import { type AtlasGateway, startSandboxBehindGateway } from '../support/atlas-gateway.js';
import { ATLAS_V2_2025 } from '../support/flow-flavors.js';
import {
  holdRevocations,
  PROJECT,
  type RevocationHold,
  requestAs,
  rolesAt,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
// A typo in the policy: Rolecall takes any GROUP_[A-Z_]+ on Atlas (README), Atlas answers 400.
const TYPO = 'GROUP_SEARCH_INDEX_EDITORR';

const TYPO_POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${READ}, ${TYPO}]
`;

describe('one-call grants when answers are lost and calls are refused (atlas-v2-2025)', () => {
  let sandbox: Sandbox;
  let gateway: AtlasGateway;
  let hold: RevocationHold;

  afterEach(async () => {
    await sandbox.stop();
    await gateway.close();
  });

  const start = async (label: string, env: Record<string, string> = {}, policy?: string) => {
    ({ sandbox, gateway } = await startSandboxBehindGateway({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', ...env },
      atlasApi: ATLAS_V2_2025.api,
      ...(policy ? { policy } : {}),
    }));
  };

  /** A grant that found her outside the project: it held her membership, and its end took her out. */
  const expectJoinedThenLeft = async (id: string) => {
    const settled = await waitForState(sandbox, id, ['applied', 'failed'], 20_000);
    await hold.release();
    const ended: AccessRequest =
      settled.state === 'applied'
        ? await waitForState(sandbox, id, ['revoked', 'revoke_failed'], 20_000)
        : settled;
    expect({
      applied: settled.state,
      addedToProject: settled.grant?.addedToProject,
      ended: ended.state,
      failure: ended.failure?.code,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({ applied: 'applied', addedToProject: true, ended: 'revoked', failure: undefined, roles: [] });
  };

  it('ends a role whose :addRole landed when every one of the client tries lost its answer', async () => {
    await start('lost-every-answer', { ATLAS_MAX_RETRIES: '1' });
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because a`);
    // The first :addRole lands, its answer and the retry's (a 409) are both lost: the client gives up with a 502.
    gateway.lose(/:addRole$/, { method: 'POST', times: 2 });
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, ['applied', 'failed'], 20_000);
    expect({
      state: applied.state,
      held: applied.grant?.held,
      outside: applied.grant?.outside,
      revokeAt: typeof applied.grant?.revokeAt,
    }).toEqual({ state: 'applied', held: [READ], outside: [], revokeAt: 'number' });
  }, 40_000);

  it('leaves no role it added behind when Atlas refuses a later role of the request', async () => {
    await start('partial-grant', {}, TYPO_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ},${TYPO} on payments-prod for 1h because partial`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const failed = await waitForState(sandbox, asked.id, ['failed', 'applied']);
    // Atlas refused the second role: the request fails, as it should, and the first role it added
    // is taken back, so nothing is left in Atlas that no grant ends.
    expect(failed.state).toBe('failed');
    expect({
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
      planned: failed.plan?.added,
    }).toEqual({ roles: ['GROUP_READ_ONLY'], planned: [] });
  }, 30_000);

  it('takes back a role an earlier try added when a later role is refused for good', async () => {
    await start('take-back', {}, TYPO_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ},${TYPO} on payments-prod for 1h because b`,
    );
    // READ's :addRole lands, its answer is lost; the retry meets 409 (afterLostAnswer); then Atlas refuses TYPO.
    gateway.lose(/:addRole$/, { method: 'POST' });
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const failed = await waitForState(sandbox, asked.id, ['applied', 'failed'], 20_000);
    expect({
      state: failed.state,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({ state: 'failed', roles: ['GROUP_READ_ONLY'] });
  }, 40_000);

  it('someone who left the project, brought back by an :addRole whose answer was lost, leaves at the end', async () => {
    await start('left-lost-answer');
    hold = await holdRevocations(sandbox);
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because c`);
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    gateway.lose(/:addRole$/, { method: 'POST' });
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await expectJoinedThenLeft(asked.id);
  }, 40_000);

  it('someone who left the project is taken out at the end even when the first removal from it fails', async () => {
    await start('left-refused-removal', { ATLAS_MAX_RETRIES: '0' });
    hold = await holdRevocations(sandbox);
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because d`);
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    // The first DELETE of her from the project never reaches Atlas (503); the job tries again.
    gateway.refuse(/\/groups\/[^/]+\/users\/[^/:]+$/, { method: 'DELETE' });
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await expectJoinedThenLeft(asked.id);
  }, 40_000);
  it('removes the role at the grant end when the :addRole landed but its answer was lost', async () => {
    await start('lost-add');
    hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because lost`,
    );
    // Atlas carries out the first :addRole but its answer never reaches Rolecall (a 502 instead).
    gateway.lose(/:addRole$/);
    const clickedAt = Date.now();
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied', 15_000);
    const statuses = sandbox.atlas.calls
      .filter((c) => c.path.endsWith(':addRole') && c.auth === 'digest')
      .map((c) => c.status);
    // The retried :addRole met the role the first one added.
    expect(statuses).toContain(409);
    expect(rolesAt(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), clickedAt)).not.toContain(READ);
    // Rolecall added this role: the grant must hold it, not call it "held outside Rolecall".
    expect({ held: applied.grant?.held, outside: applied.grant?.outside }).toEqual({
      held: [READ],
      outside: [],
    });
    await hold.release();
    if (applied.grant?.revokeAt !== null) await waitForState(sandbox, asked.id, 'revoked', 10_000);
    // The role Rolecall added must not outlive the grant.
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain(READ);
  }, 40_000);

  it('removes the role when the :removeRole landed but its answer was lost, without calling it drift', async () => {
    await start('lost-remove');
    hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 2s because lost remove`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied', 10_000);
    gateway.lose(/:removeRole$/);
    await hold.release();
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain(WRITE);
    // Rolecall removed it itself; "already gone" tells the approvers someone removed it by hand.
    expect({ removed: revoked.revocation?.removed, gone: revoked.revocation?.gone }).toEqual({
      removed: [WRITE],
      gone: [],
    });
  }, 40_000);
});
