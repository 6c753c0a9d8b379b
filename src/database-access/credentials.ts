import { randomInt } from 'node:crypto';
import { AppError } from '../errors.js';

/**
 * Letters and digits only (the spec's `password` is an "Alphanumeric string"), without the ones that
 * are easy to misread or mistype: 0 O o, 1 l I. 56 characters, about 5.8 bits each.
 */
export const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';

/** Length of a generated password: 32 characters, about 185 bits. */
export const PASSWORD_LENGTH = 32;

/** Longest username Rolecall makes for a password user (Atlas allows 1024; short ones read well in Atlas). */
export const DATABASE_USERNAME_MAX = 64;

/**
 * A fresh database password for one grant, from the operating system's cryptographic randomness
 * (`crypto.randomInt`, no modulo bias): shown once to the grantee and never kept. It always holds an
 * upper-case letter, a lower-case letter and a digit, so no password-strength rule refuses it.
 */
export function generatePassword(): string {
  for (;;) {
    let password = '';
    for (let i = 0; i < PASSWORD_LENGTH; i += 1)
      password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
    if (/[A-Z]/.test(password) && /[a-z]/.test(password) && /[0-9]/.test(password)) return password;
  }
}

/** Lower-case letters and digits of `text`, runs of anything else as one hyphen, trimmed, at most `max` long. */
function slug(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
}

function localPartOf(email: string): string {
  const at = email.trim().lastIndexOf('@');
  if (at < 1 || at === email.trim().length - 1) {
    throw new AppError('SLACK_USER_NO_EMAIL', `"${email}" is not an email address.`);
  }
  return email.trim().slice(0, at);
}

/**
 * The name of a password database user for one grant: `rc-<person>-<level>-<request>`, e.g.
 * `rc-alice-orders-read-ar2q8zk4m`. The same grant always gives the same name (so a retried create
 * finds its own user), and two grants never share one: the whole request id is in it. Lower-case
 * letters, digits and hyphens only, at most {@link DATABASE_USERNAME_MAX} characters.
 */
export function databaseUsername(email: string, level: string, requestId: string): string {
  const id = requestId.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (id === '') throw new AppError('INTERNAL', `"${requestId}" is not a request id.`);
  const person = slug(localPartOf(email), 20) || 'user';
  const room = DATABASE_USERNAME_MAX - `rc-${person}--${id}`.length;
  const what = slug(level, Math.max(0, Math.min(24, room))) || 'access';
  return `rc-${person}-${what}-${id}`.slice(0, DATABASE_USERNAME_MAX);
}

/**
 * The username of an OIDC database user: `{idpId}/{email}`, the Atlas OIDC identity provider's id (from
 * the federation settings) and the name the IdP gives the person (spec CloudDatabaseUser.username).
 */
export function oidcUsername(idpId: string, email: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(idpId)) {
    throw new AppError('CONFIG_INVALID', `"${idpId}" is not an Atlas OIDC identity provider id.`);
  }
  localPartOf(email);
  return `${idpId}/${email.trim()}`;
}

// An IAM user or role ARN (arn:aws, arn:aws-cn, arn:aws-us-gov), the part after the type holding {user}.
const IAM_ARN = /^arn:aws(-cn|-us-gov)?:iam::\d{12}:(user|role)\/[\w+=,.@/{}-]+$/;
// Characters IAM allows in a user or role name (and path).
const IAM_NAME = /^[\w+=,.@-]+$/;

/**
 * The AWS IAM principal of a person, from a template such as `arn:aws:iam::123456789012:role/{user}`
 * where `{user}` becomes the local part of their email. Refuses a template that is no IAM user or role
 * ARN or has no `{user}`, and a local part IAM does not allow in a name.
 */
export function awsIamUsername(template: string, email: string): string {
  if (!template.includes('{user}') || !IAM_ARN.test(template)) {
    throw new AppError(
      'CONFIG_INVALID',
      `The AWS IAM template "${template}" must be an IAM user or role ARN holding {user}, e.g. arn:aws:iam::123456789012:role/{user}.`,
    );
  }
  const user = localPartOf(email);
  if (!IAM_NAME.test(user)) {
    throw new AppError(
      'CONFIG_INVALID',
      `"${user}" (from ${email}) cannot be part of an AWS IAM name: IAM allows letters, digits and + = , . @ _ - only.`,
    );
  }
  return template.split('{user}').join(user);
}
