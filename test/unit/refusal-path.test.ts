import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRequestStore } from '../../dev/request-store.js';
import type { Person } from '../../src/access/actions.js';
import { createPolicyGate } from '../../src/access/policy-gate.js';
import { createRefusalLog } from '../../src/access/refusal-log.js';
import type { AppError } from '../../src/errors.js';
import { redisKeys } from '../../src/lib/redis-keys.js';
import { createOffboardingService } from '../../src/offboarding/offboarding-service.js';
import { createOffboardingStore } from '../../src/offboarding/offboarding-store.js';
import type { OffboardingQueue } from '../../src/offboarding/ports.js';
import { createLogger } from '../../src/ops/logger.js';
import { parsePolicy } from '../../src/policy/read-policy.js';
import { createExtensionClaims } from '../../src/requests/extension-claims.js';
import { createLifecycle } from '../../src/requests/lifecycle.js';
import type { UserGroups, WorkQueue } from '../../src/requests/ports.js';
import { createRequestService } from '../../src/requests/request-service.js';
import { createSubmissionLimit } from '../../src/requests/submission-limit.js';
import type { ReviewQueue } from '../../src/reviews/ports.js';
import { createReviewService } from '../../src/reviews/review-service.js';
import { createReviewStore } from '../../src/reviews/review-store.js';
import { appErrorOf } from '../support/errors.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const PROJECT = '5f1a2b3c4d5e6f7a8b9c0d1e';

/** One group, `dba` (Dave, and the Slack user group S0DBA), named everywhere someone may act instead. */
const POLICY = parsePolicy(`approvalsChannel: C0APPROVALS
groups:
  dba: [U0DAVE, S0DBA]
offboarders: [dba]
targets:
  - name: payments-prod
    project: ${PROJECT}
    requesters: [dba]
    approvers: [dba]
    roles: [GROUP_READ_ONLY]
`);

/** Who may do it instead, as every refusal above must say it: the group's members, not its name. */
const GROUP_MEMBERS = 'U0DAVE,S0DBA';

const USER_GROUPS: UserGroups = {
  async members(groupIds) {
    return {
      known: new Map(groupIds.map((id) => [id, new Set(id === 'S0DBA' ? ['U0CAROL'] : [])])),
      unconfirmed: new Map(),
    };
  },
};

/** Background work none of these refusals may reach. */
const notQueued = async (): Promise<never> => {
  throw new Error('a refused action queued work');
};
const WORK_QUEUE: WorkQueue = {
  enrich: notQueued,
  apply: notQueued,
  forgetApply: notQueued,
  revoke: notQueued,
  expire: notQueued,
  forgetExpiry: notQueued,
  remind: notQueued,
  forgetReminder: notQueued,
  notify: notQueued,
};
const REVIEW_QUEUE: ReviewQueue = {
  start: notQueued,
  isStarting: notQueued,
  revokeLine: notQueued,
  decided: notQueued,
  nextDue: notQueued,
};
const OFFBOARDING_QUEUE: OffboardingQueue = { show: notQueued, run: notQueued };

/** Mallory: a full member of the workspace, in no list of the policy. */
const MALLORY: Person = {
  id: 'U0MALLORY',
  standing: 'member',
  email: 'mallory@example.com',
};

