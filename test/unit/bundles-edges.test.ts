import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRequestStore } from '../../dev/request-store.js';
import type { Person } from '../../src/access/actions.js';
import { createPolicyGate } from '../../src/access/policy-gate.js';
import { createRefusalLog } from '../../src/access/refusal-log.js';
import { createExpireProcessor } from '../../src/jobs/expire-processor.js';
import type { RequestJob } from '../../src/jobs/queues.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createLogger } from '../../src/ops/logger.js';
import type { Policy } from '../../src/policy/policy.js';
import { formatProblem, parsePolicy, readPolicy } from '../../src/policy/read-policy.js';
import { createExtensionClaims } from '../../src/requests/extension-claims.js';
import { createLifecycle } from '../../src/requests/lifecycle.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';
import type { UserGroups, WorkQueue } from '../../src/requests/ports.js';
import { createRequestService } from '../../src/requests/request-service.js';
import type { RequestWriter } from '../../src/requests/request-writer.js';
import { createSubmissionLimit } from '../../src/requests/submission-limit.js';
import { buildBundleBlock, buildBundleFiled } from '../../src/slack/blocks/bundle-block.js';
import { expectValidMessageBlocks } from '../support/block-kit.js';
import { appErrorOf } from '../support/errors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { accessRequest } from '../support/request-fixture.js';

const PROJECT = '5f1a2b3c4d5e6f7a8b9c0d1e';
const ORG = '5f1a2b3c4d5e6f7a8b9c0d10';

/** Two targets both Bob and Carol approve; Dave approves the project only. */
const TARGETS = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: ${PROJECT}
    approvers: [U0BOB, U0CAROL, U0DAVE]
    roles: [GROUP_READ_ONLY, GROUP_DATA_ACCESS_READ_ONLY]
  - name: acme
    org: ${ORG}
    approvers: [U0BOB, U0CAROL]
    roles: [ORG_READ_ONLY, ORG_BILLING_READ_ONLY]
    maxDuration: 4h
`;

const POLICY = parsePolicy(`${TARGETS}bundles:
  incident-responder: [GROUP_DATA_ACCESS_READ_ONLY on payments-prod, ORG_READ_ONLY on acme]
  three: [GROUP_READ_ONLY on payments-prod, ORG_READ_ONLY on acme, ORG_BILLING_READ_ONLY on acme, GROUP_DATA_ACCESS_READ_ONLY on payments-prod]
