import type { ViewStateValue } from '@slack/bolt';

/** A submitted view's state: inputs by block id, then action id. */
export type Values = Record<string, Record<string, ViewStateValue>>;

/**
 * A submitted form's inputs by block id (`value`), and `attempt`, which runs one field's check and
 * keeps its error, keyed by block id as Slack wants (the request form and the bundle form).
 */
export function readFields(values: Values) {
  const errors: Record<string, string> = {};
  return {
    value: (block: string) => values[block]?.value,
    errors,
    attempt<T>(block: string, read: () => T): T | undefined {
      try {
        return read();
      } catch (error) {
        errors[block] = error instanceof Error ? error.message.slice(0, 150) : 'Invalid value';
        return undefined;
      }
    },
  };
}
