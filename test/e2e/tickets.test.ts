import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import {
  CHANNELS,
  PEOPLE,
  SANDBOX_POLICY,
  type Sandbox,
  startSandbox,
  storedRequestIds,
} from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { requestIdIn, waitForApprovalMessage } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { expectValidModal } from '../support/block-kit.js';
import { runRolecall } from '../support/cli.js';
import { ephemeralAfter, readAudit, requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';
const JIRA = 'https://example.atlassian.net/browse/{ticket}';
const DESK = 'https://tickets.example.com/view?id={ticket}&src=rolecall';

/**
 * The sandbox policy with tickets: on payments-prod a pattern and a Jira link for every role, and
 * required for WRITE (a rule's key over the target's); on acme only a link, with a query string.
 */
const POLICY = SANDBOX_POLICY.replace(
  `roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]`,
  `roles: [GROUP_READ_ONLY, ${READ}, ${WRITE}]
    ticket:
      pattern: "[A-Z]+-[0-9]+"
      url: "${JIRA}"
    rules:
      - roles: [${WRITE}]
        ticket: {required: true}`,
).replace(
  'roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY, ORG_GROUP_CREATOR]',
  `roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY, ORG_GROUP_CREATOR]
    ticket: {url: "${DESK}"}`,
);

/** The mrkdwn of the approval message's fields (Target, Atlas user, …, Ticket). */
function fieldsOf(message: SimulatedMessage | undefined): string[] {
  const blocks = (message?.blocks ?? []) as { fields?: { text: string }[] }[];
  return blocks.flatMap((block) => (block.fields ?? []).map((field) => field.text));
}

describe('tickets (end to end)', () => {
  let sandbox: Sandbox;
  let prefix: string;
  afterEach(async () => {
    await sandbox.stop();
  });
  const start = async (label: string) => {
    prefix = uniquePrefix(label);
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix, policy: POLICY });
  };
  /** The refusals the audit stream holds, as [code, reason]. */
  const refusals = async (): Promise<[string, string][]> => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const entries = await redis.xrange(redisKeys(prefix).audit, '-', '+');
      return entries
        .map(([, flat]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]]))))
        .filter((f) => f.kind === 'refusal')
        .map((f) => [String(f.code), String(f.reason)]);
    } finally {
      await redis.quit();
    }
  };

  it('refuses a missing or malformed ticket in words, and links a good one on the approval message, in the audit and in the export', async () => {
    await start('tickets-line');
    const line = `request ${WRITE} on payments-prod for 1h`;

    // Required for WRITE, and missing: refused in words, nothing stored, the refusal audited.
    let since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `${line} because migration`, CHANNELS.general);
    const missing = await ephemeralAfter(sandbox, PEOPLE.alice, since, /needs a ticket/);
    expect(missing).toContain(
      `${WRITE} on payments-prod needs a ticket matching [A-Z]+-[0-9]+: name it before the reason, as in "… for 2h ticket OPS-123 because …".`,
    );

    // Given, but not of the pattern's shape (lower case): refused, naming what it must match.
    since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `${line} ticket ops-123 because migration`, CHANNELS.general);
    const malformed = await ephemeralAfter(sandbox, PEOPLE.alice, since, /not a ticket/);
    expect(malformed).toContain(
      'ops-123 is not a ticket payments-prod accepts: it must match [A-Z]+-[0-9]+.',
    );
    expect(await storedRequestIds(sandbox.config.redis)).toEqual([]);
    expect((await refusals()).map(([code]) => code)).toEqual(['TICKET_INVALID', 'TICKET_INVALID']);

    // Given and well formed: filed, and the approval message links it.
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      `${line} ticket OPS-123 because migration`,
    );
    expect(fieldsOf(approval)).toContain('*Ticket*\n<https://example.atlassian.net/browse/OPS-123|OPS-123>');
    const pending = await waitForState(sandbox, id, 'pending');
    expect(pending).toMatchObject({
      ticket: 'OPS-123',
      ticketUrl: 'https://example.atlassian.net/browse/OPS-123',
      reason: 'migration',
    });
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    // The message keeps the link once decided.
    const decided = await waitUntil(
      () => {
        const message = sandbox.slack.message(CHANNELS.approvals, approval.ts);
        return JSON.stringify(message?.blocks).includes('applied') ? message : undefined;
      },
      5_000,
      'the applied approval message',
    );
    expect(fieldsOf(decided)).toContain('*Ticket*\n<https://example.atlassian.net/browse/OPS-123|OPS-123>');

    // The audit: the requested entry notes the ticket and its link.
    const audit = await readAudit(sandbox, id);
    expect(audit[0]?.detail).toBe(
      'requested with ticket OPS-123 (https://example.atlassian.net/browse/OPS-123)',
    );

    // The export: every row of the request carries the ticket and its link.
    const env = { REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix };
    const today = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const csv = await runRolecall(['audit', '--since', today, '--format', 'csv'], env);
    expect(csv.code).toBe(0);
    const rows = parse(csv.stdout, { columns: true }) as Record<string, string>[];
    const mine = rows.filter((r) => r.request === id);
    expect(mine.map((r) => r.to)).toEqual(
      expect.arrayContaining(['submitted', 'pending', 'approved', 'applied']),
    );
    expect(mine.map((r) => [r.ticket, r.ticket_url])).toEqual(
      mine.map(() => ['OPS-123', 'https://example.atlassian.net/browse/OPS-123']),
    );
    // Refusals are about no request: no ticket.
    expect(rows.filter((r) => r.kind === 'refusal').map((r) => r.ticket)).toEqual(['', '']);
    const jsonl = await runRolecall(['audit', '--since', today, '--request', id], env);
    expect(jsonl.code).toBe(0);
    const entries = jsonl.stdout
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThanOrEqual(4);
    expect(entries.every((e) => e.ticket === 'OPS-123')).toBe(true);
    expect(entries[0]).toMatchObject({ ticketUrl: 'https://example.atlassian.net/browse/OPS-123' });
  }, 45_000);

  it('takes no ticket where none is required, and keeps one given as it is: linked URL-encoded, escaped once', async () => {
    await start('tickets-optional');
    // Not required for READ: filed without one, and the message has no Ticket field.
    const plain = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 1h because look`,
    );
    expect(fieldsOf(plain.approval).some((f) => f.startsWith('*Ticket*'))).toBe(false);
    expect(await waitForState(sandbox, plain.id, 'pending')).toMatchObject({ ticket: null, ticketUrl: null });
    expect((await readAudit(sandbox, plain.id))[0]?.detail).toBe('requested');

    // Asking for READ and WRITE together: WRITE's rule makes the ticket required for the request.
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.alice,
      `request ${READ},${WRITE} on payments-prod for 1h because both`,
      CHANNELS.general,
    );
    expect(await ephemeralAfter(sandbox, PEOPLE.alice, since, /needs a ticket/)).toContain(
      `${READ}, ${WRITE} on payments-prod needs a ticket`,
    );

    // acme has only a link: any one-word ticket is kept as typed, its link URL-encoded and escaped once.
    const desk = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request ORG_READ_ONLY on acme for 1h ticket chg&7/<b> because audit',
    );
    const stored = await waitForState(sandbox, desk.id, 'pending');
    expect(stored.ticket).toBe('chg&7/<b>');
    expect(stored.ticketUrl).toBe('https://tickets.example.com/view?id=chg%267%2F%3Cb%3E&src=rolecall');
    expect(fieldsOf(desk.approval)).toContain(
      '*Ticket*\n<https://tickets.example.com/view?id=chg%267%2F%3Cb%3E&amp;src=rolecall|chg&amp;7/&lt;b&gt;>',
    );
  }, 45_000);

  describe('the request form', () => {
    /** The `n`th modal views.open opened, as the simulator holds it (with its id). */
    const opened = (n: number) =>
      waitUntil(
        () => sandbox.slack.events.filter((e) => e.kind === 'view' && e.user !== undefined)[n],
        5_000,
        'the modal',
      ).then((event) => (event.kind === 'view' ? event.view : {}));
    /** The modal after the `n`th views.update. */
    const updated = (viewId: string, n: number) =>
      waitUntil(
        () => {
          const updates = sandbox.slack.callsTo('views.update').filter((c) => c.args.view_id === viewId);
          return updates[n - 1] ? sandbox.slack.viewById(viewId) : undefined;
        },
        5_000,
        `update ${n} of the modal`,
      );
    const select = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const text = (value: string | null): ViewValues[string] => ({
      value: { type: 'plain_text_input', value },
    });
    /** The Ticket input block of a modal. */
    const ticketBlock = (view: Record<string, unknown> | undefined) =>
      ((view?.blocks ?? []) as { block_id?: string; optional?: boolean; hint?: { text: string } }[]).find(
        (b) => b.block_id === 'ticket',
      );

    it('takes the ticket in its own field: refused on it when missing or malformed, filed and linked when given', async () => {
      await start('tickets-form');
      await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
      const view = await opened(0);
      expect(ticketBlock(view)).toMatchObject({ optional: true });
      const viewId = String(view.id);
      await sandbox.driver.chooseInView(PEOPLE.alice, view, 'target', { target: select('payments-prod') });
      const guided = await updated(viewId, 1);
      expect(ticketBlock(guided)?.hint?.text).toBe(
        'Required for some roles here. It must match [A-Z]+-[0-9]+.',
      );
      const roles: ViewValues[string] = {
        value: {
          type: 'checkboxes',
          selected_options: [{ text: { type: 'plain_text', text: WRITE }, value: WRITE }],
        },
      };
      await sandbox.driver.chooseInView(PEOPLE.alice, guided ?? view, 'roles', {
        target: select('payments-prod'),
        roles,
      });
      const narrowed = await updated(viewId, 2);
      const { id: _id, hash: _hash, state: _state, ...asSent } = narrowed ?? {};
      expectValidModal(asSent);
      expect(ticketBlock(narrowed)?.hint?.text).toBe(
        'Required for these roles. It must match [A-Z]+-[0-9]+.',
      );

      const values: ViewValues = {
        target: select('payments-prod'),
        roles,
        duration: select('1h'),
        reason: text('migration'),
        ticket: text(null),
      };
      const missing = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, values);
      expect(missing.json).toEqual({
        response_action: 'errors',
        errors: { ticket: 'payments-prod needs a ticket matching [A-Z]+-[0-9]+ for these roles.' },
      });
      const malformed = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, {
        ...values,
        ticket: text('OPS 123'),
      });
      expect(malformed.json).toEqual({
        response_action: 'errors',
        errors: { ticket: 'A ticket is one word without spaces, such as OPS-123.' },
      });
      const unmatched = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, {
        ...values,
        ticket: text('#123'),
      });
      expect(unmatched.json).toEqual({
        response_action: 'errors',
        errors: { ticket: '#123 is not a ticket payments-prod accepts: it must match [A-Z]+-[0-9]+.' },
      });
      expect(await storedRequestIds(sandbox.config.redis)).toEqual([]);

      const accepted = await sandbox.driver.submitView(PEOPLE.alice, narrowed ?? view, {
        ...values,
        ticket: text(' OPS-9 '),
      });
      expect(accepted.status).toBe(200);
      expect(accepted.json?.response_action).toBeUndefined();
      const id = requestIdIn(await ephemeralAfter(sandbox, PEOPLE.alice, 0, /Request \*AR-[0-9A-Z]+\*/));
      const request = await waitForState(sandbox, id, 'pending');
      expect(request).toMatchObject({
        ticket: 'OPS-9',
        ticketUrl: 'https://example.atlassian.net/browse/OPS-9',
        roles: [WRITE],
      });
      const approval = await waitForApprovalMessage(sandbox.slack, id, CHANNELS.approvals);
      expect(fieldsOf(approval)).toContain('*Ticket*\n<https://example.atlassian.net/browse/OPS-9|OPS-9>');
    }, 45_000);
  });
});
