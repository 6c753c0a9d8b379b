import { describe, expect, it } from 'vitest';
import {
  awsIamUsername,
  DATABASE_USERNAME_MAX,
  databaseUsername,
  generatePassword,
  oidcUsername,
  PASSWORD_ALPHABET,
  PASSWORD_LENGTH,
} from '../../src/database-access/credentials.js';
import { appErrorOf } from '../support/errors.js';

describe('generatePassword', () => {
  it('gives at least 24 letters and digits, none of them easy to misread', () => {
    for (let i = 0; i < 200; i += 1) {
      const password = generatePassword();
      expect(password.length).toBeGreaterThanOrEqual(24);
      expect(password).toHaveLength(PASSWORD_LENGTH);
      expect(password).toMatch(/^[A-Za-z0-9]+$/);
      expect(password).not.toMatch(/[0Oo1lI]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[0-9]/);
    }
  });

  it('never gives the same password twice and uses the whole alphabet', () => {
    const passwords = Array.from({ length: 500 }, () => generatePassword());
    expect(new Set(passwords).size).toBe(passwords.length);
    const seen = new Set(passwords.join(''));
    expect([...PASSWORD_ALPHABET].every((c) => seen.has(c))).toBe(true);
    expect(seen.size).toBe(PASSWORD_ALPHABET.length);
  });
});

describe('databaseUsername', () => {
  it('names the person, the level and the request', () => {
    expect(databaseUsername('alice@example.com', 'orders-read', 'AR-2Q8ZK4M')).toBe(
      'rc-alice-orders-read-ar2q8zk4m',
    );
  });

  it('gives the same name for the same grant and a different one for every other grant', () => {
    const a = databaseUsername('alice@example.com', 'orders-read', 'AR-2Q8ZK4M');
    expect(databaseUsername('alice@example.com', 'orders-read', 'AR-2Q8ZK4M')).toBe(a);
    expect(databaseUsername('alice@example.com', 'orders-read', 'AR-2Q8ZK4N')).not.toBe(a);
    expect(databaseUsername('alice@example.com', 'orders-write', 'AR-2Q8ZK4M')).not.toBe(a);
    expect(databaseUsername('alice.b@example.com', 'orders-read', 'AR-2Q8ZK4M')).not.toBe(a);
  });

  it('keeps only lower-case letters, digits and hyphens, within the length limit', () => {
    const name = databaseUsername(
      'Zoë.O’Brien+db-very-long-local-part@example.com',
      'Orders / READ & write (all collections of every database)',
      'AR-2Q8ZK4MX',
    );
    expect(name).toMatch(/^rc-[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(name.length).toBeLessThanOrEqual(DATABASE_USERNAME_MAX);
    expect(name.endsWith('-ar2q8zk4mx')).toBe(true);
    expect(name.startsWith('rc-zo-o-brien-db-very')).toBe(true);
  });

  it('refuses an email without a local part or a request id without letters or digits', async () => {
    expect((await appErrorOf(() => databaseUsername('@example.com', 'read', 'AR-1'))).code).toBe(
      'SLACK_USER_NO_EMAIL',
    );
    expect((await appErrorOf(() => databaseUsername('alice@example.com', 'read', '--'))).code).toBe(
      'INTERNAL',
    );
  });
});

describe('oidcUsername', () => {
  it('joins the identity provider id and the email with a slash', () => {
    expect(oidcUsername('5dd7496c7a3e5a648454341c', 'alice@example.com')).toBe(
      '5dd7496c7a3e5a648454341c/alice@example.com',
    );
  });

  it('refuses an identity provider id with a slash and an address that is no email', async () => {
    expect((await appErrorOf(() => oidcUsername('idp/x', 'alice@example.com'))).code).toBe('CONFIG_INVALID');
    expect((await appErrorOf(() => oidcUsername('5dd7496c7a3e5a648454341c', 'alice'))).code).toBe(
      'SLACK_USER_NO_EMAIL',
    );
  });
});

describe('awsIamUsername', () => {
  it('puts the local part of the email in place of {user}', () => {
    expect(awsIamUsername('arn:aws:iam::123456789012:role/{user}', 'alice@example.com')).toBe(
      'arn:aws:iam::123456789012:role/alice',
    );
    expect(awsIamUsername('arn:aws:iam::123456789012:user/db/{user}-ro', 'bob.s@example.com')).toBe(
      'arn:aws:iam::123456789012:user/db/bob.s-ro',
    );
    expect(awsIamUsername('arn:aws-us-gov:iam::123456789012:role/{user}', 'carol@example.com')).toBe(
      'arn:aws-us-gov:iam::123456789012:role/carol',
    );
  });

  it.each([
    ['arn:aws:iam::123456789012:role/fixed', 'has no {user}'],
    ['{user}', 'is no ARN'],
    ['arn:aws:s3:::bucket/{user}', 'is no IAM ARN'],
    ['arn:aws:iam::1234:role/{user}', 'has no 12-digit account'],
    ['arn:aws:iam::123456789012:group/{user}', 'names an IAM group'],
  ])('refuses the template %s (it %s)', async (template) => {
    const error = await appErrorOf(() => awsIamUsername(template, 'alice@example.com'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('{user}');
  });

  it('refuses a local part IAM does not allow in a name', async () => {
    const error = await appErrorOf(() =>
      awsIamUsername('arn:aws:iam::123456789012:role/{user}', 'a/b@example.com'),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('IAM allows');
  });
});
