import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { fixtureHttp } from '../support/atlas-fixture.js';
import { expectValidModal } from '../support/block-kit.js';
import { readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const GROUP = ATLAS.project.id;
const CLUSTER = 'orders-cluster';
const OFFICE = '198.51.100.7/32';

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
          roles: [{ role: read, db: orders }]
          clusters: [${CLUSTER}]
`;

describe('database access and the IP access list (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      policy: POLICY,
      atlas: { clusters: [{ groupId: GROUP, name: CLUSTER }] },
    });
  };

  /** A permanent entry a project owner made in Atlas, before and outside Rolecall. */
  const addPermanentEntry = async (cidrBlock: string) => {
    const { http } = fixtureHttp(sandbox.atlas, {
      auth: { kind: 'digest', ...ATLAS.apiKey },
    });
    await http.send({
      method: 'POST',
      path: `/api/atlas/v2/groups/${GROUP}/accessList`,
      body: [{ cidrBlock, comment: 'office VPN (permanent)' }],
      mediaType: 'application/vnd.atlas.2023-01-01+json',
      operation: 'adding an entry by hand',
    });
  };

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

  /** Alice types `address` into the Add my IP address modal; returns Slack's answer to the submit. */
  const giveAddress = async (dm: SimulatedMessage, address: string) => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.alice, dm, 'db_address_add');
    const modal = await waitUntil(
      () =>
        sandbox.slack.events
          .slice(since)
          .map((e) => (e.kind === 'view' && e.user === PEOPLE.alice.id ? e.view : undefined))
          .find((v) => v !== undefined),
      5_000,
      'the address modal',
    );
    expectValidModal(modal);
    return sandbox.driver.submitView(PEOPLE.alice, modal, {
      address: { value: { type: 'plain_text_input', value: address } },
    });
  };

  it('never removes an access-list entry that was there before the grant when the grant ends', async () => {
    await start('db-acl-owned');
    await addPermanentEntry(OFFICE);
    expect(sandbox.atlas.accessList(GROUP)).toEqual([expect.objectContaining({ cidrBlock: OFFICE })]);

    const { id, dm } = await grantToAlice('1h');
    const answer = await giveAddress(dm, '198.51.100.7');
    expect(answer.json).toMatchObject({ response_action: 'update' });
    await waitUntil(
      async () => {
        const request = await readRequest(sandbox, id);
        return request.database?.addresses.includes(OFFICE) ? true : undefined;
      },
      8_000,
      'the address noted on the grant',
    );

    await sandbox.driver.command(PEOPLE.alice, `end ${id}`, CHANNELS.general);
    await waitForState(sandbox, id, 'revoked', 15_000);

    // The owner's permanent entry is still there, still permanent.
    const entry = sandbox.atlas.accessList(GROUP).find((e) => e.cidrBlock === OFFICE);
    expect(entry).toBeDefined();
    expect(entry?.deleteAfterDate).toBeUndefined();
    expect(entry?.comment).toBe('office VPN (permanent)');
  }, 45_000);

  it('refuses an address block that opens the project to the whole internet', async () => {
    await start('db-acl-any');
    const { id, dm } = await grantToAlice('1h');
    for (const everyone of ['0.0.0.0/0', '::/0']) {
      const answer = await giveAddress(dm, everyone);
      expect(answer.json).toMatchObject({
        response_action: 'errors',
        errors: { address: expect.any(String) },
      });
      const errors = (answer.json?.errors ?? {}) as { address?: string };
      expect(errors.address).toContain('wider than Rolecall adds for one person');
    }
    const request = await waitForState(sandbox, id, 'applied');
    expect(request.database?.addresses).toEqual([]);
    expect(sandbox.atlas.accessList(GROUP)).toEqual([]);
  }, 45_000);
});
