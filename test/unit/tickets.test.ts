import { describe, expect, it } from 'vitest';
import { checkLineTicket } from '../../src/access/draft-rules.js';
import { readTicketNote, withTicketNote } from '../../src/audit/ticket-note.js';
import { findTarget, requirementsOf } from '../../src/policy/policy.js';
import { parsePolicy, readPolicy } from '../../src/policy/read-policy.js';
import { checkTicketAllowed } from '../../src/policy/ticket-check.js';
import { combineTicketRules, mergeTicketRules, ticketUrlOf } from '../../src/policy/tickets.js';
import { parseCommand, parseRequestLine } from '../../src/requests/parse-command.js';
import { describeTicketField, describeTicketHint } from '../../src/slack/blocks/ticket-field.js';
import { readRequestForm } from '../../src/slack/handlers/request-form.js';
import { appErrorOf } from '../support/errors.js';
import { accessRequest } from '../support/request-fixture.js';

const POLICY = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE, GROUP_OWNER]
    ticket:
      pattern: "[A-Z]+-[0-9]+"
      url: https://example.atlassian.net/browse/{ticket}
    rules:
      - roles: [GROUP_DATA_ACCESS_READ_WRITE]
        ticket: {required: true}
      - roles: [GROUP_OWNER]
        ticket: {required: true, pattern: "CHG-[0-9]+", url: "https://desk.example.com/{ticket}"}
  - name: acme
    org: 5f1a2b3c4d5e6f7a8b9c0d10
    approvers: [U0CAROL]
    roles: [ORG_READ_ONLY]
