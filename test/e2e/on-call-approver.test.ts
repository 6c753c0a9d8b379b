import { afterEach, describe, expect, it } from 'vitest';
import { type PagerDutySimulator, startPagerDutySimulator } from '../../dev/pagerduty-simulator.js';
import { PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { readAudit, readRequest, requestAs, sleep, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const PD_SCHEDULE = 'PSCHED02';

/** The sandbox policy: GROUP_DATA_ACCESS_READ_ONLY on payments-prod needs 2 approvals, or one on call. */
const POLICY = SANDBOX_POLICY.replace(
  '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
  `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    rules:
      - roles: [${READ}]
        approvals: 2
        onCall: {pagerduty: [${PD_SCHEDULE}]}
        onCallApproves: approver
        maxDuration: 4h
`,
);

describe('on-call approval by the approver (end to end)', () => {
  let sandbox: Sandbox;
  let pagerduty: PagerDutySimulator;

  afterEach(async () => {
    await sandbox.stop();
    await pagerduty.close();
  });

  const start = async (label: string, onCall: readonly string[]) => {
    pagerduty = await startPagerDutySimulator({
      token: 'pd-token-e2e',
      schedules: [{ id: PD_SCHEDULE, name: 'payments-primary', onCall }],
    });
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: {
        JOB_BACKOFF_MS: '50',
        RECONCILE_INTERVAL: '1h',
        ON_CALL_CACHE: '1s',
        PAGERDUTY_TOKEN: 'pd-token-e2e',
        PAGERDUTY_API_URL: pagerduty.apiUrl,
      },
      policy: POLICY,
    });
  };

  it('applies a request needing 2 approvals on the approval alone of an approver on call, and says so in the audit', async () => {
    await start('oncall-approver-alone', [PEOPLE.bob.email]);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id]);
    expect(applied.decision?.by).toBe(PEOPLE.bob.id);
    const audit = (await readAudit(sandbox, id)).map((e) => e.detail);
    expect(audit).toContain(
      `approved alone: <@${PEOPLE.bob.id}> is on call for payments-primary (PagerDuty)`,
    );
  }, 30_000);

  it('counts one approval of an approver who is not on call, and needs a second', async () => {
    await start('oncall-approver-off', [PEOPLE.dana.email]);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const once = await waitForAuditNote(id, 'approval 1 of 2');
    expect(once.state).toBe('pending');
    expect(once.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id]);
    await sandbox.driver.clickButton(PEOPLE.carol, approval, 'request_approve');
    const applied = await waitForState(sandbox, id, 'applied');
    expect(applied.approvals.map((a) => a.by)).toEqual([PEOPLE.bob.id, PEOPLE.carol.id]);
    const audit = (await readAudit(sandbox, id)).map((e) => e.detail).join('\n');
    expect(audit).not.toContain('approved alone');
  }, 30_000);

  it('counts one approval of an approver on call when the provider cannot answer (fails closed)', async () => {
    await start('oncall-approver-outage', [PEOPLE.bob.email]);
    pagerduty.outage = 'error';
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    await waitForState(sandbox, id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    const once = await waitForAuditNote(id, 'approval 1 of 2');
    expect(once.state).toBe('pending');
    expect(pagerduty.calls.length).toBeGreaterThan(0);
  }, 30_000);

  it('does not approve at once a requester who is on call when the rule lets the approver through', async () => {
    await start('oncall-approver-requester', [PEOPLE.alice.email]);
    const { id } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    const waiting = await waitForState(sandbox, id, 'pending');
    expect(waiting.decision).toBeNull();
    expect(waiting.approvals).toEqual([]);
  }, 30_000);

  /** The request once its audit has an entry with `note`. */
  const waitForAuditNote = async (id: string, note: string) => {
    for (let tries = 0; tries < 100; tries += 1) {
      if ((await readAudit(sandbox, id)).some((e) => e.detail.includes(note)))
        return readRequest(sandbox, id);
      await sleep(50);
    }
    throw new Error(`no audit entry "${note}" on ${id}`);
  };
});
