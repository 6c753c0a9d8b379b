// npm run bench:review (-- --n 200): an access review that revokes N standing roles on one project,
// through the real app, against an Atlas simulator that enforces the project bucket like Atlas (429
// on an empty bucket). Rolecall's client-side bucket is set to the same size. Prints how long it took,
// the project-bucket tokens used against what the bucket allowed over that time, and the 429s seen.
// `--atlas-api` picks the Atlas flavor the app calls (default: the product's default, atlas-v2-2025).
// Needs Redis (REDIS_URL, default redis://127.0.0.1:6379).
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { waitUntil } from '../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, startSandbox } from '../dev/sandbox.js';
import { reviewIdsIn } from '../dev/slack-flow.js';
import { redisKeys } from '../src/lib/redis-keys.js';
import { messageCountOf } from '../src/reviews/model.js';
import { createReviewStore } from '../src/reviews/review-store.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, ...ATLAS_API_OPTION },
  strict: true,
});
const N = Number(values.n);
const FLAVOR = readAtlasFlavor(values['atlas-api']);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// A small project bucket so the run is bandwidth-bound and short: 40 tokens, refilled at 20 a second.
const BUCKET = { capacity: 40, refillPerMinute: 1_200 };

const sandbox = await startSandbox({
  redisUrl: REDIS_URL,
  env: {
    LOG_LEVEL: 'error',
    ATLAS_API: FLAVOR,
    ATLAS_RATE_PROJECT: `${BUCKET.capacity}/${BUCKET.refillPerMinute}`,
  },
  atlasRateLimits: {
    org: { capacity: 500, refillPerMinute: 250 },
    project: BUCKET,
    user: { capacity: 2500, refillPerMinute: 2000 },
  },
});
const redis = new Redis(REDIS_URL);
try {
  // Two roles each: revoking one keeps the person in the project (a role write, not a removal).
  sandbox.atlas.seedUsers(N, {
    orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
    groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY', 'GROUP_CLUSTER_MANAGER'] },
    usernamePrefix: 'bench',
  });
  const reviews = createReviewStore(redis, redisKeys(sandbox.config.redis.prefix));
  await sandbox.driver.command(PEOPLE.carol, 'review payments-prod', CHANNELS.general);
  const id = await waitUntil(() => reviewIdsIn(sandbox.slack)[0], 60_000, 'the review message');
  const review = await waitUntil(
    async () => {
      const found = await reviews.get(id);
      return found && found.messages.length === messageCountOf(found) ? found : undefined;
    },
    60_000,
    'the review',
  );
  const targets = review.lines.filter(
    (l) => l.role === 'GROUP_CLUSTER_MANAGER' && l.username.startsWith('bench'),
  );
  const started = Date.now();
  const callsBefore = sandbox.atlas.calls.length;
  for (const line of targets) {
    const message = sandbox.slack.message(
      review.messages[Math.floor((line.n - 1) / 20)]?.channelId ?? '',
      review.messages[Math.floor((line.n - 1) / 20)]?.ts ?? '',
    );
    if (!message) throw new Error(`no message for line ${line.n}`);
    const block = ((message.blocks ?? []) as { block_id?: string }[]).find(
      (b) => b.block_id === `review:${review.id}:${line.n}`,
    );
    await sandbox.driver.clickButton(
      PEOPLE.carol,
      { ...message, blocks: block ? [block] : [] },
      'review_revoke',
    );
  }
  await waitUntil(
    async () => {
      const decisions = await reviews.decisions(review.id);
      return targets.every((l) => decisions.get(l.n)?.outcome !== undefined) ? true : undefined;
    },
    600_000,
    'every revocation',
  );
  const seconds = (Date.now() - started) / 1000;
  const calls = sandbox.atlas.calls.slice(callsBefore);
  const projectCalls = calls.filter((c) =>
    c.path.startsWith(`/api/atlas/v2/groups/${ATLAS.project.id}/users`),
  );
  const orgCalls = calls.filter((c) => c.path.startsWith(`/api/atlas/v2/orgs/${ATLAS.org.id}/users`));
  const rejected = calls.filter((c) => c.status === 429).length;
  const outcomes = await reviews.decisions(review.id);
  const revoked = targets.filter((l) => outcomes.get(l.n)?.outcome === 'revoked').length;
  // The bucket was full at the start of the run (the review's list call took a token earlier: ignore it).
  const allowed = BUCKET.capacity + (seconds * BUCKET.refillPerMinute) / 60;
  const rows: [string, string][] = [
    ['revocations', `${revoked} of ${targets.length}`],
    ['seconds', seconds.toFixed(1)],
    ['Atlas requests in all (Digest challenges included)', String(calls.length)],
    ['Atlas requests per revocation', (calls.length / Math.max(1, revoked)).toFixed(1)],
    ['organization-bucket requests', String(orgCalls.length)],
    ['project-bucket requests (Digest challenges included)', String(projectCalls.length)],
    ['project-bucket tokens the bucket allowed', allowed.toFixed(0)],
    ['bucket used', `${((projectCalls.length / allowed) * 100).toFixed(1)} %`],
    ['429 answers from the simulator', String(rejected)],
  ];
  process.stdout.write(
    `Review bench (node ${process.version}; ATLAS_API ${describeFlavor(FLAVOR)}; project bucket ${BUCKET.capacity} tokens, ${BUCKET.refillPerMinute}/min on both sides)\n`,
  );
  for (const [label, value] of rows)
    process.stdout.write(`| ${label.padEnd(44)} | ${value.padStart(12)} |\n`);
} finally {
  await redis.quit();
  await sandbox.stop();
}
