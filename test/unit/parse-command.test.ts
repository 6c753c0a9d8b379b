import { describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { parseCommand, parseRequestLine, parseRoles } from '../../src/requests/parse-command.js';

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isAppError(error, 'COMMAND_INVALID')) return error.message;
    throw error;
  }
  throw new Error('expected a COMMAND_INVALID error');
}

describe('parseCommand', () => {
  it('opens the modal when the text is empty', () => {
    expect(parseCommand('   ')).toEqual({ kind: 'modal' });
  });

  it('recognises help in any case', () => {
    expect(parseCommand('HELP')).toEqual({ kind: 'help' });
  });

  it('parses the full one-line form', () => {
    expect(parseCommand('request GROUP_READ_ONLY on payments-prod for 4h because incident 42')).toEqual({
      kind: 'request',
      roles: ['GROUP_READ_ONLY'],
      scope: 'project',
      target: 'payments-prod',
      durationSeconds: 4 * 3600,
      reason: 'incident 42',
    });
  });

  it('parses extend and end', () => {
    expect(parseCommand('extend ar-0042 for 2h because the migration runs late')).toEqual({
      kind: 'extend',
      id: 'AR-0042',
      durationSeconds: 7200,
      reason: 'the migration runs late',
    });
    expect(parseCommand('end AR-7')).toEqual({ kind: 'end', id: 'AR-0007' });
    expect(parseCommand('status ar-12345')).toEqual({ kind: 'status', id: 'AR-12345' });
    expect(errorOf(() => parseCommand('end AR-0'))).toContain('Say which request');
    expect(errorOf(() => parseCommand('extend AR-1 for ever because x'))).toContain(
      '"ever" is not a duration',
    );
    expect(errorOf(() => parseCommand('extend AR-1 because x'))).toContain(
      'An extension must read: extend ID for DURATION because REASON',
    );
    expect(errorOf(() => parseCommand('extend payments for 2h because x'))).toContain(
      'Say which grant to extend',
    );
    expect(errorOf(() => parseCommand('end'))).toContain('Say which request: /atlas-access end AR-0042.');
  });

  it('treats a request without duration as permanent', () => {
    const parsed = parseRequestLine('ORG_READ_ONLY on acme because quarterly audit');
    expect(parsed.durationSeconds).toBeUndefined();
    expect(parsed.scope).toBe('org');
  });

  it('accepts several comma-separated roles, lower case and duplicates', () => {
    const parsed = parseRequestLine(
      'group_read_only, GROUP_DATA_ACCESS_READ_ONLY,group_read_only on 5f1a2b3c4d5e6f7a8b9c0d1e for 30m because x',
    );
    expect(parsed.roles).toEqual(['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY']);
    expect(parsed.target).toBe('5f1a2b3c4d5e6f7a8b9c0d1e');
    expect(parsed.durationSeconds).toBe(1800);
  });

  it('keeps "for" and "on" inside the reason', () => {
    expect(parseRequestLine('GROUP_READ_ONLY on p because waiting for on-call').reason).toBe(
      'waiting for on-call',
    );
  });

  it('says what is missing when "on" is absent', () => {
    expect(errorOf(() => parseCommand('request GROUP_READ_ONLY because x'))).toMatch(/on TARGET/);
  });

  it('says what is missing when "because" is absent', () => {
    expect(errorOf(() => parseCommand('request GROUP_READ_ONLY on p for 4h'))).toMatch(/because REASON/);
  });

  it('rejects a malformed duration', () => {
    expect(errorOf(() => parseCommand('request GROUP_READ_ONLY on p for soon because x'))).toMatch(
      /"soon" is not a duration/,
    );
  });

  it('rejects mixed organization and project roles', () => {
    expect(errorOf(() => parseRoles('ORG_READ_ONLY,GROUP_READ_ONLY'))).toMatch(/separate requests/);
  });

  it('rejects names that are not Atlas roles', () => {
    expect(errorOf(() => parseRoles('ADMIN'))).toMatch(/ADMIN is not an Atlas role name/);
  });

  it('rejects an unknown subcommand', () => {
    expect(errorOf(() => parseCommand('grant me'))).toMatch(/"grant" is not something/);
  });

  it('rejects reasons longer than 500 characters', () => {
    expect(errorOf(() => parseRequestLine(`GROUP_READ_ONLY on p because ${'x'.repeat(501)}`))).toMatch(
      /501 characters/,
    );
  });
});

describe('review and offboarding commands', () => {
  it('parses review TARGET, status TARGET and offboard EMAIL because REASON', () => {
    expect(parseCommand('review payments-prod')).toEqual({ kind: 'review', target: 'payments-prod' });
    expect(parseCommand('status payments-prod')).toEqual({ kind: 'review-status', target: 'payments-prod' });
    expect(parseCommand('status AR-0042')).toEqual({ kind: 'status', id: 'AR-0042' });
    expect(parseCommand('review all')).toEqual({ kind: 'review-all' });
    expect(parseCommand('review ALL')).toEqual({ kind: 'review-all' });
    // A target called "all" is reviewed by its Atlas id.
    expect(parseCommand('review 5f1a2b3c4d5e6f7a8b9c0d1e')).toEqual({
      kind: 'review',
      target: '5f1a2b3c4d5e6f7a8b9c0d1e',
    });
    expect(parseCommand('offboard Dana@Example.com because left the company')).toEqual({
      kind: 'offboard',
      email: 'dana@example.com',
      reason: 'left the company',
    });
    expect(parseCommand('offboard <mailto:dana@example.com|dana@example.com> because left')).toMatchObject({
      email: 'dana@example.com',
    });
  });

  it('says what is wrong with a malformed review or offboarding', () => {
    expect(errorOf(() => parseCommand('review'))).toContain('Say which target');
    expect(errorOf(() => parseCommand('review all now'))).toContain('/atlas-access review all');
    expect(errorOf(() => parseCommand('offboard dana because left'))).toContain(
      'dana is not an email address',
    );
    expect(errorOf(() => parseCommand('offboard dana@example.com'))).toContain(
      'offboard EMAIL because REASON',
    );
  });
});
