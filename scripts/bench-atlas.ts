// npm run bench:atlas: role changes per second through the Atlas client against the local simulator,
// with Digest (one challenge, then the nonce reused) and with a service-account bearer token, at concurrency
// 1, 8 and 64. The simulator runs in a child process so it does not share the client's event loop.
// No client-side rate limit is applied: this measures the client, not Atlas's buckets.
// `--atlas-api` picks the flavor (default: the product's default): a change is one PUT on atlas-v2,
// one :addRole or :removeRole POST on atlas-v2-2025 (each change here adds or removes one role).
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startAtlasSimulator } from '../dev/atlas-simulator.js';
import type { AtlasApiFlavor, AtlasAuthConfig } from '../src/atlas/atlas-options.js';
import { createAtlasClient } from '../src/atlas/create-atlas-client.js';
import { createLogger } from '../src/ops/logger.js';
import { ATLAS_API_OPTION, describeFlavor, readAtlasFlavor } from './bench-flavor.js';

const ORG = '6a0000000000000000000001';
const USERS = 256;
const SECONDS = Number(process.env.BENCH_SECONDS ?? '4');
const API_KEY = { publicKey: 'benchpub', privateKey: 'bench-private' };
const ACCOUNT = { clientId: 'mdb_sa_id_bench', clientSecret: 'mdb_sa_sk_bench' };
const users = Array.from({ length: USERS }, (_, i) => ({
  id: `6d${i.toString(16).padStart(22, '0')}`,
  username: `user${i}@example.com`,
  orgRoles: { [ORG]: ['ORG_MEMBER'] },
}));

async function runSimulator(): Promise<void> {
  const simulator = await startAtlasSimulator({
    apiKeys: [API_KEY],
    serviceAccounts: [ACCOUNT],
    orgs: [{ id: ORG, name: 'bench' }],
    projects: [],
    users,
  });
  process.send?.({ url: simulator.url });
  process.on('disconnect', () => {
    void simulator.close().then(() => process.exit(0));
  });
}

interface Row {
  auth: string;
  concurrency: number;
  changes: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function measure(
  url: string,
  flavor: AtlasApiFlavor,
  auth: AtlasAuthConfig,
  concurrency: number,
): Promise<Row> {
  const client = createAtlasClient(
    {
      api: flavor,
      baseUrl: url,
      auth,
      timeoutMs: 15_000,
      maxRetries: 0,
      pageSize: 500,
      dryRun: false,
      rateLimits: {
        org: { capacity: 1, refillPerMinute: 1 },
        project: { capacity: 1, refillPerMinute: 1 },
        user: { capacity: 1, refillPerMinute: 1 },
      },
    },
    { logger: createLogger({ level: 'error' }) },
  );
  const scope = { kind: 'org', id: ORG } as const;
  const latencies: number[] = [];
  const held = new Map(users.map((u) => [u.id, ['ORG_MEMBER']]));
  await client.roles.setRoles(scope, users[0]?.id ?? '', ['ORG_MEMBER'], ['ORG_MEMBER']);
  const deadline = performance.now() + SECONDS * 1000;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, lane) => {
      while (performance.now() < deadline) {
        const user = users[(lane + next * concurrency) % USERS] ?? users[0];
        next += 1;
        if (!user) return;
        const current = held.get(user.id) ?? ['ORG_MEMBER'];
        const target = current.includes('ORG_READ_ONLY') ? ['ORG_MEMBER'] : ['ORG_MEMBER', 'ORG_READ_ONLY'];
        const t0 = performance.now();
        await client.roles.setRoles(scope, user.id, current, target);
        latencies.push(performance.now() - t0);
        held.set(user.id, target);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await client.close();
  latencies.sort((a, b) => a - b);
  const pick = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    auth: auth.kind === 'digest' ? 'Digest (nonce reused)' : 'Bearer token (1 round trip)',
    concurrency,
    changes: latencies.length,
    perSecond: latencies.length / elapsed,
    p50: pick(0.5),
    p99: pick(0.99),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { simulator: { type: 'boolean', default: false }, ...ATLAS_API_OPTION },
    strict: true,
  });
  if (values.simulator) {
    await runSimulator();
    return;
  }
  const flavor = readAtlasFlavor(values['atlas-api']);
  const child = fork(new URL(import.meta.url).pathname, ['--simulator'], { execArgv: process.execArgv });
  const url = await new Promise<string>((resolve) =>
    child.once('message', (m: { url: string }) => resolve(m.url)),
  );
  const rows: Row[] = [];
  for (const auth of [{ kind: 'digest', ...API_KEY } as const, { kind: 'oauth', ...ACCOUNT } as const]) {
    for (const concurrency of [1, 8, 64]) rows.push(await measure(url, flavor, auth, concurrency));
  }
  child.disconnect();
  const header = ['auth', 'concurrency', 'changes', 'changes/s', 'p50 ms', 'p99 ms'];
  const lines = rows.map((r) => [
    r.auth,
    String(r.concurrency),
    String(r.changes),
    r.perSecond.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(
    `Atlas client, role changes against the local simulator (ATLAS_API ${describeFlavor(flavor)}; ${SECONDS} s per row, node ${process.version})`,
  );
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

void main();
