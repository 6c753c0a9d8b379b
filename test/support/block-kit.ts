import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';

// The community Block Kit schema (see test/fixtures/slack/blockkit/SOURCE.txt).
const schema = JSON.parse(
  readFileSync(new URL('../fixtures/slack/blockkit/slack-block-kit.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(schema, 'blockkit');
const validateBlocks = ajv.getSchema('blockkit');
const validateModal = ajv.compile({ $ref: 'blockkit#/$defs/modal_view' });

/** Asserts that a message's blocks fit Slack's schema and its 50-block limit. */
export function expectValidMessageBlocks(blocks: unknown): void {
  expect(Array.isArray(blocks), 'blocks must be an array').toBe(true);
  expect((blocks as unknown[]).length).toBeLessThanOrEqual(50);
  const ok = validateBlocks?.(blocks);
  expect(ok ? [] : validateBlocks?.errors?.slice(0, 5)).toEqual([]);
}

/** Asserts that a modal view fits Slack's schema. */
export function expectValidModal(view: unknown): void {
  const ok = validateModal(view);
  expect(ok ? [] : validateModal.errors?.slice(0, 5)).toEqual([]);
}
