import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { findBundle } from '../../src/policy/policy.js';
import { formatProblem, parsePolicy, readPolicy } from '../../src/policy/read-policy.js';
import { bundleEndOf } from '../../src/requests/bundle.js';
import { parseAccessCommand, parseBundleLine } from '../../src/requests/parse-bundle.js';
import { accessRequest } from '../support/request-fixture.js';

const TARGETS = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: 5f1a2b3c4d5e6f7a8b9c0d1e
    approvers: [U0BOB, U0CAROL]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY]
    database:
      auth: password
      levels:
        orders-read:
          roles: [{role: read, db: orders}]
          clusters: [payments-0]
  - name: payments-dev
    project: 5f1a2b3c4d5e6f7a8b9c0d1f
    approvers: [U0BOB]
    roles: [GROUP_READ_ONLY]
  - name: acme
    org: 5f1a2b3c4d5e6f7a8b9c0d10
    approvers: [U0CAROL]
    roles: [ORG_READ_ONLY]
    teams: [oncall]
`;

/** Every problem of a policy text as `LINE:COL message`. */
function problemsOf(text: string): string[] {
  const reading = readPolicy(text);
  if (reading.ok) return [];
  return reading.problems.map((p) => formatProblem('policy.yml', p).replace(/^policy\.yml:/, ''));
}

describe('policy bundles', () => {
  it('reads the issue’s bundle: entries grouped into one part per target, a bare team resolved to the one org offering it', () => {
    const policy = parsePolicy(
      `${TARGETS}bundles:\n  incident-responder: [GROUP_DATA_ACCESS_READ_ONLY on payments-prod, ORG_READ_ONLY on acme, team:oncall]\n`,
    );
    const bundle = findBundle(policy, 'Incident-Responder');
    expect(bundle?.parts.map((p) => [p.target.name, p.items])).toEqual([
      ['payments-prod', ['GROUP_DATA_ACCESS_READ_ONLY']],
      ['acme', ['ORG_READ_ONLY', 'team:oncall']],
    ]);
    expect(findBundle(policy, 'nope')).toBeUndefined();
  });

  it('accepts a target named by its Atlas id and items written in another case', () => {
    const policy = parsePolicy(
      `${TARGETS}bundles:\n  readers: [group_read_only on 5f1a2b3c4d5e6f7a8b9c0d1e, org_read_only on ACME]\n`,
    );
    expect(findBundle(policy, 'readers')?.parts.map((p) => [p.target.name, p.items])).toEqual([
      ['payments-prod', ['GROUP_READ_ONLY']],
      ['acme', ['ORG_READ_ONLY']],
    ]);
  });

  it('names the line and column of every mistake in bundles', () => {
    const text = `${TARGETS}bundles:
  broken:
    - GROUP_OWNER on payments-prod
    - ORG_READ_ONLY on nowhere
    - GROUP_READ_ONLY
    - team:nobody
    - db:orders-read on payments-prod
    - ORG_READ_ONLY on acme
    - org_read_only on acme
