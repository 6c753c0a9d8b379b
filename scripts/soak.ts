// npm run soak [-- --grants 300 --minutes 4]: a few hundred short grants through the real bot and two
// workers (separate processes, from source) while the run kills workers, restarts Redis (append-only,
// as the README asks) and makes Atlas and Slack fail; then checks, from the simulators' own records,
// that every approved role was granted, nothing else was, every grant ended, and prints how long
// after its end each role was removed (p50/p99/max). Not part of `npm test`: it takes minutes.
// `--atlas-api` picks the Atlas flavor the workers call (default: the product's default).

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import { waitUntil } from '../dev/http-util.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, storedRequestIds } from '../dev/sandbox.js';
import { createSlackDriver } from '../dev/slack-driver.js';
import { type SimulatedMessage, startSlackSimulator } from '../dev/slack-simulator.js';
import type { AtlasScope } from '../src/lib/scope.js';
import { startOwnRedis } from '../test/support/own-redis.js';
import { quantile, startRolecallProcess } from './app-processes.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const ROLE = 'GROUP_DATA_ACCESS_READ_ONLY';
const PROJECT: AtlasScope = { kind: 'project', id: ATLAS.project.id };
const BOT_TOKEN = 'xoxb-soak';

const personOf = (i: number) => ({
  id: `U0S${i.toString(36).toUpperCase().padStart(5, '0')}`,
  name: `soak${i}`,
  email: `soak${i}@example.com`,
  atlasId: `6e${i.toString(16).padStart(22, '0')}`,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      grants: { type: 'string', default: '300' },
      // Chaos runs this long, then the run waits for every grant to end.
      minutes: { type: 'string', default: '3' },
      // Rolecall's client-side Atlas bucket for project user endpoints (ATLAS_RATE_PROJECT); the
      // default is Atlas's own. A larger one shows how much of the revocation lag is the bucket.
      'atlas-rate': { type: 'string', default: '1200/500' },
      ...ATLAS_API_OPTION,
    },
    strict: true,
  });
  const flavor = readAtlasFlavor(values['atlas-api']);
  const count = Number(values.grants);
  const chaosMs = Number(values.minutes) * 60_000;
  const people = Array.from({ length: count }, (_, i) => personOf(i));
  const slack = await startSlackSimulator({
    botToken: BOT_TOKEN,
    users: [PEOPLE.bob, PEOPLE.carol, ...people],
    channels: Object.values(CHANNELS),
  });
  const atlas = await startAtlasSimulator({
    apiKeys: [ATLAS.apiKey],
    orgs: [ATLAS.org],
    projects: [{ ...ATLAS.project, orgId: ATLAS.org.id }],
    users: people.map((p) => ({
      id: p.atlasId,
      username: p.email,
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [ATLAS.project.id]: ['GROUP_READ_ONLY'] },
    })),
  });
  const redis = await startOwnRedis();
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-soak-'));
  const policyFile = join(dir, 'policy.yml');
  await writeFile(
    policyFile,
    `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${ROLE}]
    maxDuration: 1h
`,
  );
  const secret = randomBytes(16).toString('hex');
  const prefix = `rolecall-soak-${randomBytes(3).toString('hex')}`;
  const env = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: secret,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    POLICY_FILE: policyFile,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN: '0',
    WORKER_LOCK_MS: '4000',
    JOB_BACKOFF_MS: '300',
    SWEEP_INTERVAL: '5s',
    RECONCILE_INTERVAL: '20s',
    REVOKE_RETRY_INTERVAL: '5s',
    REMIND_BEFORE: '0',
    REQUESTS_PER_MINUTE: '1000',
    MAX_OPEN_REQUESTS: '1000',
  };
  const workerEnv = {
    ...env,
    ATLAS_BASE_URL: atlas.url,
    ATLAS_API: flavor,
    ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey,
    ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey,
    ATLAS_MAX_RETRIES: '2',
    ATLAS_RATE_PROJECT: values['atlas-rate'],
  };
  const bot = startRolecallProcess('bot', env, 30_000);
  const botPort = await bot.ready;
  const workers = [
    startRolecallProcess('worker', workerEnv, 30_000),
    startRolecallProcess('worker', workerEnv, 30_000),
  ];
  await Promise.all(workers.map((w) => w.ready));
  const driver = createSlackDriver({
    eventsUrl: () => `http://127.0.0.1:${botPort}/slack/events`,
    signingSecret: secret,
    slack,
  });
  const started = Date.now();
  const events: string[] = [];
  const note = (text: string) => {
    events.push(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${text}`);
  };

  // Chaos: a worker killed every 20 s (and a new one started), Redis restarted twice, Atlas and
  // Slack failing now and then.
  const chaosLoop = (async () => {
    let round = 0;
    while (Date.now() - started < chaosMs) {
      await sleep(10_000);
      round += 1;
      if (round % 2 === 0) {
        const victim = workers.shift();
        victim?.child.kill('SIGKILL');
        const next = startRolecallProcess('worker', workerEnv, 30_000);
        workers.push(next);
        await next.ready.catch((error: unknown) => note(`a worker did not start: ${String(error)}`));
        note('killed a worker (SIGKILL), started another');
      }
      if (round === 3 || round === 9) {
        await redis.restart();
        note('restarted Redis');
      }
      atlas.inject({ method: 'PATCH', status: 500, times: 3 });
      atlas.inject({ path: /\/groups\//, status: 503, times: 4 });
      atlas.inject({
        path: /\/groups\//,
        status: 429,
        times: 2,
        headers: { 'retry-after': '1' },
        body: { error: 429, errorCode: 'RATE_LIMITED', detail: 'soak' },
      });
      atlas.inject({ path: /\/users\//, reset: true, times: 2 });
      slack.fail({ method: 'chat.postMessage', error: 'ratelimited', status: 429, retryAfter: 1, times: 3 });
      slack.fail({ method: 'chat.update', error: 'internal_error', times: 3 });
      note('Atlas and Slack fail a few calls');
    }
  })();

  // The grants: each person asks once (15-45 s), spread over the first 60% of the chaos; Bob approves
  // nine in ten as their approval messages appear, Carol denies the rest.
  const asked = new Map<string, { person: (typeof people)[number]; seconds: number }>();
  const approvalOf = (text: string) =>
    slack.messagesIn(CHANNELS.approvals).find((m) => !m.threadTs && m.text.startsWith(text));
  const spacing = Math.min(1_000, Math.max(50, (chaosMs * 0.6) / count));
  const asking = (async () => {
    for (const [i, person] of people.entries()) {
      const seconds = 15 + (i % 31);
      asked.set(person.id, { person, seconds });
      await driver
        .command(
          person,
          `request ${ROLE} on ${ATLAS.project.name} for ${seconds}s because soak ${i}`,
          CHANNELS.general,
        )
        .catch((error: unknown) => note(`command of ${person.name} failed: ${String(error)}`));
      await sleep(spacing);
    }
    note(`${count} requests sent`);
  })();
  const decided = new Set<string>();
  const denied = new Set<string>();
  const deadline = Date.now() + chaosMs + 5 * 60_000;
  const redisClient = new Redis(redis.url);
  redisClient.on('error', () => undefined);
  const store = createRequestStore(redisClient, { prefix });
  while (decided.size < count && Date.now() < deadline) {
    const ids = await storedRequestIds({ url: redis.url, prefix }).catch(() => [] as string[]);
    for (const id of ids) {
      if (decided.has(id)) continue;
      const message: SimulatedMessage | undefined = approvalOf(`Access request ${id}:`);
      if (!message) continue;
      const index = decided.size;
      decided.add(id);
      if (index % 10 === 9) {
        denied.add(id);
        const modals = slack.callsTo('views.open').length;
        await driver.clickButton(PEOPLE.carol, message, 'request_deny').catch(() => undefined);
        const opened = await waitUntil(() => slack.callsTo('views.open')[modals], 10_000).catch(
          () => undefined,
        );
        if (opened) {
          await driver
            .submitView(PEOPLE.carol, JSON.parse(String(opened.args.view)) as Record<string, unknown>, {
              reason: { value: { type: 'plain_text_input', value: 'soak deny' } },
            })
            .catch(() => undefined);
        }
      } else {
        await driver.clickButton(PEOPLE.bob, message, 'request_approve').catch(() => undefined);
      }
    }
    await sleep(500);
  }
  await asking;
  note(`${decided.size} decided (${denied.size} denied)`);
  await chaosLoop;
  note('chaos over');

  // Wait for every request to settle: revoked (approved), denied, or something to report.
  const settled = new Set(['revoked', 'denied', 'refused', 'failed', 'expired', 'cancelled']);
  const finalStates = new Map<string, string>();
  await waitUntil(
    async () => {
      const ids = await storedRequestIds({ url: redis.url, prefix });
      finalStates.clear();
      for (const id of ids) finalStates.set(id, (await store.get(id))?.state ?? 'missing');
      return [...finalStates.values()].every((s) => settled.has(s)) ? true : undefined;
    },
    6 * 60_000,
    'every request to settle',
  ).catch(() => note('some requests did not settle in time'));

  // Check from the simulators: every approved role granted once and removed after its end; nothing else.
  const problems: string[] = [];
  const lags: number[] = [];
  const requests = await Promise.all([...finalStates.keys()].map((id) => store.get(id)));
  const byPerson = new Map(requests.filter((r) => r !== undefined).map((r) => [r.granteeId, r]));
  for (const { person } of asked.values()) {
    const request = byPerson.get(person.id);
    const spans = spansOf(atlas.timeline(person.email, PROJECT), ROLE);
    if (!request) {
      problems.push(`${person.name}: no request stored`);
      if (spans.length > 0) problems.push(`${person.name}: holds ${ROLE} without a request`);
      continue;
    }
    const approved = request.decision !== null && request.approvals.length > 0 && request.state !== 'denied';
    if (!approved) {
      if (spans.length > 0) problems.push(`${request.id} (${request.state}): ${ROLE} was granted anyway`);
      continue;
    }
    if (request.state !== 'revoked') problems.push(`${request.id} ended ${request.state}, not revoked`);
    if (spans.length !== 1) {
      problems.push(`${request.id}: ${ROLE} granted ${spans.length} times`);
      continue;
    }
    const [span] = spans;
    const end = request.grant?.revokeAt ?? null;
    if (!span || span.to === null || end === null) {
      problems.push(`${request.id}: ${ROLE} still held`);
      continue;
    }
    if (span.to < end) problems.push(`${request.id}: removed ${end - span.to} ms before its end`);
    lags.push(span.to - end);
  }
  lags.sort((a, b) => a - b);
  const tally = new Map<string, number>();
  for (const state of finalStates.values()) tally.set(state, (tally.get(state) ?? 0) + 1);

  console.log(
    `Soak: ${count} grants, chaos for ${values.minutes} min, bot + 2 workers (killed and replaced), Redis append-only; ATLAS_API ${describeFlavor(flavor)}, ATLAS_RATE_PROJECT ${values['atlas-rate']}`,
  );
  for (const line of events) console.log(line);
  console.log(`Final states: ${[...tally].map(([s, n]) => `${n} ${s}`).join(', ')}`);
  console.log(
    `Revocation lag (removal in Atlas minus the grant's end), ${lags.length} grants: p50 ${quantile(lags, 0.5)} ms, p99 ${quantile(lags, 0.99)} ms, max ${lags.at(-1) ?? 0} ms`,
  );
  console.log(problems.length === 0 ? 'Checks: all passed' : `Checks: ${problems.length} problem(s)`);
  for (const problem of problems.slice(0, 50)) console.log(`  - ${problem}`);

  bot.child.kill('SIGTERM');
  for (const worker of workers) worker.child.kill('SIGTERM');
  await sleep(1_500);
  redisClient.disconnect();
  await Promise.all([slack.close(), atlas.close(), redis.stop()]);
  await rm(dir, { recursive: true, force: true });
  process.exit(problems.length === 0 ? 0 : 1);
}

/** When a role was added and removed, from a simulator timeline. */
function spansOf(
  timeline: readonly { at: number; roles: readonly string[] }[],
  role: string,
): { from: number; to: number | null }[] {
  const spans: { from: number; to: number | null }[] = [];
  for (const change of timeline) {
    const held = change.roles.includes(role);
    const open = spans.at(-1);
    if (held && (open === undefined || open.to !== null)) spans.push({ from: change.at, to: null });
    if (!held && open !== undefined && open.to === null) open.to = change.at;
  }
  return spans;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
