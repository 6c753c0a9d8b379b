import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import {
  postedIn,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
} from '../../dev/slack-flow.js';
import { FLOW_FLAVORS, isRoleWrite, onRoleWrites } from '../support/flow-flavors.js';
import { type RolecallProcess, spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe.each(FLOW_FLAVORS)('worker crash on ATLAS_API=$api', (flavor) => {
  let sandbox: Sandbox | undefined;
  const workers: RolecallProcess[] = [];

  afterEach(async () => {
    await Promise.all(workers.map((w) => w.kill('SIGKILL')));
    await sandbox?.stop();
  });

  it('finishes the change on another worker when one is SIGKILLed in the middle of the Atlas call', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('crash'),
      mode: 'bot',
      atlasApi: flavor.api,
    });
    const env = {
      ...sandbox.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_LOCK_MS: '1500',
      JOB_BACKOFF_MS: '100',
    };
    const first = spawnRolecall(['worker'], env);
    workers.push(first);
    await first.ready();

    await sandbox.driver.command(
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because crash',
      CHANNELS.general,
    );
    const id = requestIdIn(
      await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/),
    );
    const approval = await waitForApprovalMessage(sandbox.slack, id);
    const atlas = sandbox.atlas;
    atlas.inject(onRoleWrites(flavor, { delayMs: 4_000 }));
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');

    await waitUntil(
      () => atlas.received.find((r) => isRoleWrite(flavor, r)) ?? undefined,
      10_000,
      'the first worker to be inside its PUT',
    );
    await first.kill('SIGKILL');
    expect(first.child.signalCode).toBe('SIGKILL');

    const second = spawnRolecall(['worker'], env);
    workers.push(second);
    await second.ready();

    const dm = await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/, 20_000);
    expect(dm.text).toContain(`${id} approved by <@${PEOPLE.bob.id}> and applied`);
    const project = { kind: 'project', id: ATLAS.project.id } as const;
    // Every role write that reached Atlas has been answered, the dead worker's delayed one included:
    // nothing is in flight any more, so the roles read below are final. (The second worker may have
    // found the roles already there and written nothing.)
    const roleWritesIn = (calls: readonly { method: string; path: string }[]) =>
      calls.filter((c) => isRoleWrite(flavor, c)).length;
    await waitUntil(
      () => (roleWritesIn(atlas.calls) === roleWritesIn(atlas.received) ? true : undefined),
      15_000,
      'every role write to be answered',
    );
    expect(atlas.authenticatedCalls().filter((c) => isRoleWrite(flavor, c)).length).toBeGreaterThanOrEqual(1);
    expect(atlas.rolesOf(PEOPLE.alice.email, project).sort()).toEqual([
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_READ_ONLY',
    ]);
    expect(
      postedIn(sandbox.slack, approval.channel, approval.ts).filter((m) => /applied/.test(m.text)),
    ).toHaveLength(1);
    expect(
      sandbox.slack
        .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
        .filter((m) => /applied/.test(m.text)),
    ).toHaveLength(1);
    expect(second.output()).toContain('"request applied"');
  }, 60_000);
});
