import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { ATLAS_V2_2025, kindOf } from '../support/flow-flavors.js';
import {
  holdRevocations,
  PROJECT,
  readAudit,
  requestAs,
  rolesAt,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';

/** `METHOD template` of a recorded call, its ids replaced, without the query. */
const templateOf = (call: RecordedAtlasCall) =>
  `${call.method} ${(call.path.split('?')[0] ?? '').replace(/[a-f0-9]{24}/g, '{id}')}`;

describe('one Atlas call per grant and per revocation (ATLAS_API=atlas-v2-2025)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: ATLAS_V2_2025.api,
    });
  };

  /** The authenticated calls since `from`, as `METHOD template`. */
  const callsSince = (from: number) => sandbox.atlas.authenticatedCalls().slice(from).map(templateOf);

  it('reads once at request time, grants with one :addRole and revokes with one :removeRole', async () => {
    await start('one-call');
    const hold = await holdRevocations(sandbox);
    const atRequest = sandbox.atlas.authenticatedCalls().length;
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because one call`,
    );
    // The person is looked up once, by username, in the project: the answer has her id and roles. The
    // first request on a project also reads what the client then keeps: the teams with roles there
    // (5 minutes), the project's organization (for good) and its federation settings (10 minutes).
    expect(callsSince(atRequest)).toEqual([
      'GET /api/atlas/v2/groups/{id}/users',
      'GET /api/atlas/v2/groups/{id}/teams',
      'GET /api/atlas/v2/groups/{id}',
      'GET /api/atlas/v2/orgs/{id}/federationSettings',
    ]);
    // The next request there reads the person, and nothing else.
    const atSecond = sandbox.atlas.authenticatedCalls().length;
    await requestAs(sandbox, PEOPLE.dana, `request ${READ} on payments-prod for 1h because a second one`);
    expect(callsSince(atSecond)).toEqual(['GET /api/atlas/v2/groups/{id}/users']);

    const atApprove = sandbox.atlas.authenticatedCalls().length;
    const clickedAt = Date.now();
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(callsSince(atApprove)).toEqual(['POST /api/atlas/v2/groups/{id}/users/{id}:addRole']);
    // What Atlas answered (the roles after the call) is what the grant says.
    expect(applied.plan?.added).toEqual([READ]);
    expect(applied.grant?.rolesAfter).toEqual(['GROUP_READ_ONLY', READ]);
    expect(applied.grant?.outside).toEqual([]);

    const atEnd = sandbox.atlas.authenticatedCalls().length;
    await hold.release();
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 10_000);
    expect(callsSince(atEnd)).toEqual(['POST /api/atlas/v2/groups/{id}/users/{id}:removeRole']);
    expect(revoked.revocation?.removed).toEqual([READ]);
    expect(revoked.revocation?.rolesAfter).toEqual(['GROUP_READ_ONLY']);
    // The audit entry says how late the removal came.
    const lag = ((revoked.revocation?.revokedAt ?? 0) - (applied.grant?.revokeAt ?? 0)) / 1000;
    const entry = (await readAudit(sandbox, asked.id)).find((e) => e.to === 'revoked');
    expect(entry?.detail).toBe(`removed ${READ}; ${lag.toFixed(2)} s after its end`);
    // Timeline: the role held from the grant to its end, not before and not after.
    const end = applied.grant?.revokeAt ?? 0;
    const timeline = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    expect(rolesAt(timeline, clickedAt)).not.toContain(READ);
    expect(rolesAt(timeline, end - 1)).toContain(READ);
    const removal = timeline.find((c) => c.at >= end && !c.roles.includes(READ));
    expect(removal?.at).toBeGreaterThanOrEqual(end);
  }, 30_000);

  it('costs two Atlas exchanges from request to applied and one for the revocation, Digest included', async () => {
    await start('exchanges');
    const hold = await holdRevocations(sandbox);
    // A first grant: the process learns the Digest nonce (one 401 challenge) and the person's id.
    const first = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because warm`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, first.approval, 'request_approve');
    await waitForState(sandbox, first.id, 'applied');
    // Every HTTP exchange the simulator saw, challenges (401, no Authorization) included.
    const exchangesSince = (from: number) =>
      sandbox.atlas.calls.slice(from).map((c) => `${c.status} ${templateOf(c)}`);

    const atRequest = sandbox.atlas.calls.length;
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 2s because counted`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied');
    expect(exchangesSince(atRequest)).toEqual([
      '200 GET /api/atlas/v2/groups/{id}/users/{id}',
      '200 POST /api/atlas/v2/groups/{id}/users/{id}:addRole',
    ]);
    const atEnd = sandbox.atlas.calls.length;
    await hold.release();
    await waitForState(sandbox, asked.id, 'revoked', 10_000);
    expect(exchangesSince(atEnd)).toEqual(['200 POST /api/atlas/v2/groups/{id}/users/{id}:removeRole']);

    // Atlas lets the nonce go stale between two grants: one 401 (stale=true), then the new nonce.
    sandbox.atlas.expireNonces();
    const atStale = sandbox.atlas.calls.length;
    const again = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 1h because stale`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, again.approval, 'request_approve');
    await waitForState(sandbox, again.id, 'applied');
    expect(exchangesSince(atStale)).toEqual([
      '401 GET /api/atlas/v2/groups/{id}/users/{id}',
      '200 GET /api/atlas/v2/groups/{id}/users/{id}',
      '200 POST /api/atlas/v2/groups/{id}/users/{id}:addRole',
    ]);
    expect(sandbox.atlas.calls.slice(atStale)[0]?.challenge?.stale).toBe(true);
  }, 30_000);

  it('leaves alone a role someone gave by hand between the request and its approval', async () => {
    await start('by-hand');
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because by hand`,
    );
    // An owner gives her the role in the Atlas UI before Bob approves: Atlas answers the :addRole 409.
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, ['GROUP_READ_ONLY', READ]);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.grant?.outside).toEqual([READ]);
    expect(applied.grant?.held).toEqual([]);
    expect(applied.plan?.added).toEqual([]);
    // Nothing to end: no revocation, and the role stays.
    await hold.release();
    expect(applied.grant?.revokeAt).toBeNull();
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain(READ);
  }, 30_000);

  it('keeps a role another grant still holds and removes only what it was the last holder of', async () => {
    await start('two-roles');
    const hold = await holdRevocations(sandbox);
    const long = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because long`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, long.approval, 'request_approve');
    await waitForState(sandbox, long.id, 'applied');
    const short = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ},${WRITE} on payments-prod for 2s because short`,
    );
    const atApprove = sandbox.atlas.authenticatedCalls().length;
    await sandbox.driver.clickButton(PEOPLE.bob, short.approval, 'request_approve');
    const applied = await waitForState(sandbox, short.id, 'applied');
    // Both roles are asked of Atlas: the one held through the long grant answers 409 (joined).
    expect(callsSince(atApprove).map((c) => c.split(':')[1])).toEqual(['addRole', 'addRole']);
    expect(applied.grant?.joined.map((h) => h.requestId)).toEqual([long.id]);
    expect(applied.plan?.added).toEqual([WRITE]);

    const atEnd = sandbox.atlas.authenticatedCalls().length;
    await hold.release();
    const revoked = await waitForState(sandbox, short.id, 'revoked', 10_000);
    // Only the role no other grant holds is removed: one call.
    expect(callsSince(atEnd)).toEqual(['POST /api/atlas/v2/groups/{id}/users/{id}:removeRole']);
    expect(revoked.revocation?.removed).toEqual([WRITE]);
    expect(revoked.revocation?.kept.map((h) => h.requestId)).toEqual([long.id]);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT).sort()).toEqual([READ, 'GROUP_READ_ONLY']);
    const audit = await readAudit(sandbox, short.id);
    expect(audit.map((e) => e.detail).join('\n')).toContain(`removed ${WRITE}`);
  }, 30_000);

  it('falls back to reading when Atlas refuses to remove the last role, and says why', async () => {
    await start('last-role');
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because last`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied');
    // Someone removes her other role by hand: the grant's role is now her only one there.
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, [READ]);
    const atEnd = sandbox.atlas.authenticatedCalls().length;
    await hold.release();
    const failed = await waitForState(sandbox, asked.id, 'revoke_failed', 10_000);
    expect(failed.failure?.code).toBe('WOULD_REMOVE_ALL_ROLES');
    // The :removeRole was refused (403), then one read told the read-first way what she holds.
    const calls = sandbox.atlas.authenticatedCalls().slice(atEnd);
    expect(calls.map((c) => `${kindOf(ATLAS_V2_2025, c)} ${c.status}`).slice(0, 2)).toEqual([
      'write 403',
      'read 200',
    ]);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toEqual([READ]);
  }, 30_000);
});
