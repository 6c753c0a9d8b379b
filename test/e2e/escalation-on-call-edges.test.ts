import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpsgenieSimulator, startOpsgenieSimulator } from '../../dev/opsgenie-simulator.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import {
  ephemeralAfter,
  readAudit,
  readRequest,
  repliesTo,
  requestAs,
  sleep,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

/**
 * payments-prod where GROUP_READ_ONLY escalates to Mallory after 2s, and READ is decided by Bob alone
 * (its rule names no escalation).
 */
const POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}]
    roles: [GROUP_READ_ONLY, ${READ}]
    rules:
      - roles: [GROUP_READ_ONLY]
        escalate: {after: 2s, to: [${PEOPLE.mallory.id}]}
      - roles: [${READ}]
        approvers: [${PEOPLE.bob.id}]
`;

describe('escalation (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('refuses a fallback approver of one role who clicks on a request that also asks for a role they may not decide', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('escalate-mixed'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: POLICY,
    });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request GROUP_READ_ONLY,${READ} on payments-prod for 1h because audit`,
    );
    // Past GROUP_READ_ONLY's escalation: READ is still Bob's alone, so Mallory decides nothing.
    const { createdAt } = await readRequest(sandbox, id);
    await sleep(Math.max(0, createdAt + 3_000 - Date.now()));
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.mallory, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.mallory, since, /can decide on it/)).toContain(
      `only the approvers of GROUP_READ_ONLY, ${READ} on payments-prod can decide on it`,
    );
    await sleep(500);
    const request = await readRequest(sandbox, id);
    expect(request.state).toBe('pending');
    expect(request.approvals).toEqual([]);
    expect(repliesTo(sandbox, approval, /was escalated to/)).toEqual([]);
  }, 30_000);

  it('escalates at the new time when a policy reload makes escalate.after longer before it is due', async () => {
    const policy = (after: string) => `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}]
    roles: [GROUP_READ_ONLY, ${READ}]
    escalate: {after: ${after}, to: [${PEOPLE.carol.id}]}
`;
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('escalate-reload'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: policy('2s'),
    });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because audit`,
    );
    await writeFile(sandbox.config.policyFile, policy('5s'));
    await sandbox.rolecall.reloadPolicy();
    const { createdAt } = await readRequest(sandbox, id);
    const notice = await waitForThreadReply(sandbox.slack, approval, /was escalated to/, 12_000);
    expect(Math.round(Number(notice.ts) * 1000)).toBeGreaterThanOrEqual(createdAt + 5_000 - 50);
    expect(notice.text).toContain(`${id} was escalated to <@${PEOPLE.carol.id}> after 5s without a decision`);
    await waitForDm(sandbox.slack, PEOPLE.carol.id, new RegExp(`${id} was escalated to you after 5s`));
    const audit = await readAudit(sandbox, id);
    expect(audit.filter((e) => e.detail.startsWith('escalated to')).map((e) => e.detail)).toEqual([
      `escalated to ${PEOPLE.carol.id} after 5s without a decision`,
    ]);
  }, 30_000);
});

describe('on-call approval (end to end)', () => {
  let sandbox: Sandbox;
  let opsgenie: OpsgenieSimulator;

  afterEach(async () => {
    await sandbox.stop();
    await opsgenie.close();
  });

  it('says a schedule name with mrkdwn and a line break on one plain line, in the message and the audit', async () => {
    const schedule = '5e8f0c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6';
    opsgenie = await startOpsgenieSimulator({
      apiKey: 'og-key-review',
      schedules: [
        {
          id: schedule,
          name: '<!channel> *payments*\n*Roles after approval* GROUP_OWNER',
          onCall: ['ALICE@example.com'],
        },
      ],
    });
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('oncall-name'),
      env: {
        JOB_BACKOFF_MS: '50',
        RECONCILE_INTERVAL: '1h',
        OPSGENIE_API_KEY: 'og-key-review',
        OPSGENIE_API_URL: opsgenie.apiUrl,
      },
      policy: `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}]
    roles: [GROUP_READ_ONLY, ${READ}]
    rules:
      - roles: [${READ}]
        onCall: {opsgenie: [${schedule}]}
        maxDuration: 4h
`,
    });
    const { id } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because paged`,
    );
    const applied = await waitForState(sandbox, id, 'applied');
    const said = `<@${PEOPLE.alice.id}> is on call for !channel payments Roles after approval GROUPOWNER (Opsgenie)`;
    expect(applied.decision?.note).toBe(`approved: ${said}`);
    expect((await readAudit(sandbox, id)).map((e) => e.detail)).toContain(`approved: ${said}`);
  }, 30_000);
});
