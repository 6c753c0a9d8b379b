/**
 * Keeping secrets a call carries (a database user's password) out of what the HTTP layer logs and
 * records, and out of an Atlas error that echoes the body back.
 */

const REDACTED = '[redacted]';

/** A copy of `value` with every field named in `fields` (at any depth) replaced by "[redacted]". */
export function redactFields(value: unknown, fields: readonly string[] | undefined): unknown {
  if (!fields || fields.length === 0) return value;
  if (Array.isArray(value)) return value.map((item) => redactFields(item, fields));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        fields.includes(key) ? REDACTED : redactFields(item, fields),
      ]),
    );
  }
  return value;
}

/** The string values of the secret fields of a body (at any depth). */
function secretValues(value: unknown, fields: readonly string[] | undefined): string[] {
  if (!fields || fields.length === 0 || !value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    fields.includes(key) && typeof item === 'string' && item !== '' ? [item] : secretValues(item, fields),
  );
}

/** A copy of `value` with every occurrence of each secret in its strings replaced by "[redacted]". */
function redactValues(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return value;
  if (typeof value === 'string')
    return secrets.reduce((text, secret) => text.split(secret).join(REDACTED), value);
  if (Array.isArray(value)) return value.map((item) => redactValues(item, secrets));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValues(item, secrets)]));
  }
  return value;
}

/**
 * `answer` (an Atlas error body) with every value of `body`'s secret fields cut out of its strings,
 * so an error `detail` that echoes the request cannot carry a password into an AppError or a log.
 */
export function redactSecretsIn(
  answer: unknown,
  body: unknown,
  fields: readonly string[] | undefined,
): unknown {
  return redactValues(answer, secretValues(body, fields));
}
