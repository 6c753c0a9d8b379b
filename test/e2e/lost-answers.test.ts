// the one-call grant and revocation (atlas-v2-2025) when Atlas's answer to a
// write is lost and the client sends it again.
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/local-redis.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { ATLAS_V2_2025 } from '../support/flow-flavors.js';
import { holdRevocations, PROJECT, requestAs, rolesAt, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const WRITE = 'GROUP_DATA_ACCESS_READ_WRITE';

/**
 * A gateway in front of the Atlas simulator: it forwards every request, and for the first `times`
 * whose path matches `lose` it lets Atlas carry the request out, then answers 502 instead of Atlas's
 * answer (a load balancer that lost the backend's answer: the write landed, the client cannot know).
 */
async function startLossyGateway(target: number, port: number) {
  let lose: { path: RegExp; times: number } | null = null;
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const losing =
            lose !== null && lose.times > 0 && answer.statusCode !== 401 && lose.path.test(req.url ?? '');
          if (losing && lose) {
            lose.times -= 1;
            res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(chunks));
        });
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    loseNext: (path: RegExp, times = 1) => {
      lose = { path, times };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('one-call grant when the answer to :addRole is lost', () => {
  let sandbox: Sandbox;
  let gateway: Awaited<ReturnType<typeof startLossyGateway>>;

  afterEach(async () => {
    await sandbox.stop();
    await gateway.close();
  });

  const start = async (label: string) => {
    const atlasPort = await freePort();
    const gatewayPort = await freePort();
    gateway = await startLossyGateway(atlasPort, gatewayPort);
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      atlasPort,
      env: {
        JOB_BACKOFF_MS: '50',
        RECONCILE_INTERVAL: '1h',
        ATLAS_BASE_URL: `http://127.0.0.1:${gatewayPort}`,
      },
      atlasApi: ATLAS_V2_2025.api,
    });
  };

  it('removes the role at the grant end when the :addRole landed but its answer was lost', async () => {
    await start('lost-add');
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ} on payments-prod for 2s because lost`,
    );
    // Atlas carries out the first :addRole but its answer never reaches Rolecall (a 502 instead).
    gateway.loseNext(/:addRole$/);
    const clickedAt = Date.now();
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await waitForState(sandbox, asked.id, 'applied', 15_000);
    const statuses = sandbox.atlas.calls
      .filter((c) => c.path.endsWith(':addRole') && c.auth === 'digest')
      .map((c) => c.status);
    // The retried :addRole met the role the first one added.
    expect(statuses).toContain(409);
    expect(rolesAt(sandbox.atlas.timeline(PEOPLE.alice.email, PROJECT), clickedAt)).not.toContain(READ);
    // Rolecall added this role: the grant must hold it, not call it "held outside Rolecall".
    expect({ held: applied.grant?.held, outside: applied.grant?.outside }).toEqual({
      held: [READ],
      outside: [],
    });
    await hold.release();
    if (applied.grant?.revokeAt !== null) await waitForState(sandbox, asked.id, 'revoked', 10_000);
    // The role Rolecall added must not outlive the grant.
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain(READ);
  }, 40_000);

  it('removes the role when the :removeRole landed but its answer was lost, without calling it drift', async () => {
    await start('lost-remove');
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${WRITE} on payments-prod for 2s because lost remove`,
    );
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    await waitForState(sandbox, asked.id, 'applied', 10_000);
    gateway.loseNext(/:removeRole$/);
    await hold.release();
    const revoked = await waitForState(sandbox, asked.id, 'revoked', 15_000);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT)).not.toContain(WRITE);
    // Rolecall removed it itself; "already gone" tells the approvers someone removed it by hand.
    expect({ removed: revoked.revocation?.removed, gone: revoked.revocation?.gone }).toEqual({
      removed: [WRITE],
      gone: [],
    });
  }, 40_000);
});
