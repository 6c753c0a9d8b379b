import { expect } from 'vitest';

/** Asserts a value is present and returns it typed, instead of a non-null assertion. */
export function defined<T>(value: T | undefined | null, what = 'value'): T {
  expect(value, `${what} should be defined`).toBeDefined();
  expect(value, `${what} should not be null`).not.toBeNull();
  return value as T;
}