`;

const policy = parsePolicy(POLICY);
const payments = findTarget(policy, 'payments-prod');
const acme = findTarget(policy, 'acme');
if (!payments || !acme) throw new Error('the test policy has both targets');

describe('parseRequestLine with a ticket', () => {
  it('reads "ticket KEY" between the duration and because, in any case', () => {
    expect(
      parseRequestLine('GROUP_READ_ONLY on payments-prod for 2h ticket OPS-123 because migration'),
    ).toEqual({
      roles: ['GROUP_READ_ONLY'],
      scope: 'project',
      target: 'payments-prod',
      durationSeconds: 7200,
      ticket: 'OPS-123',
      reason: 'migration',
    });
    expect(parseRequestLine('GROUP_READ_ONLY on payments-prod TICKET ops-1 because x')).toMatchObject({
      durationSeconds: undefined,
      ticket: 'ops-1',
      reason: 'x',
    });
  });

  it('reads a line without a ticket as before, and "ticket" inside the reason as the reason', () => {
    const line = parseRequestLine('GROUP_READ_ONLY on payments-prod for 2h because ticket OPS-1 is on fire');
    expect(line.reason).toBe('ticket OPS-1 is on fire');
    expect(line).not.toHaveProperty('ticket');
    expect(parseCommand('request GROUP_READ_ONLY on payments-prod because x')).not.toHaveProperty('ticket');
  });

  it('refuses a ticket longer than 100 characters, and a line whose ticket has no reason after it', async () => {
    const long = await appErrorOf(() =>
      parseRequestLine(`GROUP_READ_ONLY on payments-prod ticket ${'A'.repeat(101)} because x`),
    );
    expect(long.code).toBe('COMMAND_INVALID');
    expect(long.message).toBe('The ticket is 101 characters long; a ticket is at most 100.');
    const noReason = await appErrorOf(() =>
      parseCommand('request GROUP_READ_ONLY on payments-prod ticket OPS-1'),
    );
    expect(noReason.message).toBe('Say why you need access: "because REASON".');
    const bare = await appErrorOf(() =>
      parseCommand('request GROUP_READ_ONLY on payments-prod for 2h ticket because x'),
    );
    expect(bare.message).toContain('[ticket TICKET] because REASON');
  });
});

describe('ticket: in the policy file', () => {
  it('keeps the target’s and each rule’s keys as written', () => {
    expect(payments.ticket).toEqual({
      pattern: '[A-Z]+-[0-9]+',
      url: 'https://example.atlassian.net/browse/{ticket}',
    });
    expect(payments.rules.map((rule) => rule.ticket)).toEqual([
      { required: true },
      { required: true, pattern: 'CHG-[0-9]+', url: 'https://desk.example.com/{ticket}' },
    ]);
    expect(acme.ticket).toBeUndefined();
  });

  it('names the line of a pattern that does not compile, a url without {ticket} and an unknown key', () => {
    const reading = readPolicy(
      POLICY.replace('pattern: "[A-Z]+-[0-9]+"', 'pattern: "[A-Z+"')
        .replace(
          'url: https://example.atlassian.net/browse/{ticket}',
          'url: https://example.atlassian.net/browse/',
        )
        .replace('ticket: {required: true}', 'ticket: {required: true, link: x}'),
    );
    expect(reading.ok).toBe(false);
    expect(reading.ok ? [] : reading.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '8: targets[0].ticket.pattern: pattern is not a valid regular expression',
      '9: targets[0].ticket.url: url must contain {ticket}, where the ticket goes',
      '12: targets[0].rules[0].ticket: unknown key link',
    ]);
  });
});

describe('requirementsOf: the ticket of several items', () => {
  it('is what the target says for roles without a rule of their own', () => {
    expect(requirementsOf(payments, ['GROUP_READ_ONLY']).ticket).toEqual({
      required: false,
      patterns: ['[A-Z]+-[0-9]+'],
      url: 'https://example.atlassian.net/browse/{ticket}',
    });
  });

  it('takes a rule’s keys over the target’s', () => {
    expect(requirementsOf(payments, ['GROUP_DATA_ACCESS_READ_WRITE']).ticket).toEqual({
      required: true,
      patterns: ['[A-Z]+-[0-9]+'],
      url: 'https://example.atlassian.net/browse/{ticket}',
    });
    expect(requirementsOf(payments, ['GROUP_OWNER']).ticket).toEqual({
      required: true,
      patterns: ['CHG-[0-9]+'],
      url: 'https://desk.example.com/{ticket}',
    });
  });

  it('is required when any item requires it, needs every pattern, and links where the first item says', () => {
    expect(
      requirementsOf(payments, ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE']).ticket.required,
    ).toBe(true);
    expect(requirementsOf(payments, ['GROUP_OWNER', 'GROUP_READ_ONLY']).ticket).toEqual({
      required: true,
      patterns: ['CHG-[0-9]+', '[A-Z]+-[0-9]+'],
      url: 'https://desk.example.com/{ticket}',
    });
    expect(requirementsOf(acme, ['ORG_READ_ONLY']).ticket).toEqual({
      required: false,
      patterns: [],
      url: undefined,
    });
  });

  it('merges and combines rules the same way without a policy', () => {
    expect(mergeTicketRules(undefined, undefined)).toBeUndefined();
    expect(mergeTicketRules({ url: 'u' }, { required: true })).toEqual({
      required: true,
      pattern: undefined,
      url: 'u',
    });
    expect(combineTicketRules([undefined, { pattern: 'A' }, { pattern: 'A', url: 'x' }])).toEqual({
      required: false,
      patterns: ['A'],
      url: 'x',
    });
  });
});

describe('checkTicketAllowed', () => {
  it('refuses a missing required ticket in words, for the command line and for the form', async () => {
    const line = await appErrorOf(() =>
      checkTicketAllowed(payments, ['GROUP_DATA_ACCESS_READ_WRITE'], undefined),
    );
    expect(line.code).toBe('TICKET_INVALID');
    expect(line.message).toBe(
      'GROUP_DATA_ACCESS_READ_WRITE on payments-prod needs a ticket matching [A-Z]+-[0-9]+: name it before the reason, as in "… for 2h ticket OPS-123 because …".',
    );
    const form = await appErrorOf(() =>
      checkTicketAllowed(payments, ['GROUP_DATA_ACCESS_READ_WRITE'], null, { source: 'form' }),
    );
    expect(form.message).toBe('payments-prod needs a ticket matching [A-Z]+-[0-9]+ for these roles.');
    // The example fits the patterns, or is left abstract.
    const owner = await appErrorOf(() => checkTicketAllowed(payments, ['GROUP_OWNER'], undefined));
    expect(owner.message).toContain('"… for 2h ticket TICKET because …"');
  });

  it('refuses a ticket that does not match the whole pattern, naming every pattern it fails', async () => {
    for (const ticket of ['ops-1', 'OPS-1x', 'xOPS-1']) {
      const error = await appErrorOf(() => checkTicketAllowed(payments, ['GROUP_READ_ONLY'], ticket));
      expect(error.message).toBe(
        `${ticket} is not a ticket payments-prod accepts: it must match [A-Z]+-[0-9]+.`,
      );
    }
    const both = await appErrorOf(() =>
      checkTicketAllowed(payments, ['GROUP_OWNER', 'GROUP_READ_ONLY'], 'OPS-1'),
    );
    expect(both.message).toBe('OPS-1 is not a ticket payments-prod accepts: it must match CHG-[0-9]+.');
  });

  it('lets a fitting ticket through, and one given where none is configured, and waives required for break-glass', () => {
    expect(() => checkTicketAllowed(payments, ['GROUP_OWNER', 'GROUP_READ_ONLY'], 'CHG-42')).not.toThrow();
    expect(() => checkTicketAllowed(payments, ['GROUP_READ_ONLY'], undefined)).not.toThrow();
    expect(() => checkTicketAllowed(acme, ['ORG_READ_ONLY'], 'anything#1')).not.toThrow();
    expect(checkLineTicket(payments, { roles: ['GROUP_OWNER'] }, { waiveRequired: true })).toBeUndefined();
    expect(
      checkLineTicket(payments, { roles: ['GROUP_OWNER'], ticket: 'OPS-1' }, { waiveRequired: true }),
    ).toEqual({
      allowed: false,
      code: 'TICKET_INVALID',
      reason: 'OPS-1 is not a ticket payments-prod accepts: it must match CHG-[0-9]+.',
    });
  });
});

describe('ticket links, audit notes and the approval message field', () => {
  it('puts the URL-encoded ticket where {ticket} is, and no link without a template or a ticket', () => {
    expect(ticketUrlOf('https://x.example/browse/{ticket}?from={ticket}', 'A&B/1 ?')).toBe(
      'https://x.example/browse/A%26B%2F1%20%3F?from=A%26B%2F1%20%3F',
    );
    expect(ticketUrlOf(undefined, 'OPS-1')).toBeNull();
    expect(ticketUrlOf('https://x.example/{ticket}', null)).toBeNull();
  });

  it('notes the ticket at the end of the requested entry and reads it back, a link with ) in it too', () => {
    expect(withTicketNote('requested', null, null)).toBe('requested');
    const noted = withTicketNote('requested (extends AR-1)', 'A)B', 'https://x.example/A)B');
    expect(noted).toBe('requested (extends AR-1) with ticket A)B (https://x.example/A)B)');
    expect(readTicketNote(noted)).toEqual({ ticket: 'A)B', url: 'https://x.example/A)B' });
    expect(readTicketNote('requested with ticket OPS-1')).toEqual({ ticket: 'OPS-1', url: null });
    expect(readTicketNote('requested')).toBeUndefined();
  });

  it('links the ticket on the approval message, escaped once, and shows it as text without a link', () => {
    const base = {
      id: 'AR-1',
      state: 'pending' as const,
      requesterId: 'U0ALICE',
      granteeId: 'U0ALICE',
      granteeEmail: 'alice@example.com',
      target: { kind: 'project' as const, id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-prod' },
    };
    expect(describeTicketField(accessRequest(base))).toBeNull();
    expect(
      describeTicketField(
        accessRequest({ ...base, ticket: '<!channel>&1', ticketUrl: 'https://x.example/?a=%3C&b=1' }),
      ),
    ).toBe('*Ticket*\n<https://x.example/?a=%3C&amp;b=1|&lt;!channel&gt;&amp;1>');
    expect(describeTicketField(accessRequest({ ...base, ticket: 'CHG#7' }))).toBe('*Ticket*\nCHG#7');
  });

  it('says under the form’s field whether the roles chosen need a ticket', () => {
    expect(describeTicketHint(undefined, [])).toBe(
      'A change or incident ticket, such as OPS-123, if you have one.',
    );
    expect(describeTicketHint(payments, ['GROUP_READ_ONLY'])).toBe(
      'Optional: a change or incident ticket, such as OPS-123. It must match [A-Z]+-[0-9]+.',
    );
    // Before roles are chosen: the shape only when every role asks the same (GROUP_OWNER asks CHG-…).
    expect(describeTicketHint(payments, [])).toBe('Required for some roles here.');
    const sameShape = { ...payments, roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_WRITE'] };
    expect(describeTicketHint(sameShape, [])).toBe(
      'Required for some roles here. It must match [A-Z]+-[0-9]+.',
    );
    const allRequired = { ...payments, roles: ['GROUP_OWNER'] };
    expect(describeTicketHint(allRequired, [])).toBe('Required here. It must match CHG-[0-9]+.');
    expect(describeTicketHint(acme, ['ORG_READ_ONLY'])).toBe(
      'Optional: a change or incident ticket, such as OPS-123.',
    );
  });
});

describe('readRequestForm', () => {
  const values = (ticket: string | null) => ({
    target: {
      value: {
        type: 'static_select',
        selected_option: { text: { type: 'plain_text' as const, text: 'acme' }, value: 'acme' },
      },
    },
    roles: {
      value: {
        type: 'checkboxes',
        selected_options: [
          { text: { type: 'plain_text' as const, text: 'ORG_READ_ONLY' }, value: 'ORG_READ_ONLY' },
        ],
      },
    },
    duration: {
      value: {
        type: 'static_select',
        selected_option: { text: { type: 'plain_text' as const, text: '1h' }, value: '1h' },
      },
    },
    reason: { value: { type: 'plain_text_input', value: 'audit' } },
    ticket: { value: { type: 'plain_text_input', value: ticket } },
  });

  it('reads the Ticket field trimmed, leaves it out when empty, and refuses one with spaces on its field', () => {
    const given = readRequestForm(values('  CHG-1 '), 'U0ALICE');
    expect('line' in given && given.line.ticket).toBe('CHG-1');
    const empty = readRequestForm(values(null), 'U0ALICE');
    expect('line' in empty ? empty.line : undefined).not.toHaveProperty('ticket');
    expect(readRequestForm(values('CHG 1'), 'U0ALICE')).toEqual({
      errors: { ticket: 'A ticket is one word without spaces, such as OPS-123.' },
    });
  });
});
