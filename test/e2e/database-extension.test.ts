import { afterEach, describe, expect, it } from 'vitest';
import { ATLAS, CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { ephemeralAfter, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const GROUP = ATLAS.project.id;
const POLICY = SANDBOX_POLICY.replace(
  '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
  `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    database:
      auth: password
      levels:
        orders-read:
          roles: [{role: read, db: orders}]
          clusters: [payments-0]
`,
);

describe('extending database access (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('refuses in words an extension that would end a database grant more than 7 days from now, and leaves its end where Atlas has it', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('db-extend-week'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: POLICY,
      atlasApi: 'atlas-v2-2025',
      atlas: { clusters: [{ groupId: GROUP, name: 'payments-0' }] },
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request db:orders-read on payments-prod for 1h because migration',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const end = applied.grant?.revokeAt ?? 0;
    const username = applied.database?.username ?? '';

    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.alice,
      `extend ${asked.id} for 7d because the migration runs a week late`,
      CHANNELS.general,
    );
    const refusal = await ephemeralAfter(sandbox, PEOPLE.alice, since, /at most 7d/);
    expect(refusal).toContain(`${asked.id} already ends in`);
    expect(refusal).toMatch(/Ask for at most \d+h\./);

    // Rolecall's end and Atlas's own end still agree.
    const after = await readRequest(sandbox, asked.id);
    expect(after.grant?.revokeAt).toBe(end);
    const user = sandbox.atlas.databaseUsers(GROUP).find((u) => u.username === username);
    expect(user?.deleteAfterDate).toBe(new Date(end).toISOString());
  }, 30_000);
});
