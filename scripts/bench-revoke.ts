// npm run bench:revoke [-- --n 300 --projects 1 --seconds 60 --workers 1]: N people, each an active
// member of the organization already in a project with GROUP_READ_ONLY, ask for
// GROUP_DATA_ACCESS_READ_ONLY `for <seconds>s`; Bob approves each as its approval message appears.
// The apply queue is paused (BullMQ Queue.pause(), as an operator could) until all N are approved,
// then resumed, so the grants start, and therefore end, as close together as the app allows. The
// real bot and worker processes run from source against the Slack and Atlas simulators and a Redis
// of their own; the Atlas simulator enforces Atlas's own rate buckets (NOTES §9). Printed from the
// simulators' records and the stored requests: Atlas exchanges per grant and per revocation (Digest
// challenges among them, per endpoint), the apply time, click-to-Atlas-change p50/p99, the revocation
// lag p50/p99/max (removal in Atlas minus the grant's stored end) with the early ones, and the 429s.
// `--single K`: K grants one at a time instead (see runSingle). The figures end as one JSON line.
// `--atlas-api` picks the Atlas flavor; `--atlas-rate` Rolecall's project bucket (ATLAS_RATE_PROJECT).

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type RecordedAtlasCall, startAtlasSimulator } from '../dev/atlas-simulator.js';
import { waitUntil } from '../dev/http-util.js';
import { createRequestStore } from '../dev/request-store.js';
import { ATLAS, CHANNELS, PEOPLE, storedRequestIds } from '../dev/sandbox.js';
import { createSlackDriver } from '../dev/slack-driver.js';
import { type SimulatedMessage, startSlackSimulator } from '../dev/slack-simulator.js';
import type { AccessRequest } from '../src/requests/model.js';
import { NOT_RECEIVED } from '../src/slack/handlers/received.js';
import { startOwnRedis } from '../test/support/own-redis.js';
import { quantile, startRolecallProcess } from './app-processes.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const ROLE = 'GROUP_DATA_ACCESS_READ_ONLY';
const BOT_TOKEN = 'xoxb-bench-revoke';
// Atlas's own buckets (NOTES.md §9): MongoDB Cloud Users per organization, per project, per caller.
const ATLAS_BUCKETS = {
  org: { capacity: 500, refillPerMinute: 250 },
  project: { capacity: 1200, refillPerMinute: 500 },
  user: { capacity: 2500, refillPerMinute: 2000 },
} as const;
// Calls that are not about the grants, left out by path: the workers' readiness probe (/readyz).
const EXCLUDED = [{ what: 'readiness probe', path: /\/users\?itemsPerPage=1&pageNum=1$/ }] as const;
// --single: the gap between one grant's role appearing in Atlas and the next request.
const SINGLE_GAP_MS = 1_000;
const COMMANDS_IN_FLIGHT = 8;

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '300' },
    projects: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '60' },
    workers: { type: 'string', default: '1' },
    // Rolecall's client-side bucket for project user endpoints; the default is Atlas's own.
    'atlas-rate': { type: 'string', default: '1200/500' },
    single: { type: 'string', default: '0' },
    ...ATLAS_API_OPTION,
  },
  strict: true,
});
const whole = (name: string, text: string, min: number) => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return value;
};
const FLAVOR = readAtlasFlavor(values['atlas-api']);
const SINGLE = whole('single', values.single, 0);
const N = SINGLE > 0 ? SINGLE : whole('n', values.n, 1);
const PROJECTS = whole('projects', values.projects, 1);
const SECONDS = whole('seconds', values.seconds, 1);
const WORKERS = whole('workers', values.workers, 1);
const ATLAS_RATE = values['atlas-rate'];

interface Person {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly atlasId: string;
  readonly project: { readonly id: string; readonly name: string };
}

