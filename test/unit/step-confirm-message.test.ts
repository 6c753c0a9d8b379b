import { describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH } from '../../src/requests/parse-command.js';
import type { StepConfirmation } from '../../src/requests/step-confirmations.js';
import {
  buildStepConfirmRequest,
  buildStepConfirmSettled,
  describeStepError,
} from '../../src/slack/blocks/step-confirm-message.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';

const HOSTILE = '<!channel> <@U0BOSS> & <https://evil.example|click me>';

function confirmation(overrides: Partial<StepConfirmation> = {}): StepConfirmation {
  return {
    executionId: 'Fx0123456789',
    requesterId: 'U0BOB',
    granteeId: 'U0ALICE',
    teamId: null,
    line: {
      roles: ['GROUP_READ_ONLY', 'GROUP_DATA_ACCESS_READ_ONLY'],
      scope: 'project',
      target: 'payments-prod',
      durationSeconds: 4 * 3600,
      reason: 'migration',
    },
    askedAt: 1_790_000_000_000,
    deadline: 1_790_003_600_000,
    state: 'pending',
    changedAt: null,
    decidedBy: null,
    requestId: null,
    failure: null,
    message: null,
    ...overrides,
  };
}

/** Every mrkdwn text of a message's blocks. */
const texts = (blocks: unknown[]) =>
  (blocks as { text?: { text: string }; elements?: { text?: string }[] }[]).flatMap((b) => [
    ...(b.text ? [b.text.text] : []),
    ...(b.elements ?? []).flatMap((e) => (typeof e.text === 'string' ? [e.text] : [])),
  ]);

describe('workflow step confirmation message', () => {
  it('stays within Block Kit’s limits with the longest, most escaped reason and many roles', () => {
    const worst = confirmation({
      line: {
        ...confirmation().line,
        roles: Array.from({ length: 40 }, (_, i) => `GROUP_CUSTOM_ROLE_NUMBER_${i}`),
        reason: '&\n'.repeat(MAX_REASON_LENGTH / 2),
        durationSeconds: null,
      },
    });
    for (const message of [
      buildStepConfirmRequest(worst),
      buildStepConfirmSettled({ ...worst, state: 'expired' }),
    ]) {
      expectValidMessageBlocks(message.blocks);
      for (const text of texts(message.blocks)) expect(text.length).toBeLessThanOrEqual(3000);
    }
  });

  it('escapes the author’s words exactly once, quoted, and never in the notification text', () => {
    const message = buildStepConfirmRequest(
      confirmation({ line: { ...confirmation().line, reason: HOSTILE } }),
    );
    const reason = JSON.stringify(message.blocks);
    expect(reason).toContain(
      '> &lt;!channel&gt; &lt;@U0BOSS&gt; &amp; &lt;https://evil.example|click me&gt;',
    );
    expect(reason).not.toContain('&amp;lt;');
    expect(message.text).not.toContain('evil');
  });

  it('says why the step ended in plain words for Workflow Builder', () => {
    expect(describeStepError(confirmation({ state: 'expired' }))).toBe(
      'The Atlas access request this step would have filed in the name of the person who ran the workflow was not confirmed within 1h; nothing was filed.',
    );
    expect(describeStepError(confirmation({ state: 'refused', failure: 'No.' }))).toBe('No.');
  });
});