`);

const NO_GROUPS: UserGroups = {
  async members() {
    return { known: new Map(), unconfirmed: new Map() };
  },
};

/** Background work is not what these tests look at: every job is taken and forgotten. */
const done = async (): Promise<void> => undefined;
const WORK_QUEUE: WorkQueue = {
  enrich: done,
  apply: done,
  forgetApply: done,
  revoke: done,
  expire: done,
  forgetExpiry: done,
  remind: done,
  forgetReminder: done,
  notify: done,
};

const person = (name: string): Person => ({
  id: `U0${name.toUpperCase()}`,
  standing: 'member',
  email: `${name}@example.com`,
});
const ALICE = person('alice');
const BOB = person('bob');
const CAROL = person('carol');

/** A promise and its resolver: a point one side waits at until the other lets it go. */
function latch(): { readonly wait: Promise<void>; open(): void } {
  const opened: (() => void)[] = [];
  const wait = new Promise<void>((resolve) => {
    opened.push(resolve);
  });
  return {
    wait,
    open: () => {
      for (const resolve of opened) resolve();
    },
  };
}

/** Lets a test hold a state change of one request just before it is written. */
type Hook = (id: string, to: RequestState | null) => Promise<void> | undefined;

describe('bundle decisions that race (real store and lifecycle, held at chosen writes)', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(async () => {
    await redis.quit();
  });

  /** The request service as the app composes it, over a writer that runs `hooks` before each move. */
  const compose = (
    options: { readonly policy?: Policy; readonly maxOpen?: number; readonly storesAtMost?: number } = {},
  ) => {
    const policy = options.policy ?? POLICY;
    const prefix = uniquePrefix('bundle-edges');
    const keys = redisKeys(prefix);
    const logger = createLogger({ write: () => undefined });
    const refusals = createRefusalLog(redis, keys, { logger });
    const gate = createPolicyGate({ policy: () => policy, userGroups: NO_GROUPS, refusals });
    const store = createRequestStore(redis, { prefix });
    const hooks: Hook[] = [];
    let stored = 0;
    const writer: RequestWriter = {
      ...store,
      async create(...args) {
        // The process dies after `storesAtMost` requests are stored: the rest of the filing never runs.
        if (options.storesAtMost !== undefined && stored >= options.storesAtMost) {
          throw new Error('the process stopped while filing');
        }
        stored += 1;
        return store.create(...args);
      },
      async transition(id, input) {
        for (const hook of hooks) await hook(id, input.to);
        return store.transition(id, input);
      },
    };
    const lifecycle = createLifecycle({ writer, workQueue: WORK_QUEUE, requestTtlMs: 3_600_000 });
    const service = createRequestService({
      store,
      lifecycle,
      policy: () => policy,
      gate,
      directory: {
        person: async (id) => ({ id, standing: 'member', email: `${id.slice(2).toLowerCase()}@example.com` }),
      },
      refusals,
      limit: createSubmissionLimit(redis, keys, { maxOpen: options.maxOpen ?? 20, perMinute: 100 }),
      logger,
      currentRoles: { readRoles: async () => null },
      extensions: createExtensionClaims(redis, keys),
    });
    /** Alice files `bundle`; every part is then checked against Atlas (moved to pending). */
    const file = async (bundle = 'incident-responder'): Promise<AccessRequest[]> => {
      const parts = await service.submitBundle(ALICE, {
        line: { name: bundle, durationSeconds: 3600, reason: 'incident 42' },
        grantee: ALICE,
        sourceChannelId: null,
        replyUrl: null,
      });
      for (const part of parts) {
        const moved = await lifecycle.checked(part.id, { actor: 'system', detail: 'checked' }, null);
        expect(moved.ok).toBe(true);
      }
      return parts;
    };
    const states = async (parts: readonly AccessRequest[]) =>
      Promise.all(parts.map(async (p) => (await store.require(p.id)).state));
    /** Holds the move of `id` to `to` until `release` opens; `reached` opens when it is about to be written. */
    const holdMove = (id: string, to: RequestState) => {
      const reached = latch();
      const release = latch();
      let held = false;
      hooks.push((movingId, movingTo) => {
        if (held || movingId !== id || movingTo !== to) return undefined;
        held = true;
        reached.open();
        return release.wait;
      });
      return { reached: reached.wait, release: release.open };
    };
    /** How many requests of Alice's wait (submitted or pending): what the open-request limit counts. */
    const openOfAlice = () => redis.scard(keys.openIndex(ALICE.id));
    return { service, store, lifecycle, file, states, holdMove, openOfAlice };
  };

  it('does not cancel the rest of a bundle an approver has begun to approve (all or nothing)', async () => {
    const { service, file, states, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    // Carol's Approve has written the first part and is about to write the second when Alice cancels.
    const held = holdMove(second.id, 'approved');
    const approving = service.approve(first.id, CAROL).catch((error: unknown) => error);
    await held.reached;
    const cancelled = await service.cancel(second.id, ALICE).catch((error: unknown) => error);
    held.release();
    await approving;
    const after = await states([first, second]);
    // Either every part is approved (the cancel came too late, and says so) or none is.
    expect(after).toEqual(['approved', 'approved']);
    expect((cancelled as Error).message).toContain('already approved');
  });

  it('does not cancel the rest when Cancel reads every part still waiting and Approve writes the first part in between', async () => {
    const { service, file, states, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    // Approve waits at its first write; Cancel reads both parts waiting, and is held at its first write
    // until Approve has written that part and is about to write the second.
    const approveFirst = holdMove(first.id, 'approved');
    const approveSecond = holdMove(second.id, 'approved');
    const cancelFirst = holdMove(first.id, 'cancelled');
    const approving = service.approve(first.id, CAROL).catch((error: unknown) => error);
    await approveFirst.reached;
    const cancelling = service.cancel(first.id, ALICE).catch((error: unknown) => error);
    await cancelFirst.reached;
    approveFirst.release();
    await approveSecond.reached;
    cancelFirst.release();
    const cancelled = await cancelling;
    approveSecond.release();
    await approving;
    expect(await states([first, second])).toEqual(['approved', 'approved']);
    expect((cancelled as Error).message).toContain('already approved');
  });

  it('does not deny the rest of a bundle an approver has begun to approve', async () => {
    const { service, file, states, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    const held = holdMove(second.id, 'approved');
    const approving = service.approve(first.id, CAROL).catch((error: unknown) => error);
    await held.reached;
    // Bob denies on the second part's message while Carol's decision is half written.
    const denyButton = await service.checkCanDecide(second.id, BOB).catch((error: unknown) => error);
    const denied = await service.deny(second.id, BOB, 'not now').catch((error: unknown) => error);
    held.release();
    await approving;
    expect(await states([first, second])).toEqual(['approved', 'approved']);
    expect((denyButton as Error).message).toContain('already approved');
    expect((denied as Error).message).toContain('already approved');
  });

  it('records one decider on every part when two approvers click on two parts at once, and tells the later one', async () => {
    const { service, store, file, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    // Carol's click has written the first part; Bob's, on the second part's message, comes now.
    const held = holdMove(second.id, 'approved');
    const carol = service.approve(first.id, CAROL).catch((error: unknown) => error);
    await held.reached;
    const bob = await service.approve(second.id, BOB).catch((error: unknown) => error);
    held.release();
    await carol;
    const decided = await Promise.all([store.require(first.id), store.require(second.id)]);
    expect(decided.map((p) => p.state)).toEqual(['approved', 'approved']);
    // One decision: the same person and the same instant on every part.
    expect(decided.map((p) => p.decision?.by)).toEqual([CAROL.id, CAROL.id]);
    expect(decided[1]?.decision?.at).toBe(decided[0]?.decision?.at);
    // Bob is told, as for a request of its own, that Carol decided it.
    expect(bob).toBeInstanceOf(Error);
    expect((bob as Error).message).toContain('already approved');
  });

  it('finishes a decision cut short on a later Approve, with the first decision, and refuses a Deny meanwhile', async () => {
    const { service, store, file, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    // Carol's decision stops after the first part (the process died): the second part still waits.
    const held = holdMove(second.id, 'approved');
    void service.approve(first.id, CAROL).catch(() => undefined);
    await held.reached;
    expect((await store.require(first.id)).state).toBe('approved');
    expect(await appErrorOf(() => service.deny(second.id, BOB, 'no'))).toMatchObject({
      code: 'REQUEST_STATE_CONFLICT',
    });
    expect(await appErrorOf(() => service.cancel(second.id, ALICE))).toMatchObject({
      code: 'REQUEST_STATE_CONFLICT',
    });
    // Carol presses Approve again on the second part's message: it is finished with her first decision.
    const firstDecision = (await store.require(first.id)).decision;
    await service.approve(second.id, CAROL);
    const finished = await store.require(second.id);
    expect(finished.state).toBe('approved');
    expect(finished.decision).toEqual(firstDecision);
    held.release();
  });

  it('does not let the rest of a bundle expire once one part is approved (a decision cut short, or racing the expiry)', async () => {
    const { service, store, lifecycle, file, holdMove } = compose();
    const [first, second] = await file();
    if (!first || !second) throw new Error('two parts expected');
    const held = holdMove(second.id, 'approved');
    void service.approve(first.id, CAROL).catch(() => undefined);
    await held.reached;
    // REQUEST_TTL passes for the second part before its approval is written (or ever is).
    const expire = createExpireProcessor({
      store,
      lifecycle,
      logger: createLogger({ write: () => undefined }),
    });
    // A BullMQ job as the worker hands it over: only its data is read.
    await expire({ data: { requestId: second.id } } as Job<RequestJob>);
    held.release();
    const parts = await Promise.all([store.require(first.id), store.require(second.id)]);
    // All or nothing: the first part approved and applied alone would be half the bundle.
    expect(parts.map((p) => p.state)).toEqual(['approved', 'approved']);
  });

  it('withdraws, in words, the part stored before filing stopped, when someone decides it', async () => {
    const { service, store, lifecycle } = compose({ storesAtMost: 1 });
    await expect(
      service.submitBundle(ALICE, {
        line: { name: 'incident-responder', durationSeconds: 3600, reason: 'x' },
        grantee: ALICE,
        sourceChannelId: null,
        replyUrl: null,
      }),
    ).rejects.toThrow('the process stopped while filing');
    const [first] = await store.listByRequester(ALICE.id, 10);
    if (!first) throw new Error('the first part was stored');
    const missing = first.bundle?.parts[1]?.id ?? '';
    expect((await store.get(missing)) ?? null).toBeNull();
    await lifecycle.checked(first.id, { actor: 'system', detail: 'checked' }, null);
    // Carol approves the part she sees: the bundle cannot go ahead; that part is withdrawn, saying why.
    const refused = await appErrorOf(() => service.approve(first.id, CAROL));
    expect(refused.message).toBe(
      `Bundle incident-responder cannot go ahead: part ${missing} (ORG_READ_ONLY on acme) was never stored (Rolecall stopped while filing it). Nothing was approved; ask for the bundle again.`,
    );
    const withdrawn = await store.require(first.id);
    expect(withdrawn.state).toBe('cancelled');
    expect(withdrawn.decision?.note).toContain('goes ahead only as a whole');
  });

  it('counts every part of a bundle against the open-request limit, not the bundle as one', async () => {
    const { service, openOfAlice } = compose({ maxOpen: 1 });
    // Alice may have one request waiting; the bundle is filed as two (one per target).
    const error = await appErrorOf(() =>
      service.submitBundle(ALICE, {
        line: { name: 'incident-responder', durationSeconds: 3600, reason: 'x' },
        grantee: ALICE,
        sourceChannelId: null,
        replyUrl: null,
      }),
    ).catch((thrown: unknown) => thrown);
    expect(await openOfAlice()).toBeLessThanOrEqual(1);
    expect(error).toMatchObject({ code: 'RATE_LIMITED' });
  });
});

/** Every problem of a policy text as `LINE:COL message`. */
function problemsOf(text: string): string[] {
  const reading = readPolicy(text);
  if (reading.ok) return [];
  return reading.problems.map((p) => formatProblem('policy.yml', p).replace(/^policy\.yml:/, ''));
}

describe('policy bundles that can never be decided', () => {
  it('refuses a bundle whose part needs more approvals than there are people allowed on every part', () => {
    // acme's ORG_READ_ONLY needs Bob and Carol; only Carol may approve payments-prod: nobody could ever
    // bring the second approval, since each approval of a bundle must come from someone allowed on every part.
    const text = `approvalsChannel: C0APPROVALS