`;
    expect(problemsOf(text)).toEqual([
      '24:7 bundles.broken[0]: GROUP_OWNER is not offered on payments-prod (it offers GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, db:orders-read)',
      '25:7 bundles.broken[1]: nowhere is not a target of this policy',
      '26:7 bundles.broken[2]: GROUP_READ_ONLY is offered by payments-prod and payments-dev; say which: "GROUP_READ_ONLY on TARGET"',
      '27:7 bundles.broken[3]: team:nobody is offered by no target; write "team:nobody on TARGET" with a target that offers it',
      "28:7 bundles.broken[4]: db:orders-read: database access is asked on its own (its password or address is the grantee's), not in a bundle",
      '30:7 bundles.broken[6]: ORG_READ_ONLY on acme is already part 6 of bundle broken',
    ]);
  });

  it('refuses bad names, empty bundles and entries that are not text, where they are written', () => {
    expect(problemsOf(`${TARGETS}bundles:\n  Bad Name: [ORG_READ_ONLY on acme]\n`)).toEqual([
      '23:3 bundles.Bad Name: bundle names must be lower-case letters, digits, "_" or "-" (at most 64)',
    ]);
    expect(problemsOf(`${TARGETS}bundles:\n  empty: []\n  numbers:\n    - 42\n`)).toEqual([
      '23:10 bundles.empty: a bundle needs at least one part',
      '25:7 bundles.numbers[0]: each part of a bundle is text: "ITEM on TARGET", e.g. ORG_READ_ONLY on acme',
    ]);
    expect(problemsOf(`${TARGETS}bundles: [ORG_READ_ONLY on acme]\n`)).toEqual([
      '22:10 bundles: bundles is a mapping of names to lists of "ITEM on TARGET"',
    ]);
  });

  it('refuses a bundle nobody named could decide, and lets user groups through (they may hold anyone)', () => {
    const bundle = 'bundles:\n  split: [GROUP_READ_ONLY on payments-dev, ORG_READ_ONLY on acme]\n';
    expect(problemsOf(`${TARGETS}${bundle}`)).toEqual([
      '23:10 bundles.split: nobody named may approve every part of bundle split, and one person allowed on every part decides a bundle: name a common approver, or split it',
    ]);
    const withGroup = TARGETS.replace('    approvers: [U0BOB]\n', '    approvers: [S0DBA]\n');
    expect(problemsOf(`${withGroup}${bundle}`)).toEqual([]);
  });
});

describe('parseAccessCommand (bundles)', () => {
  it('reads request bundle:NAME with a duration, a ticket and a reason', () => {
    expect(
      parseAccessCommand('request bundle:Incident-Responder for 2h ticket OPS-7 because incident 42'),
    ).toEqual({
      kind: 'bundle',
      name: 'incident-responder',
      durationSeconds: 7200,
      ticket: 'OPS-7',
      reason: 'incident 42',
    });
    expect(parseBundleLine('bundle:readers because audit')).toEqual({
      name: 'readers',
      durationSeconds: undefined,
      reason: 'audit',
    });
  });

  it('leaves every other command to parseCommand', () => {
    expect(parseAccessCommand('request GROUP_READ_ONLY on payments-prod for 1h because x')).toMatchObject({
      kind: 'request',
      target: 'payments-prod',
    });
  });

  it.each([
    ['request bundle:incident-responder on acme for 2h because x', 'A bundle names its own targets'],
    ['request bundle:incident-responder for 2h', 'Say why you need access'],
    ['request bundle:incident-responder from 22:00 for 2h because x', 'A bundle starts once it is decided'],
    ['request bundle:incident-responder for ever because x', '"ever" is not a duration'],
    ['request bundle: for 2h because x', '"bundle:" is not a bundle name'],
  ])('refuses %s in words, with an example', (text, words) => {
    let caught: unknown;
    try {
      parseAccessCommand(text);
    } catch (error) {
      caught = error;
    }
    expect(isAppError(caught, 'COMMAND_INVALID')).toBe(true);
    expect((caught as Error).message).toContain(words);
    expect(isAppError(caught) ? caught.details.example : undefined).toBe(
      '/atlas-access request bundle:incident-responder for 2h because incident 42',
    );
  });
});

describe('bundleEndOf', () => {
  const part = (fields: Parameters<typeof accessRequest>[0]) => accessRequest(fields);
  const base = {
    id: 'AR-2QKGWJZ',
    state: 'approved' as const,
    requesterId: 'U0ALICE',
    granteeId: 'U0ALICE',
    granteeEmail: 'alice@example.com',
    target: { name: 'acme', kind: 'org' as const, id: '5f1a2b3c4d5e6f7a8b9c0d10' },
  };
  const bundle = { name: 'b', parts: [{ id: 'AR-2QKGWJZ', target: 'acme', items: ['ORG_READ_ONLY'] }] };

  it('is the decision time plus the duration for a decided temporary part, whatever its grant says', () => {
    expect(
      bundleEndOf(
        part({ ...base, bundle, durationSeconds: 60, decision: { by: 'U0CAROL', at: 1_000, note: null } }),
      ),
    ).toBe(61_000);
  });

  it('is null for a request of its own, an undecided part or a permanent bundle', () => {
    const decision = { by: 'U0CAROL', at: 1_000, note: null };
    expect(bundleEndOf(part({ ...base, durationSeconds: 60, decision }))).toBeNull();
    expect(bundleEndOf(part({ ...base, bundle, durationSeconds: 60 }))).toBeNull();
    expect(bundleEndOf(part({ ...base, bundle, durationSeconds: null, decision }))).toBeNull();
  });
});
