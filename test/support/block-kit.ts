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
const validateHome = ajv.compile({ $ref: 'blockkit#/$defs/home_view' });

/** Asserts that a message's blocks fit Slack's schema and its 50-block limit. */
export function expectValidMessageBlocks(blocks: unknown): void {
  expect(Array.isArray(blocks), 'blocks must be an array').toBe(true);
  expect((blocks as unknown[]).length).toBeLessThanOrEqual(50);
  const ok = validateBlocks?.(blocks);
  expect(ok ? [] : validateBlocks?.errors?.slice(0, 5)).toEqual([]);
}

/** A view as the app sent it: without what Slack adds when it returns one (id, hash, state). */
function asSent(view: unknown): unknown {
  if (typeof view !== 'object' || view === null) return view;
  const { id: _id, hash: _hash, state: _state, ...sent } = view as Record<string, unknown>;
  return sent;
}

/** Asserts that a modal view fits Slack's schema. */
export function expectValidModal(view: unknown): void {
  const ok = validateModal(asSent(view));
  expect(ok ? [] : validateModal.errors?.slice(0, 5)).toEqual([]);
}

/** Asserts that a Home tab view fits Slack's schema and its 100-block limit. */
export function expectValidHomeView(view: unknown): void {
  expect(((view as { blocks?: unknown[] }).blocks ?? []).length).toBeLessThanOrEqual(100);
  const ok = validateHome(asSent(view));
  expect(ok ? [] : validateHome.errors?.slice(0, 5)).toEqual([]);
}
