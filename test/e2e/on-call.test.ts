import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { type OpsgenieSimulator, startOpsgenieSimulator } from '../../dev/opsgenie-simulator.js';
import { type PagerDutySimulator, startPagerDutySimulator } from '../../dev/pagerduty-simulator.js';
import { CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { readAudit, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const PD_SCHEDULE = 'PSCHED01';
const OG_SCHEDULE = '5e8f0c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';

/** The sandbox policy, with an on-call rule for GROUP_DATA_ACCESS_READ_ONLY on payments-prod. */
function policyWith(onCall: string): string {
  return SANDBOX_POLICY.replace(
    '    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n',
    `    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
    rules:
      - roles: [${READ}]
        onCall: {${onCall}}
        maxDuration: 4h
`,
  );
}

describe('on-call approval (end to end)', () => {
  let sandbox: Sandbox;
  let pagerduty: PagerDutySimulator | undefined;
  let opsgenie: OpsgenieSimulator | undefined;

  afterEach(async () => {
    await sandbox.stop();
    await pagerduty?.close();
    await opsgenie?.close();
    pagerduty = undefined;
    opsgenie = undefined;
  });

  const startWith = async (label: string, policy: string, env: Record<string, string>) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', ON_CALL_CACHE: '1s', ...env },
      policy,
    });
  };

  it('approves the person on call (PagerDuty) at once and says so, and not the one who just went off call', async () => {
    pagerduty = await startPagerDutySimulator({
      token: 'pd-token-e2e',
      schedules: [{ id: PD_SCHEDULE, name: 'payments-primary', onCall: [PEOPLE.alice.email] }],
    });
    await startWith('oncall-pd', policyWith(`pagerduty: [${PD_SCHEDULE}]`), {
      PAGERDUTY_TOKEN: 'pd-token-e2e',
      PAGERDUTY_API_URL: pagerduty.apiUrl,
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.decision).toMatchObject({
      by: 'policy',
      note: `approved: <@${PEOPLE.alice.id}> is on call for payments-primary (PagerDuty)`,
    });
    const message = await waitUntil(
      () => {
        const text = JSON.stringify(sandbox.slack.message(CHANNELS.approvals, asked.approval.ts)?.blocks);
        return text?.includes('is on call for') ? text : undefined;
      },
      5_000,
      'the approval message saying who is on call',
    );
    expect(message).toContain(
      `by the policy: <@${PEOPLE.alice.id}> is on call for payments-primary (PagerDuty)`,
    );
    const audit = (await readAudit(sandbox, asked.id)).map((e) => e.detail).join('\n');
    expect(audit).toContain('is on call for payments-primary (PagerDuty)');

    // The schedule changes: Dana is on call now, Alice is not (after the 1 s the answer is kept).
    pagerduty.setOnCall(PD_SCHEDULE, [PEOPLE.dana.email]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // Alice asks again (a role held only through a temporary grant may be asked for again).
    const offCall = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2h because paged again`,
    );
    const waiting = await waitForState(sandbox, offCall.id, 'pending');
    expect(waiting.decision).toBeNull();
  }, 30_000);

  it('fails closed when the provider cannot answer: the request waits for an approver', async () => {
    pagerduty = await startPagerDutySimulator({
      token: 'pd-token-e2e',
      schedules: [{ id: PD_SCHEDULE, name: 'payments-primary', onCall: [PEOPLE.alice.email] }],
    });
    pagerduty.outage = 'error';
    await startWith('oncall-outage', policyWith(`pagerduty: [${PD_SCHEDULE}]`), {
      PAGERDUTY_TOKEN: 'pd-token-e2e',
      PAGERDUTY_API_URL: pagerduty.apiUrl,
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    const waiting = await waitForState(sandbox, asked.id, 'pending');
    expect(waiting.decision).toBeNull();
    expect(pagerduty.calls.length).toBeGreaterThan(0);
  }, 30_000);

  it('approves the person on call in Opsgenie, for the roles whose rule names the schedule only', async () => {
    opsgenie = await startOpsgenieSimulator({
      apiKey: 'og-key-e2e',
      schedules: [{ id: OG_SCHEDULE, name: 'payments-secondary', onCall: [PEOPLE.alice.email] }],
    });
    await startWith('oncall-og', policyWith(`opsgenie: [${OG_SCHEDULE}]`), {
      OPSGENIE_API_KEY: 'og-key-e2e',
      OPSGENIE_API_URL: opsgenie.apiUrl,
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    const applied = await waitForState(sandbox, asked.id, 'applied');
    expect(applied.decision?.note).toBe(
      `approved: <@${PEOPLE.alice.id}> is on call for payments-secondary (Opsgenie)`,
    );
    // Being on call lets through only the roles whose rule names the schedule.
    const other = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_WRITE on payments-prod for 1h because write too',
    );
    const waiting = await waitForState(sandbox, other.id, 'pending');
    expect(waiting.decision).toBeNull();
  }, 30_000);
});
