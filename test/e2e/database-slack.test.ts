import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { createLogger } from '../../src/ops/logger.js';
import { readStoredHash } from '../../src/requests/request-codec.js';
import { expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import {
  ephemeralAfter,
  type Person,
  readAudit,
  requestAs,
  waitForQueuesDone,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const GROUP = ATLAS.project.id;
const CLUSTER = 'orders-cluster';

/** The sandbox's project offering one database access level, with passwords and the access list. */
const POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY]
    database:
      auth: password
      accessList: ask
      levels:
        orders-read:
          roles:
            - { role: read, db: orders }
            - { role: readWrite, db: scratch, collection: invoices }
          clusters: [${CLUSTER}]
`;

/** A log line as the app wrote it, raw. */
type Lines = string[];

describe('database access in Slack (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    vi.restoreAllMocks();
    await sandbox.stop();
  });

  /** A sandbox whose every log line (debug included) and console line is kept in `lines`. */
  const start = async (label: string, lines: Lines) => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      });
    }
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h', LOG_LEVEL: 'debug' },
      policy: POLICY,
      atlas: { clusters: [{ groupId: GROUP, name: CLUSTER }] },
      overrides: { logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) },
    });
  };

  /** Asks for db:orders-read as alice, has bob approve it, and returns it applied with her DM. */
  const grantToAlice = async (duration: string) => {
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for ${duration} because invoices are stuck`,
    );
    await waitForState(sandbox, asked.id, 'pending');
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied');
    const dm = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m) => m.text.includes(applied.id) && m.text.includes('database user')),
      5_000,
      'the applied DM',
    );
    return { ...asked, applied, dm };
  };

  /** The modal `person` opened after event index `since` (views.open), once Slack has it. */
  const openedViewOf = (person: Person, since: number) =>
    waitUntil(
      () =>
        sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'view' && e.user === person.id ? e.view : undefined))
          .find((v) => v !== undefined),
      5_000,
      `a modal opened for ${person.name}`,
    );

  /** Clicks Show password as alice and returns the modal's id and the password the worker put in it. */
  const showPassword = async (dm: SimulatedMessage) => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.alice, dm, 'db_password_show');
    const opened = await openedViewOf(PEOPLE.alice, since);
    expect(JSON.stringify(opened.blocks)).toContain('Setting a new password');
    const viewId = String(opened.id);
    const shown = await waitUntil(
      () => {
        const view = sandbox.slack.viewById(viewId);
        const blocks = (view?.blocks ?? []) as { type: string; text?: { type: string; text: string } }[];
        return blocks.find((b) => b.type === 'section' && b.text?.type === 'plain_text') ? view : undefined;
      },
      8_000,
      'the password in the modal',
    );
    expectValidModal(shown);
    const blocks = shown.blocks as { type: string; text?: { type: string; text: string } }[];
    const password = blocks.find((b) => b.text?.type === 'plain_text')?.text?.text ?? '';
    return { viewId, password, text: JSON.stringify(shown.blocks) };
  };

  /** Every value under the sandbox's Redis prefix, as text (strings, hashes, lists, sets, streams). */
  const redisDump = async (): Promise<string> => {
    const redis = new Redis(TEST_REDIS_URL);
    const parts: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `${sandbox.config.redis.prefix}:*`,
          'COUNT',
          500,
        );
        cursor = next;
        for (const key of keys) {
          const type = await redis.type(key);
          parts.push(key);
          if (type === 'string') parts.push(String(await redis.get(key)));
          // A settled request is compressed: read as the store reads it, so nothing hides in it.
          else if (type === 'hash')
            parts.push(JSON.stringify(readStoredHash(key, await redis.hgetallBuffer(key))));
          else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
          else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
          else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        }
      } while (cursor !== '0');
    } finally {
      await redis.quit();
    }
    return parts.join('\n');
  };

  it('shows the password once to the grantee, replaces it on a second press, refuses anyone else, and keeps it out of logs, the audit, messages and Redis', async () => {
    const lines: Lines = [];
    await start('db-password', lines);
    const { id, applied, dm } = await grantToAlice('1h');
    const grant = applied.database;
    expect(grant?.auth).toBe('password');
    const username = grant?.username ?? '';

    // The DM names the database user and its end, with the two buttons.
    expectValidMessageBlocks(dm.blocks);
    const dmText = JSON.stringify(dm.blocks);
    expect(dm.text).toContain(`database user \`${username}\``);
    expect(dm.text).toContain(`<!date^${Math.floor((applied.grant?.revokeAt ?? 0) / 1000)}^`);
    expect(dmText).toContain('"action_id":"db_password_show"');
    expect(dmText).toContain('"action_id":"db_address_add"');

    // Someone else's click is refused in words, and opens nothing.
    for (const stranger of [PEOPLE.bob, PEOPLE.mallory]) {
      const since = sandbox.slack.events.length;
      await sandbox.driver.clickButton(stranger, dm, 'db_password_show');
      const refusal = await ephemeralAfter(sandbox, stranger, since, /\S/);
      expect(refusal.length).toBeGreaterThan(10);
      expect(sandbox.slack.events.slice(since).filter((e) => e.kind === 'view')).toEqual([]);
    }
    const bobSince = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.bob, dm, 'db_password_show');
    expect(await ephemeralAfter(sandbox, PEOPLE.bob, bobSince, /Only the person/)).toContain(id);

    const first = await showPassword(dm);
    expect(first.password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(first.text).toContain(username);
    expect(first.text).toContain('keeps no copy');
    expect(first.text).toContain('press *Show password* again');
    expect(sandbox.atlas.canLogIn(GROUP, username, first.password)).toBe(true);

    const second = await showPassword(dm);
    expect(second.viewId).not.toBe(first.viewId);
    expect(second.password).not.toBe(first.password);
    expect(sandbox.atlas.canLogIn(GROUP, username, second.password)).toBe(true);
    expect(sandbox.atlas.canLogIn(GROUP, username, first.password)).toBe(false);

    // Every job of the request is done (the database queue keeps none), then look everywhere.
    await waitForQueuesDone(sandbox, id, ['notify', 'database']);
    const audit = await readAudit(sandbox, id);
    const shownOnce = audit.filter((e) => e.detail.includes('shown once'));
    expect(shownOnce).toHaveLength(2);
    const redis = await redisDump();
    expect(redis).toContain(id);
    const slackEvents = sandbox.slack.events.filter(
      (e) =>
        !(
          e.kind === 'view' &&
          e.user === undefined &&
          [first.viewId, second.viewId].includes(String(e.view.id))
        ),
    );
    const slackCalls = sandbox.slack.calls.filter(
      (c) => !(c.method === 'views.update' && [first.viewId, second.viewId].includes(String(c.args.view_id))),
    );
    const updates = sandbox.slack.calls.filter((c) => c.method === 'views.update');
    // Debug lines were captured (the bot's client logs its bodies there), and none held a password.
    expect(lines.some((l) => l.includes('http request body'))).toBe(true);
    for (const { password, viewId } of [first, second]) {
      expect(lines.filter((l) => l.includes(password))).toEqual([]);
      expect(JSON.stringify(audit)).not.toContain(password);
      expect(redis).not.toContain(password);
      expect(JSON.stringify(slackEvents)).not.toContain(password);
      expect(JSON.stringify(slackCalls)).not.toContain(password);
      // Only in the one views.update of its own modal.
      const carrying = updates.filter((c) => JSON.stringify(c.args).includes(password));
      expect(carrying.map((c) => c.args.view_id)).toEqual([viewId]);
    }
  }, 45_000);

  it('puts the address from the modal on the access list until the grant ends, refuses what is not an address, and the entry goes with the grant', async () => {
    const lines: Lines = [];
    await start('db-address', lines);
    const { id, applied, dm } = await grantToAlice('5s');
    const end = applied.grant?.revokeAt ?? 0;

    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.alice, dm, 'db_address_add');
    const modal = await openedViewOf(PEOPLE.alice, since);
    expectValidModal(modal);
    const input = (modal.blocks as { type: string; block_id?: string; label?: { text: string } }[]).filter(
      (b) => b.type === 'input',
    );
    expect(input.map((b) => [b.block_id, b.label?.text])).toEqual([['address', 'IP address or CIDR']]);

    const bad = await sandbox.driver.submitView(PEOPLE.alice, modal, {
      address: { value: { type: 'plain_text_input', value: 'not-an-ip' } },
    });
    expect(bad.json).toMatchObject({ response_action: 'errors', errors: { address: expect.any(String) } });
    const errors = (bad.json?.errors ?? {}) as { address?: string };
    expect(errors.address).toContain('IP address or CIDR block');

    const good = await sandbox.driver.submitView(PEOPLE.alice, modal, {
      address: { value: { type: 'plain_text_input', value: ' 203.0.113.7 ' } },
    });
    expect(good.json).toMatchObject({ response_action: 'update' });
    expectValidModal(good.json?.view);

    const entry = await waitUntil(
      () => sandbox.atlas.accessList(GROUP).find((e) => e.cidrBlock === '203.0.113.7/32'),
      8_000,
      'the access-list entry',
    );
    expect(entry.deleteAfterDate).toBe(new Date(end).toISOString());
    const told = await waitUntil(
      () =>
        sandbox.slack
          .messagesIn(sandbox.slack.dmChannelOf(PEOPLE.alice.id))
          .find((m) => m.text.includes('203.0.113.7/32')),
      5_000,
      'the DM about the address',
    );
    expect(told.text).toContain(
      `203.0.113.7/32 is on the IP access list of *${ATLAS.project.name}* until <!date^${Math.floor(end / 1000)}^`,
    );
    const noted = await waitForState(sandbox, id, 'applied');
    expect(noted.database?.addresses).toEqual(['203.0.113.7/32']);

    // The grant ends: its database user and the entry are gone.
    const revoked = await waitForState(sandbox, id, 'revoked', 20_000);
    // Rolecall deleted the user, or Atlas had already (its deleteAfterDate is the same moment).
    const { removed = [], gone = [] } = revoked.revocation ?? {};
    expect([...removed, ...gone]).toEqual(['db:orders-read']);
    expect(sandbox.atlas.accessList(GROUP).map((e) => e.cidrBlock)).not.toContain('203.0.113.7/32');
    expect(sandbox.atlas.databaseUsers(GROUP).map((u) => u.username)).not.toContain(
      applied.database?.username,
    );
  }, 45_000);

  it('shows approvers the database user: its level, each role on its database, the clusters, how the grantee signs in, and that Atlas deletes it', async () => {
    const lines: Lines = [];
    await start('db-approval', lines);
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request db:orders-read on ${ATLAS.project.name} for 2h because invoices are stuck`,
    );
    const request = await waitForState(sandbox, id, 'pending');
    const blocks = await waitUntil(
      () => {
        const message = sandbox.slack.message(CHANNELS.approvals, approval.ts);
        return JSON.stringify(message?.blocks).includes('Database access') ? message?.blocks : undefined;
      },
      5_000,
      'the database block of the approval message',
    );
    expectValidMessageBlocks(blocks);
    const text = JSON.stringify(blocks);
    expect(text).toContain(`database user \`${request.database?.username}\``);
    expect(text).toContain('`read` on `orders`');
    expect(text).toContain('`readWrite` on `scratch.invoices`');
    expect(text).toContain(`*Clusters*: \`${CLUSTER}\``);
    expect(text).toContain('a password Rolecall sets when they ask and shows once, to them only');
    expect(text).toContain('Atlas deletes the database user itself at the end of the grant');
    expect(text).toContain('*IP access list*');
  }, 30_000);
});
