import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { ViewValues } from '../../dev/slack-driver.js';
import { blockText, waitForApprovalMessage } from '../../dev/slack-flow.js';
import type { SimulatedMessage } from '../../dev/slack-simulator.js';
import { expectValidHomeView, expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import {
  ephemeralAfter,
  ORG,
  PROJECT,
  readAudit,
  readRequest,
  rolesAt,
  spansOf,
  waitForState,
} from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const TARGETS = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY, GROUP_DATA_ACCESS_READ_WRITE]
  - name: ${ATLAS.org.name}
    org: ${ATLAS.org.id}
    approvers: [${PEOPLE.carol.id}]
    roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY, ORG_GROUP_CREATOR]
    maxDuration: 4h
`;

/** Two targets, and one bundle across them: a project role and an organization role. */
const POLICY = `${TARGETS}bundles:
  incident-responder:
    - GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name}
    - ORG_READ_ONLY on ${ATLAS.org.name}
`;

/** The organization's role write on the default sandbox flavor (atlas-v2: one PUT of the role list). */
const ORG_ROLE_WRITE = {
  method: 'PUT',
  path: /^\/api\/atlas\/v2\/orgs\/[0-9a-f]{24}\/users\/[0-9a-f]{24}\/roles$/,
};

describe('bundles (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  const start = async (label: string, policy = POLICY) => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      env: { JOB_BACKOFF_MS: '50', ATLAS_MAX_RETRIES: '0', RECONCILE_INTERVAL: '1h', REMIND_BEFORE: '0' },
      policy,
    });
  };

  /** Alice asks for the bundle; returns the parts' ids (project first, as the policy names them). */
  const askForBundle = async (text: string): Promise<string[]> => {
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, text, CHANNELS.general);
    const filed = await ephemeralAfter(
      sandbox,
      PEOPLE.alice,
      since,
      /Bundle \*incident-responder\* is filed/,
    );
    return [...filed.matchAll(/AR-[0-9A-Z]+/g)].map((m) => m[0]);
  };

  /** The approval message of a part, once its Approve button is there (it was checked against Atlas). */
  const postedForDecision = async (id: string): Promise<SimulatedMessage> => {
    const message = await waitForApprovalMessage(sandbox.slack, id);
    await waitUntil(
      () => (blockText(message).includes('request_approve') ? true : undefined),
      5_000,
      `${id} posted`,
    );
    return message;
  };

  it('applies a bundle across a project and an organization with one decision, retries the part Atlas failed, and ends both parts together', async () => {
    await start('bundle-apply');
    // The organization's first role write fails for good (a 400): that part fails, the project's stays.
    sandbox.atlas.inject({
      ...ORG_ROLE_WRITE,
      status: 400,
      body: {
        error: 400,
        errorCode: 'INVALID_ATTRIBUTE',
        detail: 'simulated refusal',
        reason: 'Bad Request',
      },
      times: 1,
    });
    const [projectPart, orgPart] = await askForBundle(
      'request bundle:incident-responder for 10s because incident 42',
    );
    if (!projectPart || !orgPart) throw new Error('two parts expected');
    const projectMessage = await postedForDecision(projectPart);
    const orgMessage = await postedForDecision(orgPart);
    // Each part's message says it belongs to the bundle and that one decision decides every part.
    expect(blockText(orgMessage)).toContain('Part 2 of 2 of bundle *incident-responder*');
    expect(blockText(projectMessage)).toContain(`${orgPart} \`ORG_READ_ONLY\` on *acme*`);

    // One click, on one part's message, decides both.
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    const applied = await waitForState(sandbox, projectPart, 'applied');
    const failed = await waitForState(sandbox, orgPart, 'failed');
    expect(failed.failure?.code).toBe('ATLAS_REJECTED');
    expect(applied.decision?.by).toBe(PEOPLE.carol.id);
    expect(failed.decision).toEqual(applied.decision);
    // The failure is reported on the part's own message, with Retry; the project part keeps its access.
    await waitUntil(
      () => (blockText(orgMessage).includes('request_retry') ? true : undefined),
      5_000,
      'Retry',
    );
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).not.toContain('ORG_READ_ONLY');

    await sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_retry');
    const retried = await waitForState(sandbox, orgPart, 'applied');
    const end = (applied.decision?.at ?? 0) + 10_000;
    // Both end at the decision's time plus the duration, however late the retried part was applied.
    expect([applied.grant?.revokeAt, retried.grant?.revokeAt]).toEqual([end, end]);
    expect(retried.grant?.appliedAt).toBeGreaterThan(applied.grant?.appliedAt ?? 0);

    await waitForState(sandbox, projectPart, 'revoked', 20_000);
    await waitForState(sandbox, orgPart, 'revoked', 20_000);
    // What held when: each role once, the org role from its retry on; both removed at the same end.
    const project = sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT);
    const org = sandbox.atlas.timeline(PEOPLE.alice.email, ORG);
    const [projectSpan] = spansOf(project, 'GROUP_DATA_ACCESS_READ_ONLY');
    const [orgSpan] = spansOf(org, 'ORG_READ_ONLY');
    expect(spansOf(project, 'GROUP_DATA_ACCESS_READ_ONLY')).toHaveLength(1);
    expect(spansOf(org, 'ORG_READ_ONLY')).toHaveLength(1);
    expect(orgSpan?.from).toBeGreaterThan(projectSpan?.from ?? Number.POSITIVE_INFINITY);
    for (const span of [projectSpan, orgSpan]) {
      expect(span?.to).toBeGreaterThanOrEqual(end);
      expect(span?.to).toBeLessThan(end + 4_000);
    }
    expect(rolesAt(project, end - 1)).toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(rolesAt(org, end - 1)).toContain('ORG_READ_ONLY');
    expect(rolesAt(project, end + 4_000)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(rolesAt(org, end + 4_000)).not.toContain('ORG_READ_ONLY');
    // The audit says which bundle each part belongs to and that one decision decided it.
    const trail = await readAudit(sandbox, orgPart);
    expect(trail[0]?.detail).toBe(
      `requested as part of bundle incident-responder (${projectPart}, ${orgPart})`,
    );
    expect(trail.find((e) => e.to === 'approved')?.detail).toBe(
      'bundle incident-responder, decided as a whole',
    );
  });

  /** Someone's Home tab once it shows `pattern`. */
  const homeOf = async (person: (typeof PEOPLE)[keyof typeof PEOPLE], pattern: RegExp) => {
    await sandbox.driver.openHome(person);
    return waitUntil(
      () => {
        const view = sandbox.slack.homeOf(person.id);
        return view && pattern.test(JSON.stringify(view)) ? view : undefined;
      },
      8_000,
      `${person.name}'s home tab matching ${pattern}`,
    );
  };

  it('approves every part from the Home tab and ends every part at once when the grantee presses End now on one', async () => {
    await start('bundle-end');
    const [projectPart, orgPart] = await askForBundle(
      'request bundle:incident-responder for 1h because incident 7',
    );
    if (!projectPart || !orgPart) throw new Error('two parts expected');
    await postedForDecision(projectPart);
    await postedForDecision(orgPart);
    // Carol's Home tab lists both parts, each saying which bundle it belongs to; one Approve decides both.
    const waiting = await homeOf(PEOPLE.carol, new RegExp(`"value":"${orgPart}"`));
    expect(JSON.stringify(waiting)).toContain(':package: bundle *incident-responder*');
    await sandbox.driver.clickInView(PEOPLE.carol, waiting, 'request_approve', orgPart);
    await waitForState(sandbox, projectPart, 'applied');
    await waitForState(sandbox, orgPart, 'applied');
    // Alice's access: both parts, End now on each, no Extend (a bundle's parts end together).
    const access = await homeOf(PEOPLE.alice, new RegExp(`home-grant:${orgPart}`));
    expectValidHomeView(access);
    expect(JSON.stringify(access)).toContain(`home-grant:${projectPart}`);
    expect(JSON.stringify(access)).not.toContain('grant_extend');
    const since = sandbox.slack.events.length;
    await sandbox.driver.command(PEOPLE.alice, `end ${orgPart}`, CHANNELS.general);
    await ephemeralAfter(sandbox, PEOPLE.alice, since, new RegExp(`Ending ${orgPart} now`));
    const project = await waitForState(sandbox, projectPart, 'revoked');
    const org = await waitForState(sandbox, orgPart, 'revoked');
    expect(project.endedEarly?.by).toBe(PEOPLE.alice.id);
    expect(org.endedEarly?.by).toBe(PEOPLE.alice.id);
    expect(Math.abs((project.grant?.revokeAt ?? 0) - (org.grant?.revokeAt ?? 0))).toBeLessThan(1_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain('GROUP_DATA_ACCESS_READ_ONLY');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).not.toContain('ORG_READ_ONLY');
  });

  it('refuses an approver who may not approve every part, and bundles that are unknown, malformed or too long, in words', async () => {
    await start('bundle-refuse');
    // help lists the bundles with their parts.
    const help = await sandbox.driver.command(PEOPLE.alice, 'help', CHANNELS.general);
    const helpBlocks = (help.json as { blocks?: unknown[] }).blocks;
    expectValidMessageBlocks(helpBlocks);
    expect(JSON.stringify(helpBlocks)).toContain(
      '• `bundle:incident-responder`: `GROUP_DATA_ACCESS_READ_ONLY` on *payments-prod*; `ORG_READ_ONLY` on *acme*',
    );
    const [projectPart, orgPart] = await askForBundle(
      'request bundle:incident-responder for 1h because incident 9',
    );
    if (!projectPart || !orgPart) throw new Error('two parts expected');
    await postedForDecision(orgPart);
    // Bob approves payments-prod but not acme: refused, nothing moves.
    let since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.bob, await postedForDecision(projectPart), 'request_approve');
    const refusal = await ephemeralAfter(sandbox, PEOPLE.bob, since, /decided as a whole/);
    expect(refusal).toContain(
      `Bundle incident-responder is decided as a whole, so only someone allowed on every part may. Part ${orgPart} (ORG_READ_ONLY on acme): You can’t approve this`,
    );
    expect((await readRequest(sandbox, projectPart)).state).toBe('pending');
    expect((await readRequest(sandbox, orgPart)).state).toBe('pending');
    // Alice withdraws it: both parts.
    await sandbox.driver.command(PEOPLE.alice, `cancel ${orgPart}`, CHANNELS.general);
    await waitForState(sandbox, projectPart, 'cancelled');
    await waitForState(sandbox, orgPart, 'cancelled');

    const refused = async (text: string, pattern: RegExp) => {
      since = sandbox.slack.events.length;
      await sandbox.driver.command(PEOPLE.alice, text, CHANNELS.general);
      return ephemeralAfter(sandbox, PEOPLE.alice, since, pattern);
    };
    expect(await refused('request bundle:nope for 1h because x', /no bundle/)).toContain(
      'There is no bundle called nope in the policy; ask for one of bundle:incident-responder.',
    );
    expect(
      await refused('request bundle:incident-responder on acme for 1h because x', /own targets/),
    ).toContain('A bundle names its own targets');
    expect(await refused('request bundle:incident-responder for 8h because x', /at most/)).toContain(
      'Bundle incident-responder, part ORG_READ_ONLY on acme: Access to ORG_READ_ONLY on acme may last at most 4h; you asked for 8h.',
    );

    // A reload that would leave the bundle naming a target that is gone is refused; the policy in force stays.
    await writeFile(
      sandbox.config.policyFile,
      POLICY.replace(`  - name: ${ATLAS.org.name}`, '  - name: acme-gone'),
    );
    await expect(sandbox.rolecall.reloadPolicy()).rejects.toThrow(
      /bundles.incident-responder\[1\]: acme is not a target/,
    );
    // Removing the bundle takes effect: asking for it is refused in words.
    await writeFile(sandbox.config.policyFile, TARGETS);
    await sandbox.rolecall.reloadPolicy();
    expect(await refused('request bundle:incident-responder for 1h because x', /no bundle/)).toContain(
      'There is no bundle called incident-responder in the policy, which names no bundles.',
    );
  });

  it('files a bundle from the request form: picked in the target menu, with the durations every part allows', async () => {
    await start('bundle-form');
    await sandbox.driver.command(PEOPLE.alice, '', CHANNELS.general);
    const view = await waitUntil(
      () => sandbox.slack.events.find((e) => e.kind === 'view' && e.user !== undefined),
      5_000,
      'the modal',
    ).then((event) => (event.kind === 'view' ? event.view : {}));
    expect(JSON.stringify(view)).toContain('"value":"bundle:incident-responder"');
    const choice: ViewValues[string] = {
      value: {
        type: 'static_select',
        selected_option: {
          text: { type: 'plain_text', text: 'bundle:incident-responder' },
          value: 'bundle:incident-responder',
        },
      },
    };
    await sandbox.driver.chooseInView(PEOPLE.alice, view, 'target', { target: choice });
    const viewId = String(view.id);
    const guided = await waitUntil(
      () =>
        sandbox.slack.callsTo('views.update').some((c) => c.args.view_id === viewId)
          ? sandbox.slack.viewById(viewId)
          : undefined,
      5_000,
      'the bundle form',
    );
    const { id: _id, hash: _hash, state: _state, ...asSent } = guided ?? {};
    expectValidModal(asSent);
    const text = JSON.stringify(guided);
    expect(text).toContain('`ORG_READ_ONLY` on *acme*');
    // acme allows 4h: the menu stops there, and offers no permanent access.
    expect(text).toContain('"value":"4h"');
    expect(text).not.toContain('"value":"8h"');
    expect(text).not.toContain('"value":"permanent"');
    expect(text).toContain('One decision for every part, by someone allowed on each: <@U0CAROL>');
    const duration = (value: string): ViewValues[string] => ({
      value: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } },
    });
    const accepted = await sandbox.driver.submitView(PEOPLE.alice, guided ?? view, {
      target: choice,
      duration: duration('2h'),
      reason: { value: { type: 'plain_text_input', value: 'incident 11' } },
    });
    expect(accepted.status).toBe(200);
    const filed = await ephemeralAfter(sandbox, PEOPLE.alice, 0, /Bundle \*incident-responder\* is filed/);
    const ids = [...filed.matchAll(/AR-[0-9A-Z]+/g)].map((m) => m[0]);
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      const part = await waitForState(sandbox, id, 'pending');
      expect(part).toMatchObject({
        durationSeconds: 7200,
        reason: 'incident 11',
        granteeId: PEOPLE.alice.id,
      });
      expect(part.bundle?.parts.map((p) => p.id)).toEqual(ids);
      const message = await waitForApprovalMessage(sandbox.slack, id);
      expectValidMessageBlocks(message.blocks);
    }
  });

  it('keeps counting approvals per part until every part has what it needs, and stops every part when one is refused after reading Atlas', async () => {
    await start(
      'bundle-strict',
      POLICY.replace(
        '    maxDuration: 4h\n',
        `    maxDuration: 4h\n    rules:\n      - roles: [ORG_READ_ONLY]\n        approvals: 2\n        approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]\n`,
      ),
    );
    const [projectPart, orgPart] = await askForBundle(
      'request bundle:incident-responder for 1h because incident 5',
    );
    if (!projectPart || !orgPart) throw new Error('two parts expected');
    const projectMessage = await postedForDecision(projectPart);
    await postedForDecision(orgPart);
    // Carol's approval would do for the project, not for acme (2 needed): neither part moves.
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    await waitUntil(
      async () => ((await readRequest(sandbox, orgPart)).approvals.length === 1 ? true : undefined),
      5_000,
      'the first approval on the org part',
    );
    expect((await readRequest(sandbox, projectPart)).state).toBe('pending');
    let since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, projectMessage, 'request_approve');
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /already approved/)).toContain(
      'You have already approved bundle incident-responder; it needs 2 approvals from different people on every part.',
    );
    // Bob's makes two on every part: both approved, with one decision time.
    await sandbox.driver.clickButton(PEOPLE.bob, projectMessage, 'request_approve');
    const project = await waitForState(sandbox, projectPart, 'applied');
    const org = await waitForState(sandbox, orgPart, 'applied');
    expect(org.approvals.map((a) => a.by)).toEqual([PEOPLE.carol.id, PEOPLE.bob.id]);
    expect(project.decision?.at).toBe(org.decision?.at);
    expect(project.grant?.revokeAt).toBe(org.grant?.revokeAt);

    // Mallory holds ORG_READ_ONLY already, outside Rolecall: that part is refused after reading Atlas
    // ("nothing to request"), and the project part is withdrawn with it.
    sandbox.atlas.setRoles(PEOPLE.mallory.email, ORG, ['ORG_MEMBER', 'ORG_READ_ONLY']);
    since = sandbox.slack.events.length;
    await sandbox.driver.command(
      PEOPLE.mallory,
      'request bundle:incident-responder for 1h because testing',
      CHANNELS.general,
    );
    const filed = await ephemeralAfter(
      sandbox,
      PEOPLE.mallory,
      since,
      /Bundle \*incident-responder\* is filed/,
    );
    const [first, second] = [...filed.matchAll(/AR-[0-9A-Z]+/g)].map((m) => m[0]);
    if (!first || !second) throw new Error('two parts expected');
    const refused = await waitForState(sandbox, second, 'refused');
    const withdrawn = await waitForState(sandbox, first, 'cancelled');
    expect(refused.failure?.code).toBe('NOTHING_TO_GRANT');
    expect(withdrawn.decision?.note).toBe(
      `cancelled: part ${second} of bundle incident-responder was refused (${refused.failure?.message}); a bundle goes ahead only as a whole`,
    );
  });

  it('refuses to retry a failed part once the bundle was ended early, saying why', async () => {
    await start('bundle-retry-ended');
    sandbox.atlas.inject({
      ...ORG_ROLE_WRITE,
      status: 400,
      body: {
        error: 400,
        errorCode: 'INVALID_ATTRIBUTE',
        detail: 'simulated refusal',
        reason: 'Bad Request',
      },
      times: 1,
    });
    const [projectPart, orgPart] = await askForBundle(
      'request bundle:incident-responder for 1h because incident 3',
    );
    if (!projectPart || !orgPart) throw new Error('two parts expected');
    const orgMessage = await postedForDecision(orgPart);
    await sandbox.driver.clickButton(PEOPLE.carol, await postedForDecision(projectPart), 'request_approve');
    await waitForState(sandbox, projectPart, 'applied');
    await waitForState(sandbox, orgPart, 'failed');
    await sandbox.driver.command(PEOPLE.alice, `end ${projectPart}`, CHANNELS.general);
    await waitForState(sandbox, projectPart, 'revoked');
    const since = sandbox.slack.events.length;
    await sandbox.driver.clickButton(PEOPLE.carol, orgMessage, 'request_retry');
    expect(await ephemeralAfter(sandbox, PEOPLE.carol, since, /ended early/)).toContain(
      `${orgPart} is part of bundle incident-responder, whose access was ended early; a retry would grant what the bundle no longer holds.`,
    );
    expect((await readRequest(sandbox, orgPart)).state).toBe('failed');
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, ORG)).not.toContain('ORG_READ_ONLY');
  });
});