const projects = Array.from({ length: PROJECTS }, (_, i) => ({
  id: `5f1a2b3c4d5e6f7a8b9c${i.toString(16).padStart(4, '0')}`,
  name: `bench-p${i}`,
}));
const people: Person[] = Array.from({ length: N }, (_, i) => ({
  id: `U0R${i.toString(36).toUpperCase().padStart(6, '0')}`,
  name: `bench${i}`,
  email: `bench${i}@example.com`,
  atlasId: `6f${i.toString(16).padStart(22, '0')}`,
  project: projects[i % PROJECTS] ?? { id: '', name: '' },
}));
const byAtlasId = new Map(people.map((p) => [p.atlasId, p]));
const byEmail = new Map(people.map((p) => [p.email, p]));
const bySlackId = new Map(people.map((p) => [p.id, p]));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The approval message of each request id, once it carries its Approve button. */
function approvalMessages(messages: readonly SimulatedMessage[]): Map<string, SimulatedMessage> {
  const found = new Map<string, SimulatedMessage>();
  for (const message of messages) {
    const id = /^Access request (AR-[0-9A-Z]+): /.exec(message.text)?.[1];
    if (!id || message.threadTs) continue;
    const blocks = (message.blocks ?? []) as { elements?: { action_id?: string }[] }[];
    if (blocks.some((b) => b.elements?.some((e) => e.action_id === 'request_approve')))
      found.set(id, message);
  }
  return found;
}

/** `METHOD path` with ids and query values as names, so calls of one endpoint count together. */
function endpointOf(call: RecordedAtlasCall): string {
  const url = new URL(call.path, 'http://atlas');
  const path = decodeURIComponent(url.pathname)
    .replace(/\/orgs\/[0-9a-f]{24}/, '/orgs/{orgId}')
    .replace(/\/groups\/[0-9a-f]{24}/, '/groups/{groupId}')
    .replace(/\/users\/byName\/[^/]+/, '/users/byName/{userName}')
    .replace(/\/users\/[0-9a-f]{24}/, '/users/{userId}');
  const query = [...new Set(url.searchParams.keys())].sort().map((k) => `${k}={${k}}`);
  return `${call.method} ${path}${query.length > 0 ? `?${query.join('&')}` : ''}`;
}