describe('one refusal path', () => {
  const redis = new Redis(TEST_REDIS_URL);
  afterAll(async () => {
    await redis.quit();
  });

  /** The three services as main.ts composes them, over one gate and one refusal log. */
  const compose = () => {
    const prefix = uniquePrefix('refusal-path');
    const keys = redisKeys(prefix);
    const logger = createLogger({ write: () => undefined });
    const refusals = createRefusalLog(redis, keys, { logger });
    const gate = createPolicyGate({ policy: () => POLICY, userGroups: USER_GROUPS, refusals });
    const offboardings = createOffboardingStore(redis, keys);
    const store = createRequestStore(redis, { prefix });
    const services = {
      requests: createRequestService({
        store,
        lifecycle: createLifecycle({ writer: store, workQueue: WORK_QUEUE, requestTtlMs: 3_600_000 }),
        policy: () => POLICY,
        gate,
        directory: { person: async (id) => ({ id, standing: 'member', email: null }) },
        refusals,
        limit: createSubmissionLimit(redis, keys),
        logger,
        currentRoles: { readRoles: async () => null },
        extensions: createExtensionClaims(redis, keys),
      }),
      reviews: createReviewService({
        store: createReviewStore(redis, keys),
        gate,
        refusals,
        reviewQueue: REVIEW_QUEUE,
      }),
      offboarding: createOffboardingService({
        store: offboardings,
        gate,
        offboardingQueue: OFFBOARDING_QUEUE,
      }),
    };
    /** The refusals in the audit stream, as `action actor request code` lines. */
    const audited = async () =>
      (await redis.xrange(keys.audit, '-', '+'))
        .map(([, fields]) =>
          Object.fromEntries(fields.flatMap((f, i) => (i % 2 ? [] : [[f, fields[i + 1]]]))),
        )
        .filter((entry) => entry.kind === 'refusal')
        .map((entry) => `${entry.action} ${entry.actor} ${entry.request} ${entry.code}`);
    return { services, offboardings, audited };
  };
  type Composed = ReturnType<typeof compose>;

  const line = {
    roles: ['GROUP_READ_ONLY'],
    scope: 'project' as const,
    target: 'payments-prod',
    durationSeconds: 3600,
    reason: 'incident',
  };
  const submission = (grantee: Person) => ({ line, grantee, sourceChannelId: null, replyUrl: null });

  const ROWS: {
    readonly from: string;
    readonly action: string;
    readonly code: string;
    /** Runs the refused action; returns the id the refusal is recorded against ('' for none). */
    readonly refused: (composed: Composed) => Promise<{ error: AppError; recordedId: string }>;
  }[] = [
    {
      from: 'the request service',
      action: 'request',
      code: 'NOT_ALLOWED',
      refused: async ({ services }) => ({
        error: await appErrorOf(() => services.requests.submit(MALLORY, submission(MALLORY))),
        recordedId: '',
      }),
    },
    {
      from: 'the request form',
      action: 'request',
      code: 'NOT_ALLOWED',
      refused: async ({ services }) => ({
        error: await appErrorOf(() => services.requests.guide(MALLORY, 'payments-prod', [])),
        recordedId: '',
      }),
    },
    {
      from: 'the review service',
      action: 'review',
      code: 'NOT_AN_APPROVER',
      refused: async ({ services }) => ({
        error: await appErrorOf(() => services.reviews.start(MALLORY, 'payments-prod')),
        recordedId: '',
      }),
    },
    {
      from: 'the offboarding service (asking)',
      action: 'offboard',
      code: 'NOT_ALLOWED',
      refused: async ({ services }) => ({
        error: await appErrorOf(() => services.offboarding.ask(MALLORY, 'erin@example.com', 'left')),
        recordedId: '',
      }),
    },
    {
      from: 'the offboarding service (deciding)',
      action: 'offboard-decide',
      code: 'NOT_AN_APPROVER',
      refused: async ({ services, offboardings }) => {
        const { id } = await offboardings.create({
          email: 'erin@example.com',
          reason: 'left',
          requesterId: 'U0DAVE',
          createdAt: 1,
          channelId: 'C0APPROVALS',
        });
        return {
          error: await appErrorOf(() => services.offboarding.decide(id, true, MALLORY)),
          recordedId: id,
        };
      },
    },
  ];

  it.each(ROWS)(
    'names the group’s members as who may instead, and records the refusal, when $from refuses $action',
    async ({ action, code, refused }) => {
      const composed = compose();
      const { error, recordedId } = await refused(composed);
      expect({ code: error.code, details: error.details }).toEqual({
        code,
        details: { refused: action, who: GROUP_MEMBERS },
      });
      expect(await composed.audited()).toEqual([`${action} U0MALLORY ${recordedId} ${code}`]);
    },
  );
});
