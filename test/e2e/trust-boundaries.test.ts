import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, SANDBOX_POLICY, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { buildCommandPayload } from '../../dev/slack-driver.js';
import { blockText, waitForApprovalMessage, waitForDm, waitForThreadReply } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { type Rolecall, startRolecall } from '../../src/compose/start-rolecall.js';
import { parseConfig } from '../../src/config.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { CHECKING } from '../../src/slack/handlers/access-command.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { ephemeralAfter, type Person, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';

describe('trust boundaries (end to end)', () => {
  let sandbox: Sandbox;
  const extra: { stop(): Promise<void> }[] = [];

  afterEach(async () => {
    for (const thing of extra.splice(0).reverse()) await thing.stop();
    await sandbox.stop();
  });

  const start = async (label: string, env: Record<string, string> = {}, mode: 'all' | 'bot' = 'all') => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label), env, mode });
  };

  const refusalCount = async (action: string): Promise<number> => {
    const redis = new Redis(TEST_REDIS_URL);
    const stats = await redis.hgetall(redisKeys(sandbox.config.redis.prefix).refusalStats);
    const audit = await redis.xrange(redisKeys(sandbox.config.redis.prefix).audit, '-', '+');
    await redis.quit();
    const inAudit = audit.filter(([, f]) => f.includes('refusal') && f.includes(action)).length;
    expect(inAudit).toBe(Number(stats[action] ?? 0));
    return inAudit;
  };

  it('serves Slack from a bot process that has no Atlas variable at all; a worker does every Atlas call', async () => {
    await start('bot-only', { ATLAS_PUBLIC_KEY: '', ATLAS_PRIVATE_KEY: '' }, 'bot');
    expect(sandbox.config.atlas).toBeNull();
    const workerEnv = {
      ...sandbox.env,
      ATLAS_PUBLIC_KEY: 'sandboxpub',
      ATLAS_PRIVATE_KEY: '8d2c7f1e-sandbox-private-key',
    };
    const worker: Rolecall = await startRolecall(parseConfig(workerEnv, { mode: 'worker' }));
    extra.push(worker);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod because bot only`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    await worker.stop();
    extra.pop();
  });

  it('starts `main.js bot` as a process with no ATLAS_* in its environment, and stores what it is sent', async () => {
    await start('bot-process');
    const {
      ATLAS_PUBLIC_KEY: _key,
      ATLAS_PRIVATE_KEY: _secret,
      ATLAS_BASE_URL: _base,
      PORT: _port,
      ...env
    } = sandbox.env;
    const bot = spawnRolecall(['bot'], { ...env, PORT: '0', LOG_LEVEL: 'info' });
    extra.push({ stop: () => bot.kill('SIGTERM') });
    await bot.ready();
    expect(bot.output()).not.toContain('sandboxpub');
    const port = Number(/"port":(\d+)/.exec(bot.output())?.[1]);
    const payload = buildCommandPayload(
      sandbox.slack,
      PEOPLE.alice,
      `request ${READ} on payments-prod because from a bot process`,
      CHANNELS.general,
    );
    const body = new URLSearchParams(payload).toString();
    const response = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: sandbox.driver.sign(body),
      body,
    });
    expect(response.status).toBe(200);
    // The in-process app (all mode) runs the worker side: the request goes on to the approvers.
    expect(await response.json()).toEqual({ response_type: 'ephemeral', text: CHECKING });
    const confirmed = await ephemeralAfter(sandbox, PEOPLE.alice, 0, /waiting for approval/);
    const id = /AR-[0-9A-Z]+/.exec(confirmed)?.[0] ?? '';
    await waitForApprovalMessage(sandbox.slack, id);
  });

  it.each([
    ['a guest', PEOPLE.gus, 'is a guest account'],
    ['a deactivated account', PEOPLE.dee, 'is deactivated'],
    ['someone of another workspace', PEOPLE.pat, 'belongs to another Slack workspace'],
  ] as [string, Person, string][])(
    'refuses %s, stores nothing, and audits and counts the refusal',
    async (_who, person, words) => {
      await start(`standing-${person.name}`);
      await sandbox.driver.command(
        person,
        `request ${READ} on payments-prod for 1h because x`,
        CHANNELS.general,
      );
      expect(await ephemeralAfter(sandbox, person, 0, /Slack account/)).toContain(
        `Your Slack account ${words}`,
      );
      expect(await refusalCount('request')).toBe(1);
      const redis = new Redis(TEST_REDIS_URL);
      expect(await redis.exists(redisKeys(sandbox.config.redis.prefix).requestSeq)).toBe(0);
      await redis.quit();
    },
  );

  it('treats a payload from another team as external, whoever it names', async () => {
    await start('foreign-team');
    const payload = {
      ...buildCommandPayload(sandbox.slack, PEOPLE.alice, 'list', CHANNELS.general),
      team_id: 'T0OTHER',
    };
    const body = new URLSearchParams(payload).toString();
    expect((await sandbox.driver.sendRaw(body, sandbox.driver.sign(body))).status).toBe(200);
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /another Slack workspace/)).toContain(
      'Your Slack account belongs to another Slack workspace',
    );
    expect(await refusalCount('list')).toBe(1);
  });

  const submitModal = async (requester: Person, grantee: Person) => {
    const since = sandbox.slack.callsTo('views.open').length;
    await sandbox.driver.command(requester, '', CHANNELS.general);
    const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[since], 5_000, 'request modal');
    const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
    return sandbox.driver.submitView(requester, view, {
      target: {
        value: {
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: 'payments-prod' }, value: 'payments-prod' },
        },
      },
      grantee: { value: { type: 'users_select', selected_user: grantee.id } },
      roles: {
        value: {
          type: 'multi_static_select',
          selected_options: [{ text: { type: 'plain_text', text: READ }, value: READ }],
        },
      },
      duration: { value: { type: 'plain_text_input', value: '1h' } },
      reason: { value: { type: 'plain_text_input', value: 'incident 7' } },
    });
  };

  it('lets only approvers ask on behalf of someone else; the grantee is told at once and can say Not me', async () => {
    await start('on-behalf');
    await submitModal(PEOPLE.alice, PEOPLE.dana);
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /someone else/)).toContain(
      'You can’t ask for access for someone else on payments-prod; ask for yourself, or ask the people who may.\nWho may: <@U0BOB>, <@U0CAROL>.',
    );
    expect(await refusalCount('request')).toBe(1);

    await submitModal(PEOPLE.bob, PEOPLE.dana);
    const received = await ephemeralAfter(sandbox, PEOPLE.bob, 0, /received/);
    const id = /AR-[0-9A-Z]+/.exec(received)?.[0] ?? '';
    const approval = await waitForApprovalMessage(sandbox.slack, id);
    expect(blockText(approval)).toContain('<@U0BOB> asks for Atlas access for <@U0DANA>');
    const notice = await waitForDm(sandbox.slack, PEOPLE.dana.id, /asked for Atlas access for you/);
    expectValidMessageBlocks(notice.blocks);
    expect(notice.text).toContain('“incident 7”');
    // Someone else's Not me button: refused. The grantee's: cancels.
    await sandbox.driver.clickButton(PEOPLE.mallory, notice, 'request_not_me');
    await ephemeralAfter(sandbox, PEOPLE.mallory, 0, /can cancel it/);
    await sandbox.driver.clickButton(PEOPLE.dana, notice, 'request_not_me');
    const cancelled = await waitForState(sandbox, id, 'cancelled');
    expect(cancelled.decision?.by).toBe(PEOPLE.dana.id);
    await waitForThreadReply(sandbox.slack, approval, /cancelled by <@U0DANA>/);
    expect(blockText(approval)).not.toContain('request_approve');
  });

  it('re-checks an approval against the policy in force at the click', async () => {
    await start('recheck');
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 4h because x`,
    );
    await writeFile(
      sandbox.config.policyFile,
      SANDBOX_POLICY.replace('GROUP_DATA_ACCESS_READ_ONLY, ', '').replace(
        'roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]',
        'roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]\n    maxDuration: 1h',
      ),
    );
    await sandbox.rolecall.reloadPolicy();
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, 0, /no longer fits the policy/)).toContain(
      `${id} no longer fits the policy: GROUP_DATA_ACCESS_READ_ONLY cannot be requested on payments-prod.`,
    );
    expect((await readRequest(sandbox, id)).state).toBe('pending');
    expect(sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT')).toEqual([]);
  });

  it('refuses a button whose value is not a request id before it reaches Redis', async () => {
    await start('bad-button');
    const forged: SimulatedMessage = {
      channel: CHANNELS.approvals,
      ts: '1.1',
      threadTs: undefined,
      text: 'x',
      updates: 0,
      blocks: [
        {
          type: 'actions',
          block_id: 'decide:x',
          elements: [
            {
              type: 'button',
              action_id: 'request_approve',
              text: { type: 'plain_text', text: 'Approve' },
              value: 'AR-1*',
            },
          ],
        },
      ],
    };
    await sandbox.driver.clickButton(PEOPLE.bob, forged, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, 0, /does not point/)).toContain(
      'That button does not point at a Rolecall request.',
    );
  });

  it('sends no reply to a response_url outside Slack: the person gets a DM instead', async () => {
    await start('evil-url');
    let hits = 0;
    const evil = createServer((_req, res) => {
      hits += 1;
      res.end('ok');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    extra.push({ stop: () => new Promise<void>((resolve) => evil.close(() => resolve())) });
    const payload = {
      ...buildCommandPayload(sandbox.slack, PEOPLE.alice, 'list', CHANNELS.general),
      response_url: `http://127.0.0.1:${(evil.address() as AddressInfo).port}/steal`,
    };
    const body = new URLSearchParams(payload).toString();
    await sandbox.driver.sendRaw(body, sandbox.driver.sign(body));
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /open request/);
    expect(hits).toBe(0);
  });

  it('limits how many requests wait for one person at once', async () => {
    await start('open-limit', { MAX_OPEN_REQUESTS: '2' });
    for (const role of [READ, 'GROUP_DATA_ACCESS_READ_WRITE']) {
      await requestAs(sandbox, PEOPLE.alice, `request ${role} on payments-prod for 1h because ${role}`);
    }
    await sandbox.driver.command(
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2h because third`,
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /waiting for a decision, the most/)).toContain(
      'You have 2 requests waiting for a decision',
    );
    // Someone else is not affected.
    await requestAs(sandbox, PEOPLE.bob, 'request ORG_READ_ONLY on acme for 1h because one');
  });

  it('limits how many requests one person files a minute', async () => {
    await start('rate-limit', { REQUESTS_PER_MINUTE: '2' });
    for (let i = 0; i < 3; i += 1) {
      await sandbox.driver.command(
        PEOPLE.carol,
        `request ${READ} on payments-prod for 1h because n${i}`,
        CHANNELS.general,
      );
    }
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, 0, /in the last minute/)).toContain(
      'You have filed 2 requests in the last minute, the most Rolecall takes; try again in',
    );
  });
});