/** The grantee a call names (by Atlas user id, or by username in the path or the query), if any. */
function personOfCall(call: RecordedAtlasCall): Person | undefined {
  const url = new URL(call.path, 'http://atlas');
  const path = decodeURIComponent(url.pathname);
  const id = /\/users\/([0-9a-f]{24})/.exec(path)?.[1];
  if (id && byAtlasId.has(id)) return byAtlasId.get(id);
  const name = /\/users\/byName\/([^/]+)/.exec(path)?.[1] ?? url.searchParams.get('username') ?? '';
  return byEmail.get(name.toLowerCase());
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

async function main(): Promise<void> {
  const slack = await startSlackSimulator({
    botToken: BOT_TOKEN,
    users: [PEOPLE.bob, PEOPLE.carol, ...people],
    channels: Object.values(CHANNELS),
  });
  const atlas = await startAtlasSimulator({
    apiKeys: [ATLAS.apiKey],
    orgs: [ATLAS.org],
    projects: projects.map((p) => ({ ...p, orgId: ATLAS.org.id })),
    users: people.map((p) => ({
      id: p.atlasId,
      username: p.email,
      orgRoles: { [ATLAS.org.id]: ['ORG_MEMBER'] },
      groupRoles: { [p.project.id]: ['GROUP_READ_ONLY'] },
    })),
    rateLimits: ATLAS_BUCKETS,
  });
  // As docker-compose.yml runs it: append-only, fsync every second.
  const redis = await startOwnRedis({
    persistence: false,
    args: ['--appendonly', 'yes', '--appendfsync', 'everysec'],
  });
  const dir = await mkdtemp(join(tmpdir(), 'rolecall-bench-revoke-'));
  const policyFile = join(dir, 'policy.yml');
  await writeFile(
    policyFile,
    `approvalsChannel: ${CHANNELS.approvals}
targets:
${projects
  .map(
    (p) => `  - name: ${p.name}
    project: ${p.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${ROLE}]
    maxDuration: ${Math.max(1, Math.ceil(SECONDS / 3600))}h
`,
  )
  .join('')}`,
  );
  const secret = randomBytes(16).toString('hex');
  const prefix = `rolecall-bench-revoke-${randomBytes(3).toString('hex')}`;
  // The product's defaults, but for what a run of one machine needs (any port, no drain at the end).
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
  };
  const workerEnv = {
    ...env,
    ATLAS_BASE_URL: atlas.url,
    ATLAS_API: FLAVOR,
    ATLAS_PUBLIC_KEY: ATLAS.apiKey.publicKey,
    ATLAS_PRIVATE_KEY: ATLAS.apiKey.privateKey,
    ATLAS_RATE_PROJECT: ATLAS_RATE,
  };
  const bot = startRolecallProcess('bot', env);
  const workers = Array.from({ length: WORKERS }, () => startRolecallProcess('worker', workerEnv));
  const redisClient = new Redis(redis.url);
  redisClient.on('error', () => undefined);
  const applyQueue = new Queue('apply', { connection: redisClient, prefix });
  let failed = false;
  try {
    const botPort = await bot.ready;
    await Promise.all(workers.map((w) => w.ready));
    const driver = createSlackDriver({
      eventsUrl: () => `http://127.0.0.1:${botPort}/slack/events`,
      signingSecret: secret,
      slack,
    });
    const store = createRequestStore(redisClient, { prefix });
    const started = Date.now();
    const loadBefore = loadavg()[0] ?? 0;
    const callsBefore = atlas.calls.length;
    const log = (text: string) =>
      console.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  ${text}`);
    console.log(
      `Revocation bench: ${SINGLE > 0 ? `--single ${SINGLE}: ${N} grants one at a time` : `${N} grants ending together`}, ${SECONDS} s each, on ${PROJECTS} project(s) of one organization; a bot and ${WORKERS} worker process(es) from source (WORKER_CONCURRENCY default), own Redis (append-only, fsync every second); ATLAS_API ${describeFlavor(FLAVOR)}; Rolecall's project bucket (ATLAS_RATE_PROJECT) ${ATLAS_RATE}; the Atlas simulator enforces Atlas's buckets: org users ${ATLAS_BUCKETS.org.capacity}/${ATLAS_BUCKETS.org.refillPerMinute} a minute, project users ${ATLAS_BUCKETS.project.capacity}/${ATLAS_BUCKETS.project.refillPerMinute}, user ${ATLAS_BUCKETS.user.capacity}/${ATLAS_BUCKETS.user.refillPerMinute}`,
    );
    const ask = async (person: Person): Promise<number> => {
      const text = `request ${ROLE} on ${person.project.name} for ${SECONDS}s because bench`;
      for (let resent = 0; ; resent += 1) {
        const reply = await driver.command(person, text, CHANNELS.general);
        if (reply.json?.text !== NOT_RECEIVED) return resent;
        await sleep(1_000);
      }
    };
    const clicks = new Map<string, number>();
    const click = async (id: string, message: SimulatedMessage) => {
      clicks.set(id, Date.now());
      await driver.clickButton(PEOPLE.bob, message, 'request_approve');
    };
    const statesOf = async (ids: readonly string[]) => {
      const requests = await Promise.all(ids.map((id) => store.get(id)));
      return requests.filter((r): r is AccessRequest => r !== undefined);
    };
    const tally = (requests: readonly AccessRequest[]) => {
      const counts = new Map<string, number>();
      for (const r of requests) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      return [...counts].map(([state, count]) => `${count} ${state}`).join(', ');
    };
    const settled = new Set([
      'revoked',
      'denied',
      'refused',
      'failed',
      'expired',
      'cancelled',
      'revoke_failed',
    ]);
    let resentCommands = 0;
    let resentClicks = 0;
    let releasedAt: number | null = null;
    const addedAt = (person: Person) =>
      spansOf(atlas.timeline(person.email, { kind: 'project', id: person.project.id }), ROLE)[0]?.from;

    if (SINGLE > 0) {
      // One at a time: each request is sent once the previous grant's role is in Atlas and a second
      // has passed, so no two applies overlap and the ends lie at least that far apart; the grants
      // themselves overlap while they are held (a revocation can meet a later apply only when
      // K x (apply + gap) exceeds the grant's length).
      for (const person of people) {
        resentCommands += await ask(person);
        const [id, message] = await waitUntil(
          () => [...approvalMessages(slack.messagesIn(CHANNELS.approvals))].find(([i]) => !clicks.has(i)),
          60_000,
          `the approval message of ${person.name}`,
        );
        await click(id, message);
        await waitUntil(() => addedAt(person), 60_000, `${ROLE} of ${person.name} in Atlas`);
        await sleep(SINGLE_GAP_MS);
      }
      log(`${N} grants applied one at a time`);
    } else {
      await applyQueue.pause();
      log(`apply queue paused; sending ${N} requests, ${COMMANDS_IN_FLIGHT} at a time`);
      let next = 0;
      const asking = Promise.all(
        Array.from({ length: COMMANDS_IN_FLIGHT }, async () => {
          while (next < people.length) {
            const person = people[next] as Person;
            next += 1;
            resentCommands += await ask(person);
          }
        }),
      ).then(() => log(`${N} requests sent`));
      const deadline = Date.now() + 10 * 60_000;
      let lastNote = Date.now();
      while (clicks.size < N) {
        if (Date.now() > deadline) throw new Error(`only ${clicks.size} of ${N} approval messages came`);
        for (const [id, message] of approvalMessages(slack.messagesIn(CHANNELS.approvals))) {
          if (!clicks.has(id)) await click(id, message);
        }
        if (Date.now() - lastNote > 10_000) {
          lastNote = Date.now();
          log(`${clicks.size} approved by Bob so far`);
        }
        await sleep(100);
      }
      await asking;
      log(`Bob clicked Approve on all ${N}`);
      // Clicks are worked on after their ack: wait until every request is approved (clicking again
      // one still pending 15 s after its click: Rolecall may have answered that it did nothing).
      await waitUntil(
        async () => {
          const requests = await statesOf([...clicks.keys()]);
          const pending = requests.filter((r) => r.state === 'pending');
          for (const r of pending) {
            if (Date.now() - (clicks.get(r.id) ?? 0) < 15_000) continue;
            const message = approvalMessages(slack.messagesIn(CHANNELS.approvals)).get(r.id);
            if (message) {
              resentClicks += 1;
              await click(r.id, message);
            }
          }
          return requests.length === N && requests.every((r) => r.state === 'approved') ? true : undefined;
        },
        5 * 60_000,
        'every request to be approved',
      );
      releasedAt = Date.now();
      await applyQueue.resume();
      log(`all ${N} approved; apply queue resumed`);
    }

    // Every grant through its end: wait until each request has settled, with a line every 10 s.
    const ids = [...clicks.keys()];
    let lastNote = 0;
    const settleBy = Date.now() + SECONDS * 1000 + 10 * 60_000;
    for (;;) {
      const requests = await statesOf(ids);
      const done = requests.length === ids.length && requests.every((r) => settled.has(r.state));
      if (done || Date.now() > settleBy) {
        log(done ? `all settled: ${tally(requests)}` : `gave up waiting: ${tally(requests)}`);
        failed ||= !done;
        break;
      }
      if (Date.now() - lastNote > 10_000) {
        lastNote = Date.now();
        log(tally(requests));
      }
      await sleep(500);
    }

    // The figures, from the simulators' records and the stored requests.
    const requests = await statesOf(ids);
    const allIds = await storedRequestIds({ url: redis.url, prefix });
    const problems: string[] = [];
    if (allIds.length !== N) problems.push(`${allIds.length} requests stored for ${N} people`);
    const grants = requests.map((request) => {
      const person = bySlackId.get(request.granteeId);
      if (!person) throw new Error(`${request.id} is for nobody of the bench`);
      const spans = spansOf(atlas.timeline(person.email, { kind: 'project', id: person.project.id }), ROLE);
      if (request.state !== 'revoked') problems.push(`${request.id} ended ${request.state}, not revoked`);
      if (spans.length !== 1) problems.push(`${request.id}: ${ROLE} granted ${spans.length} times`);
      const clickedAt = clicks.get(request.id) ?? 0;
      return {
        id: request.id,
        person,
        clickedAt,
        from: Math.max(clickedAt, releasedAt ?? 0),
        added: spans[0]?.from ?? null,
        removed: spans[0]?.to ?? null,
        end: request.grant?.revokeAt ?? null,
        decided: request.decision?.at ?? null,
      };
    });
    const ends = grants.flatMap((g) => (g.end === null ? [] : [g.end])).sort((a, b) => a - b);
    const added = grants.flatMap((g) => (g.added === null ? [] : [g.added])).sort((a, b) => a - b);
    const toAtlas = grants.flatMap((g) => (g.added === null ? [] : [g.added - g.from])).sort((a, b) => a - b);
    // The part before the worker: the click to the stored approval (the bot's work after its ack).
    const toDecision = grants
      .flatMap((g) => (g.decided === null ? [] : [g.decided - g.clickedAt]))
      .sort((a, b) => a - b);
    const lags = grants
      .flatMap((g) => (g.removed === null || g.end === null ? [] : [g.removed - g.end]))
      .sort((a, b) => a - b);
    const early = lags.filter((lag) => lag < 0).length;
    if (early > 0) problems.push(`${early} roles removed before their grant's end`);
    const firstClick = Math.min(...grants.map((g) => g.clickedAt));
    const lastAdded = added.at(-1) ?? firstClick;
    const endGaps = ends.slice(1).map((end, i) => end - (ends[i] ?? end));

    // Atlas exchanges: each call the simulator answered since the start, by the grantee it names;
    // before that grant's end it is the grant's, from its end on the revocation's.
    const endOf = new Map(grants.map((g) => [g.person.email, g.end]));
    type Row = {
      grant: number;
      grant401: number;
      revoke: number;
      revoke401: number;
      other: number;
      other401: number;
      r429: number;
    };
    const rows = new Map<string, Row>();
    const excluded = new Map<string, number>();
    const totals = { grant: 0, grant401: 0, revoke: 0, revoke401: 0, other: 0, other401: 0, r429: 0 };
    for (const call of atlas.calls.slice(callsBefore)) {
      const skip = EXCLUDED.find((e) => e.path.test(decodeURIComponent(call.path)));
      if (skip) {
        excluded.set(skip.what, (excluded.get(skip.what) ?? 0) + 1);
        continue;
      }
      const endpoint = endpointOf(call);
      const row = rows.get(endpoint) ?? {
        grant: 0,
        grant401: 0,
        revoke: 0,
        revoke401: 0,
        other: 0,
        other401: 0,
        r429: 0,
      };
      rows.set(endpoint, row);
      const challenge = call.status === 401 && call.auth === 'none' ? 1 : 0;
      const person = personOfCall(call);
      const end = person ? endOf.get(person.email) : undefined;
      const phase =
        person === undefined
          ? 'other'
          : end !== undefined && end !== null && call.at >= end
            ? 'revoke'
            : 'grant';
      for (const target of [row, totals]) {
        if (call.status === 429) target.r429 += 1;
        if (phase === 'grant') {
          target.grant += 1;
          target.grant401 += challenge;
        } else if (phase === 'revoke') {
          target.revoke += 1;
          target.revoke401 += challenge;
        } else {
          target.other += 1;
          target.other401 += challenge;
        }
      }
    }
    const appliedCount = added.length;
    const revokedCount = lags.length;
    const per = (count: number, of: number) => (of === 0 ? 0 : Number((count / of).toFixed(2)));

    console.log('');
    console.log(
      `Requests: ${N} sent${resentCommands > 0 ? ` (${resentCommands} sent again after "did nothing")` : ''}; Bob's Approve clicks ${seconds(firstClick - started)} to ${seconds(Math.max(...grants.map((g) => g.clickedAt)) - started)} after the first request${resentClicks > 0 ? ` (${resentClicks} clicked again)` : ''}${releasedAt === null ? '' : `; apply queue paused until all were approved, resumed at ${seconds(releasedAt - started)}`}`,
    );
    console.log(
      `Ends (grant.revokeAt), ${ends.length} grants: spread ${seconds((ends.at(-1) ?? 0) - (ends[0] ?? 0))} (max end - min end)${SINGLE > 0 ? `; closest two ${Math.min(...endGaps)} ms apart; ${lastAdded < (ends[0] ?? 0) ? 'every apply was done before the first end' : 'applies and ends overlapped (K x (apply + 1 s) is more than a grant)'}` : ''}`,
    );
    console.log(
      `Apply time: first Approve click to the last role added in Atlas ${seconds(lastAdded - firstClick)}${releasedAt === null ? '' : `; apply queue resumed to the last role added ${seconds(lastAdded - releasedAt)}`}`,
    );
    console.log(
      `Approve click to the role in Atlas${releasedAt === null ? '' : ' (from the queue resume for clicks before it)'}, ${toAtlas.length} grants: p50 ${quantile(toAtlas, 0.5)} ms, p99 ${quantile(toAtlas, 0.99)} ms, max ${toAtlas.at(-1) ?? 0} ms`,
    );
    console.log(
      `Approve click to the stored approval (decision.at: the bot's part, before any worker): p50 ${quantile(toDecision, 0.5)} ms, p99 ${quantile(toDecision, 0.99)} ms`,
    );
    console.log(
      `Revocation lag (removal in Atlas minus grant.revokeAt), ${lags.length} grants: p50 ${quantile(lags, 0.5)} ms, p99 ${quantile(lags, 0.99)} ms, max ${lags.at(-1) ?? 0} ms; early (negative): ${early}`,
    );
    console.log(
      `Atlas exchanges (every HTTP request the simulator answered; a Digest challenge is a 401 with WWW-Authenticate, recorded auth 'none'), by the grantee each names: before that grant's end the grant's, from its end on the revocation's:`,
    );
    console.log(
      `  per grant, request to applied: ${per(totals.grant, appliedCount)} (${per(totals.grant401, appliedCount)} Digest challenges), ${totals.grant} for ${appliedCount} grants`,
    );
    console.log(
      `  per revocation: ${per(totals.revoke, revokedCount)} (${per(totals.revoke401, revokedCount)} Digest challenges), ${totals.revoke} for ${revokedCount} revocations`,
    );
    console.log(
      `  naming no grantee (not counted above): ${totals.other} (${totals.other401} Digest challenges)`,
    );
    const all = totals.grant + totals.revoke + totals.other;
    console.log(
      `  every exchange of the run per grant (request, grant, revocation, no grantee): ${per(all, N)} (${per(totals.grant401 + totals.revoke401 + totals.other401, N)} Digest challenges)`,
    );
    console.log(
      `  left out by path: ${EXCLUDED.map((e) => `${e.what} (${e.path.source}) ${excluded.get(e.what) ?? 0}`).join(', ')}`,
    );
    console.log(`  429 answers from Atlas: ${totals.r429}`);
    const width = Math.max(8, ...[...rows.keys()].map((k) => k.length));
    console.log(
      `  | ${'endpoint'.padEnd(width)} | grant | of them 401 | revocation | of them 401 | no grantee | of them 401 | 429 |`,
    );
    for (const [endpoint, row] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(
        `  | ${endpoint.padEnd(width)} | ${String(row.grant).padStart(5)} | ${String(row.grant401).padStart(11)} | ${String(row.revoke).padStart(10)} | ${String(row.revoke401).padStart(11)} | ${String(row.other).padStart(10)} | ${String(row.other401).padStart(11)} | ${String(row.r429).padStart(3)} |`,
      );
    }
    const loadAfter = loadavg()[0] ?? 0;
    console.log(
      `Machine: ${availableParallelism()} cores; 1-minute load average ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end`,
    );
    console.log(problems.length === 0 ? 'Checks: all passed' : `Checks: ${problems.length} problem(s)`);
    for (const problem of problems.slice(0, 30)) console.log(`  - ${problem}`);
    failed ||= problems.length > 0;
    console.log(
      JSON.stringify({
        bench: 'revoke',
        n: N,
        single: SINGLE > 0,
        projects: PROJECTS,
        seconds: SECONDS,
        workers: WORKERS,
        atlasApi: FLAVOR,
        atlasRate: ATLAS_RATE,
        applied: appliedCount,
        revoked: revokedCount,
        endsSpreadMs: (ends.at(-1) ?? 0) - (ends[0] ?? 0),
        applyMs: lastAdded - firstClick,
        applyFromResumeMs: releasedAt === null ? null : lastAdded - releasedAt,
        clickToAtlasMs: { p50: quantile(toAtlas, 0.5), p99: quantile(toAtlas, 0.99) },
        clickToDecisionMs: { p50: quantile(toDecision, 0.5), p99: quantile(toDecision, 0.99) },
        lagMs: { p50: quantile(lags, 0.5), p99: quantile(lags, 0.99), max: lags.at(-1) ?? 0 },
        early,
        exchangesPerGrant: per(totals.grant, appliedCount),
        challengesPerGrant: per(totals.grant401, appliedCount),
        exchangesPerRevocation: per(totals.revoke, revokedCount),
        challengesPerRevocation: per(totals.revoke401, revokedCount),
        noGranteeExchanges: totals.other,
        exchangesPerGrantInAll: per(all, N),
        atlas429: totals.r429,
        problems: problems.length,
        load: { start: Number(loadBefore.toFixed(2)), end: Number(loadAfter.toFixed(2)) },
      }),
    );
  } catch (error) {
    failed = true;
    console.error(error);
  } finally {
    bot.child.kill('SIGTERM');
    for (const worker of workers) worker.child.kill('SIGTERM');
    await Promise.all(
      [bot, ...workers].map(
        (p) =>
          new Promise((resolve) => {
            if (p.child.exitCode !== null || p.child.signalCode !== null) resolve(undefined);
            else p.child.once('exit', resolve);
          }),
      ),
    );
    await applyQueue.close();
    redisClient.disconnect();
    await Promise.all([slack.close(), atlas.close(), redis.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
