import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForApprovalMessage } from '../../dev/slack-flow.js';
import { ephemeralAfter, readRequest, requestAs, sleep, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';

/** Read-only is approved by the policy for an hour at most; read-write needs Bob or Carol, an hour at most. */
const POLICY = (maxRead: string) => `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: payments-prod
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [${READ}, ${WRITE}]
    rules:
      - roles: [${READ}]
        autoApprove: true
        maxDuration: ${maxRead}
      - roles: [${WRITE}]
        maxDuration: 1h
`;

describe('extensions bounded by the end they produce', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, maxRead = '1h') => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      policy: POLICY(maxRead),
      env: { JOB_BACKOFF_MS: '50', REMIND_BEFORE: '0' },
    });
    return sandbox;
  };

  /** Types a command as Alice and returns what Rolecall answered her. */
  const say = async (text: string, pattern: RegExp) => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, text, CHANNELS.general);
    return ephemeralAfter(sandbox, PEOPLE.alice, since, pattern);
  };

  it('refuses self-approved extensions that would stack a grant past its maxDuration', async () => {
    const box = await start('extend-stack');
    const { id } = await requestAs(
      box,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because incident`,
    );
    const applied = await waitForState(box, id, 'applied');
    const end = applied.grant?.revokeAt ?? 0;
    for (let i = 0; i < 5; i += 1) {
      const said = await say(`extend ${id} for 1h because more`, /may be held/);
      expect(said).toMatch(
        new RegExp(`${id} already ends in (1h|59m( \\d+s)?); its roles may be held at most 1h from now`),
      );
      expect(said).toContain('It cannot be extended now; ask again closer to its end.');
    }
    const after = await readRequest(box, id);
    expect(after.grant?.revokeAt).toBe(end);
    expect(after.extensions).toEqual([]);
  });

  it('approves an extension by policy only up to start + maxDuration, and leaves the rest to a person', async () => {
    const box = await start('extend-auto', '1m');
    const { id } = await requestAs(
      box,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 10s because incident`,
    );
    const applied = await waitForState(box, id, 'applied');
    const startedAt = applied.grant?.appliedAt ?? 0;
    // 10s + 40s ends 50 s after the start: within the minute, approved by the policy.
    const auto = await requestAs(box, PEOPLE.alice, `extend ${id} for 40s because longer`);
    const extended = await waitForState(box, auto.id, 'applied');
    expect(extended.decision?.by).toBe('policy');
    expect((await readRequest(box, id)).grant?.revokeAt).toBe((applied.grant?.revokeAt ?? 0) + 40_000);
    // Later, 15s more ends 65 s after the start: within a minute of now, but past start + 1m, so a person decides.
    await sleep(Math.max(0, startedAt + 8_000 - Date.now()));
    const human = await requestAs(box, PEOPLE.alice, `extend ${id} for 15s because longer still`);
    const pending = await readRequest(box, human.id);
    expect(pending.state).toBe('pending');
    expect(pending.endsNoLaterThan).toBeGreaterThanOrEqual(startedAt + 65_000);
    await box.driver.clickButton(PEOPLE.bob, human.approval, 'request_approve');
    await waitForState(box, human.id, 'applied');
    expect((await readRequest(box, id)).grant?.revokeAt).toBe((applied.grant?.revokeAt ?? 0) + 55_000);
  });

  it('keeps one extension of a grant open at a time, even when two are filed at once', async () => {
    const box = await start('extend-one');
    const { id, approval } = await requestAs(
      box,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 30m because fix`,
    );
    await box.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(box, id, 'applied');
    const since = box.slack.events.length;
    await Promise.all([
      box.driver.command(PEOPLE.alice, `extend ${id} for 10m because one`, CHANNELS.general),
      box.driver.command(PEOPLE.alice, `extend ${id} for 10m because two`, CHANNELS.general),
    ]);
    const refused = await ephemeralAfter(
      box,
      PEOPLE.alice,
      since,
      /one extension at a time|being filed right now/,
    );
    expect(refused).toMatch(new RegExp(`(already asks to extend ${id}|Another extension of ${id})`));
    const filed = await ephemeralAfter(box, PEOPLE.alice, since, /Request \*AR-[0-9A-Z]+\*/);
    const first = /AR-[0-9A-Z]+/.exec(filed)?.[0] ?? '';
    // Once the first is decided, the next may be filed.
    const approvalOfFirst = await waitForApprovalMessage(box.slack, first);
    await box.driver.clickButton(PEOPLE.carol, approvalOfFirst, 'request_approve');
    await waitForState(box, first, 'applied');
    const next = await requestAs(box, PEOPLE.alice, `extend ${id} for 10m because three`);
    expect((await readRequest(box, next.id)).state).toBe('pending');
  });

  it('refuses an extension past now + maxDuration for a grant a person approved, saying how much is left', async () => {
    const box = await start('extend-human');
    const { id, approval } = await requestAs(
      box,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 30m because fix`,
    );
    await box.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(box, id, 'applied');
    const said = await say(`extend ${id} for 1h because more`, /may be held/);
    expect(said).toMatch(/Ask for at most (29m|30m)\./);
  });

  it('checks an extension again when it is approved, under the policy of that moment', async () => {
    const box = await start('extend-stricter', '1h');
    const { id, approval } = await requestAs(
      box,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 45m because fix`,
    );
    await box.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const applied = await waitForState(box, id, 'applied');
    const extension = await requestAs(box, PEOPLE.alice, `extend ${id} for 10m because more`);
    // The read-write rule's maxDuration goes from 1h to 30m before anyone decides.
    await writeFile(
      box.config.policyFile,
      POLICY('1h').replace(
        `roles: [${WRITE}]\n        maxDuration: 1h`,
        `roles: [${WRITE}]\n        maxDuration: 30m`,
      ),
    );
    await box.rolecall.reloadPolicy();
    const since = box.slack.events.length;
    await box.driver.clickButton(PEOPLE.bob, extension.approval, 'request_approve');
    const refused = await ephemeralAfter(box, PEOPLE.bob, since, /may be held/);
    expect(refused).toContain(`${id} already ends in`);
    expect(refused).toContain('its roles may be held at most 30m from now');
    expect((await readRequest(box, extension.id)).state).toBe('pending');
    expect((await readRequest(box, id)).grant?.revokeAt).toBe(applied.grant?.revokeAt);
  });
});
