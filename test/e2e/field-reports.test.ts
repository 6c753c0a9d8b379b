import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { blockText, waitForDm } from '../../dev/slack-flow.js';
import { PROJECT, readRequest, requestAs, waitForState } from '../support/grant-flow.js';
import { checkAgainstSpec } from '../support/openapi-contract.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

/** Inputs from real deployments that failed before; each right answer is pinned here. */
describe('field reports (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string) => {
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label) });
  };

  it('1: decodes Slack’s &amp; &lt; &gt; in command text once, and escapes once on the way out', async () => {
    await start('fr-entities');
    // The driver sends the text encoded, exactly as Slack does: R&amp;D &lt;urgent&gt; fix.
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because R&D <urgent> fix',
    );
    expect((await readRequest(sandbox, id)).reason).toBe('R&D <urgent> fix');
    const shown = blockText(approval);
    expect(shown).toContain('> R&amp;D &lt;urgent&gt; fix');
    expect(shown).not.toContain('&amp;amp;');
    expect(shown).not.toContain('&amp;lt;');
  });

  it('3: looks an Atlas user up by the lower-case email whatever case Slack shows it in', async () => {
    await start('fr-case');
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.dana,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because case',
    );
    expect((await readRequest(sandbox, id)).granteeEmail).toBe('dana.smith@example.com');
    expect(blockText(approval)).toContain('dana.smith@example.com');
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applied');
    expect(sandbox.atlas.rolesOf('dana.smith@example.com', PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    const byName = sandbox.atlas.authenticatedCalls().filter((c) => c.path.includes('/users/byName/'));
    expect(byName.length).toBeGreaterThan(0);
    for (const call of byName) {
      expect(call.path).toContain('dana.smith%40example.com');
      expect(checkAgainstSpec(call)).toEqual([]);
    }
  });

  it('4: tells the requester by DM when the form’s response_url has expired', async () => {
    await start('fr-expired');
    await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
    const opened = await waitUntil(() => sandbox.slack.callsTo('views.open')[0], 5_000, 'request modal');
    const view = JSON.parse(String(opened.args.view)) as Record<string, unknown>;
    // Half an hour later: Slack no longer takes the response_url the modal carries.
    sandbox.slack.expireResponseUrls();
    await sandbox.driver.submitView(PEOPLE.alice, view, {
      target: {
        value: {
          type: 'static_select',
          selected_option: { text: { type: 'plain_text', text: 'payments-prod' }, value: 'payments-prod' },
        },
      },
      grantee: { value: { type: 'users_select', selected_user: PEOPLE.alice.id } },
      roles: {
        value: {
          type: 'multi_static_select',
          selected_options: [
            {
              text: { type: 'plain_text', text: 'GROUP_DATA_ACCESS_READ_ONLY' },
              value: 'GROUP_DATA_ACCESS_READ_ONLY',
            },
          ],
        },
      },
      duration: { value: { type: 'plain_text_input', value: '1h' } },
      reason: { value: { type: 'plain_text_input', value: 'late form' } },
    });
    const received = await waitForDm(sandbox.slack, PEOPLE.alice.id, /received/);
    const waiting = await waitForDm(sandbox.slack, PEOPLE.alice.id, /waiting for approval/);
    expect(waiting.text).toContain(/AR-[0-9A-Z]+/.exec(received.text)?.[0] ?? 'no id');
    const refused = sandbox.slack.callsTo('response_url').filter((c) => !c.ok);
    expect(refused.map((c) => c.error)).toContain('expired_url');
  });
});
