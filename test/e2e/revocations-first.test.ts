import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedAtlasCall } from '../../dev/atlas-simulator.js';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForThreadReply } from '../../dev/slack-flow.js';
import { holdRevocations, requestAs, waitForState } from '../support/grant-flow.js';
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

  afterEach(async () => {
    await sandbox.stop();
  });

  it('removes ended grants before a queued read and a new grant, and tells the grant it waits', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('revocations-first'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: 'atlas-v2-2025',
    });
    // Three grants of 1 s, their revocations held back until the bucket is empty.
    const hold = await holdRevocations(sandbox);
    const grants = [
      await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 1s because one`),
      await requestAs(sandbox, PEOPLE.alice, `request ${WRITE} on payments-prod for 1s because two`),
      await requestAs(sandbox, PEOPLE.dana, `request ${READ} on payments-prod for 1s because three`),
    ];
    for (const grant of grants)
      await sandbox.driver.clickButton(PEOPLE.bob, grant.approval, 'request_approve');
    const applied = await Promise.all(grants.map((g) => waitForState(sandbox, g.id, 'applied')));
    // A fourth, still waiting for its approval.
    const later = await requestAs(
      sandbox,
      PEOPLE.dana,
      `request ${WRITE} on payments-prod for 1h because later`,
    );
    const lastEnd = Math.max(...applied.map((r) => r.grant?.revokeAt ?? 0));
    await waitUntil(() => (Date.now() > lastEnd ? true : undefined), 5_000, 'the grants to end');

    // Someone else has spent Atlas's project bucket: its next call is refused with a 429 whose
    // parameters say so (capacity 1200, one token a second), and Rolecall's bucket follows that word.
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
    await sandbox.driver.command(
      PEOPLE.bob,
      `request ${READ} on payments-prod because queued read`,
      CHANNELS.general,
    );
    await waitUntil(
      () => (sandbox.atlas.calls.slice(from).some((c) => c.status === 429) ? true : undefined),
      10_000,
      'the 429',
    );
    // Now the ended grants' revocations and a new grant arrive behind the queued read.
    await hold.release();
    await sandbox.driver.clickButton(PEOPLE.carol, later.approval, 'request_approve');

    await Promise.all(grants.map((g) => waitForState(sandbox, g.id, 'revoked', 20_000)));
    await waitForState(sandbox, later.id, 'applied', 20_000);
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
});
