import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForThreadReply } from '../../dev/slack-flow.js';
import type { AccessRequest } from '../../src/requests/model.js';
import {
  holdRevocations,
  type Person,
  type RevocationHold,
  requestAs,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
// What Atlas's 429 says of its project users bucket: refilled one token a second (its own: 500 a minute).
const SLOW = { capacity: 1200, refillPerMinute: 60 };

/** What a recorded call was: `removeRole`, `addRole`, or `read`. */
const kindOf = (call: RecordedAtlasCall) =>
  call.method === 'GET' ? 'read' : (call.path.split(':')[1] ?? call.path);

describe('revocations first when Atlas tokens are short (end to end)', () => {
  let sandbox: Sandbox;
  let hold: RevocationHold;

  afterEach(async () => {
    await sandbox.stop();
  });

  /**
   * Grants of 1 s applied for each of `grantees` (one role each, in order), their revocations held
   * back, and a request of `later` waiting for its approval; returns once every grant has ended.
   */
  const endGrants = async (
    label: string,
    grantees: readonly (readonly [Person, string])[],
    later: Person,
  ) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: 'atlas-v2-2025',
    });
    hold = await holdRevocations(sandbox);
    const grants = [];
    for (const [i, [person, role]] of grantees.entries())
      grants.push(await requestAs(sandbox, person, `request ${role} on payments-prod for 1s because ${i}`));
    for (const grant of grants)
      await sandbox.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    const applied = await Promise.all(grants.map((g) => waitForState(sandbox, g.id, 'applied')));
    const next = await requestAs(sandbox, later, `request ${WRITE} on payments-prod for 1h because later`);
    const lastEnd = Math.max(...applied.map((r) => r.grant?.revokeAt ?? 0));
    await waitUntil(() => (Date.now() > lastEnd ? true : undefined), 5_000, 'the grants to end');
    return { applied, next };
  };

  /**
   * Someone else has spent Atlas's project bucket: its next call is refused with a 429 whose
   * parameters say so (capacity 1200, one token a second), and Rolecall's bucket follows that word.
   * `trigger` makes that next call; returns where the simulator's record stood before it.
   */
  const spendBucketThen = async (trigger: () => Promise<unknown>) => {
    const usersPath = `/api/atlas/v2/groups/${ATLAS.project.id}/users`;
    sandbox.atlas.inject({
      path: /^\/api\/atlas\/v2\/groups\/[0-9a-f]{24}\/users/,
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: 429,
        errorCode: 'RATE_LIMITED_TOKEN_BUCKET',
        detail: `Rate limit exceeded for ${usersPath}. Please retry after 1 seconds.`,
        parameters: [usersPath, 1, SLOW.capacity, SLOW.refillPerMinute, 60],
        reason: 'Too Many Requests',
      },
      times: 1,
    });
    const from = sandbox.atlas.calls.length;
    await trigger();
    await waitUntil(
      () => (sandbox.atlas.calls.slice(from).some((c) => c.status === 429) ? true : undefined),
      10_000,
      'the 429',
    );
    return from;
  };

  /** The revocations of `ended` are done and `next` is applied. */
  const settle = async (ended: readonly AccessRequest[], next: { id: string }) => {
    await Promise.all(ended.map((g) => waitForState(sandbox, g.id, 'revoked', 30_000)));
    await waitForState(sandbox, next.id, 'applied', 30_000);
  };

  it('removes ended grants before a queued read and a new grant, and tells the grant it waits', async () => {
    const { applied, next: later } = await endGrants(
      'revocations-first',
      [
        [PEOPLE.alice, READ],
        [PEOPLE.alice, WRITE],
        [PEOPLE.dana, READ],
      ],
      PEOPLE.dana,
    );
    const from = await spendBucketThen(() =>
      sandbox.driver.command(
        PEOPLE.bob,
        `request ${READ} on payments-prod because queued read`,
        CHANNELS.general,
      ),
    );
    // Now the ended grants' revocations and a new grant arrive behind the queued read.
    await hold.release();
    await sandbox.driver.clickButton(PEOPLE.carol, later.approval, 'request_approve');
    await settle(applied, later);
    const order = sandbox.atlas.calls
      .slice(from)
      .filter((c) => c.status === 200)
      .map(kindOf);
    // The three removals went first, then the read that was queued before them and the new grant.
    expect(order.slice(0, 3)).toEqual(['removeRole', 'removeRole', 'removeRole']);
    expect(order.slice(3).sort()).toEqual(['addRole', 'read']);
    // No removal came before its grant's end.
    for (const r of applied) {
      const removal = sandbox.atlas
        .timeline(r.granteeEmail, { kind: 'project', id: ATLAS.project.id })
        .find((c) => c.at >= (r.grant?.appliedAt ?? 0) && !c.roles.includes(r.roles[0] ?? ''));
      expect(removal?.at).toBeGreaterThanOrEqual(r.grant?.revokeAt ?? Number.POSITIVE_INFINITY);
    }
    // The grant that waited said so in its thread, with the wait.
    const notice = await waitForThreadReply(
      sandbox.slack,
      later.approval,
      /waits about \d+ s for its turn/,
      5_000,
    );
    expect(notice.text).toContain('revocations of ended grants go first');
  }, 60_000);

  it("lets alice's new grant, which holds her lock, take her ended grant's place before others' revocations", async () => {
    const { applied, next } = await endGrants(
      'own-revocation-first',
      [
        [PEOPLE.alice, READ],
        [PEOPLE.dana, READ],
        [PEOPLE.dana, WRITE],
      ],
      PEOPLE.alice,
    );
    // Alice's new grant is approved first: it meets the 429, then waits for a token.
    const from = await spendBucketThen(() =>
      sandbox.driver.clickButton(PEOPLE.carol, next.approval, 'request_approve'),
    );
    // The ended grants' revocations come now, due well before the new grant's deadline.
    await hold.release();
    await settle(applied, next);
    const order = sandbox.atlas.calls
      .slice(from)
      .filter((c) => c.status === 200)
      .map((c) => `${kindOf(c)} ${c.path.includes(ATLAS.userIds.alice) ? 'alice' : 'dana'}`);
    // Alice's new grant holds her lock while it waits, so her own revocation cannot queue: the grant
    // waits in that revocation's place (her grant ended first), and her revocation follows it at once.
    // At most one of dana's removals comes first: the one that finds a token while the grant sleeps
    // out the 429's Retry-After (it is not queued then). Without that place, the grant waits its
    // normal 20 s behind both of dana's removals, and alice's ended grant waits with it.
    expect([...order].sort()).toEqual([
      'addRole alice',
      'removeRole alice',
      'removeRole dana',
      'removeRole dana',
    ]);
    const added = order.indexOf('addRole alice');
    expect(added).toBeLessThanOrEqual(1);
    expect(order[added + 1]).toBe('removeRole alice');
  }, 60_000);
});