targets:
  - name: payments-prod
    project: ${PROJECT}
    approvers: [U0CAROL]
    roles: [GROUP_READ_ONLY]
  - name: acme
    org: ${ORG}
    approvers: [U0CAROL]
    roles: [ORG_READ_ONLY]
    rules:
      - roles: [ORG_READ_ONLY]
        approvals: 2
        approvers: [U0BOB, U0CAROL]
bundles:
  stuck: [GROUP_READ_ONLY on payments-prod, ORG_READ_ONLY on acme]
`;
    expect(problemsOf(text)).toEqual([
      '16:10 bundles.stuck: bundle stuck needs 2 approvals on a part, but only 1 person named may approve every part (U0CAROL), and each approval of a bundle must come from someone allowed on every part: name more common approvers, or split it',
    ]);
    // With Bob allowed on payments-prod too, two people may approve every part: fine.
    expect(
      problemsOf(
        text.replace(
          'approvers: [U0CAROL]\n    roles: [GROUP_READ_ONLY]',
          'approvers: [U0BOB, U0CAROL]\n    roles: [GROUP_READ_ONLY]',
        ),
      ),
    ).toEqual([]);
  });
});

describe('a bundle of many parts on a message', () => {
  // 24 projects with 64-character names, four roles each: more than one 3000-character section holds.
  const parts = Array.from({ length: 24 }, (_, i) => ({
    id: `AR-2QK${String(i).padStart(4, '0')}`,
    target: `p${String(i).padStart(2, '0')}-${'x'.repeat(60)}`,
    items: [
      'GROUP_READ_ONLY',
      'GROUP_DATA_ACCESS_READ_ONLY',
      'GROUP_CLUSTER_MANAGER',
      'GROUP_DATA_ACCESS_READ_WRITE',
    ],
  }));
  const bundle = { name: 'wide', parts };
  const partRequest = (index: number): AccessRequest => {
    const part = parts[index];
    if (!part) throw new Error(`no part ${index}`);
    return accessRequest({
      id: part.id,
      state: 'pending',
      requesterId: 'U0ALICE',
      granteeId: 'U0ALICE',
      granteeEmail: 'alice@example.com',
      target: { name: part.target, kind: 'project', id: PROJECT },
      roles: part.items,
      bundle,
    });
  };

  it('shows the approver every part the decision decides, within Block Kit’s limits, on every part’s message', () => {
    for (const index of [0, 23]) {
      const block = buildBundleBlock(partRequest(index));
      expectValidMessageBlocks([block]);
      const text = JSON.stringify(block);
      for (const part of parts) expect(text).toContain(part.id);
      expect(text).toContain(`${parts[index]?.id} \``);
      expect(text).toContain('(this message)');
    }
  });

  it('counts, within the limits, the parts of a bundle too large to list whole', () => {
    const many = Array.from({ length: 150 }, (_, i) => ({
      ...parts[0],
      id: `AR-2QK${String(i).padStart(4, '0')}`,
      target: `p${i}-${'x'.repeat(60)}`,
      items: parts[0]?.items ?? [],
    }));
    const block = buildBundleBlock({
      ...partRequest(0),
      id: 'AR-2QK0000',
      bundle: { name: 'huge', parts: many },
    });
    expectValidMessageBlocks([block]);
    const text = JSON.stringify(block);
    expect(text).toContain('AR-2QK0000 `');
    expect(text).toMatch(/…and \d+ more parts/);
  });

  it('tells the requester every part filed', () => {
    const filed = buildBundleFiled(parts.map((_, i) => partRequest(i)));
    expectValidMessageBlocks(filed.blocks);
    const text = JSON.stringify(filed.blocks);
    for (const part of parts) expect(text).toContain(part.id);
  });
});
