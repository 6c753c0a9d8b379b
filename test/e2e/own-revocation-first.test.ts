// revocations first, for a person whose new grant waits for Atlas tokens.
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { holdRevocations, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
// What Atlas's 429 says of its project users bucket: refilled one token a second.
const SLOW = { capacity: 1200, refillPerMinute: 60 };

describe('revocations first when the grantee has a grant waiting for tokens', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it("lets alice's new grant, which holds her lock, take her ended grant's place before others' revocations", async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('lock-inversion'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: 'atlas-v2-2025',
    });
    const hold = await holdRevocations(sandbox);
    // Alice's grant and two of dana's, of 1 s each; their revocations held back.
    const ended = [
      await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 1s because one`),
      await requestAs(sandbox, PEOPLE.dana, `request ${READ} on payments-prod for 1s because two`),
      await requestAs(sandbox, PEOPLE.dana, `request ${WRITE} on payments-prod for 1s because three`),
    ];
    for (const grant of ended)
      await sandbox.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    const applied = await Promise.all(ended.map((g) => waitForState(sandbox, g.id, 'applied')));
    const next = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 1h because next`,
    );
    const lastEnd = Math.max(...applied.map((r) => r.grant?.revokeAt ?? 0));
    await waitUntil(() => (Date.now() > lastEnd ? true : undefined), 5_000, 'the grants to end');

    // Atlas's project bucket is spent (a 429 that says so); Rolecall's follows it: a token a second.
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
    // Alice's new grant is approved first: it meets the 429, then waits for a token.
    await sandbox.driver.clickButton(PEOPLE.carol, next.approval, 'request_approve');
    await waitUntil(
      () => (sandbox.atlas.calls.slice(from).some((c) => c.status === 429) ? true : undefined),
      10_000,
      'the 429',
    );
    // The ended grants' revocations come now, due well before the new grant's deadline.
    await hold.release();
    await Promise.all(ended.map((g) => waitForState(sandbox, g.id, 'revoked', 30_000)));
    await waitForState(sandbox, next.id, 'applied', 30_000);
    const order = sandbox.atlas.calls
      .slice(from)
      .filter((c) => c.status === 200)
      .map((c) => `${c.path.split(':')[1]} ${c.path.includes(ATLAS.userIds.alice) ? 'alice' : 'dana'}`);
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
