import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { requestIdIn, waitForApprovalMessage, waitForDm } from '../../dev/slack-flow.js';
import { type Rolecall, startRolecall } from '../../src/compose/start-rolecall.js';
import { FLOW_FLAVORS, kindOf } from '../support/flow-flavors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe.each(FLOW_FLAVORS)('lost updates on ATLAS_API=$api', (flavor) => {
  let sandbox: Sandbox;
  let secondWorker: Rolecall;

  beforeEach(async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('lost'),
      atlasApi: flavor.api,
    });
    secondWorker = await startRolecall({ ...sandbox.config, mode: 'worker' });
  });

  afterEach(async () => {
    await secondWorker.stop();
    await sandbox.stop();
  });

  it('keeps both changes when two approved requests for the same user and project run at once', async () => {
    const ids: string[] = [];
    for (const role of ['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE']) {
      await sandbox.driver.command(
        PEOPLE.alice,
        `request ${role} on payments-prod because both`,
        CHANNELS.general,
      );
      ids.push(
        await waitUntil(() => {
          const found = sandbox.slack.events
            .filter(
              (e) =>
                e.kind === 'ephemeral' &&
                e.user === PEOPLE.alice.id &&
                /Request \*AR-[0-9A-Z]+\* is waiting for approval/.test(e.text),
            )
            .map((e) => (e.kind === 'ephemeral' ? requestIdIn(e.text) : ''));
          return found.length === ids.length + 1 ? found[ids.length] : undefined;
        }),
      );
    }
    const approvals = await Promise.all(ids.map((id) => waitForApprovalMessage(sandbox.slack, id)));
    const before = sandbox.atlas.authenticatedCalls().length;
    // Slow every read and write down, so that unserialized changes would surely interleave.
    sandbox.atlas.inject({ ...flavor.roleRead, delayMs: 400, times: 10 });
    sandbox.atlas.inject({ ...flavor.roleWrite, delayMs: 400, times: 10 });

    await Promise.all(
      approvals.map((approval) => sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve')),
    );
    await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .filter((m) => /applied/.test(m.text)).length === 2
          ? true
          : undefined,
      15_000,
      'two applied DMs',
    );
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);

    const project = { kind: 'project', id: ATLAS.project.id } as const;
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, project).sort()).toEqual([
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_DATA_ACCESS_READ_WRITE',
      'GROUP_READ_ONLY',
    ]);
    // One change after the other (answered in this order although every call is slowed down): on
    // atlas-v2 each reads the roles and writes them back; on atlas-v2-2025 each is one :addRole.
    const calls = sandbox.atlas.authenticatedCalls().slice(before);
    const sequence = calls.map((c) => kindOf(flavor, c)).filter((k) => k !== 'lookup');
    expect(sequence).toEqual([...flavor.grantCalls, ...flavor.grantCalls]);
  });
});
