// The one-call grant (atlas-v2-2025) when Atlas's answer to a write is lost, when an undo fails,
// or when both meet: no role Rolecall added outlives its grant, and nothing is left by a failed one.
import { createServer, request as httpRequest, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { freePort } from '../../dev/local-redis.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import type { AccessRequest, RequestState } from '../../src/requests/model.js';
import { ATLAS_V2_2025 } from '../support/flow-flavors.js';
import { holdRevocations, PROJECT, readRequest, requestAs } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const READ = 'GROUP_DATA_ACCESS_READ_ONLY';
const TYPO = 'GROUP_SEARCH_INDEX_EDITORR';

/**
 * A gateway in front of the simulator. `lose`: forwards, lets Atlas carry the call out, answers 502
 * (answer lost). `refuse`: answers 503 without forwarding (the call surely did not land).
 */
async function startGateway(target: number, port: number) {
  let rule: { path: RegExp; method: string; times: number; forward: boolean } | null = null;
  const server: Server = createServer((req, res) => {
    const matches =
      rule !== null && rule.times > 0 && rule.method === req.method && rule.path.test(req.url ?? '');
    if (matches && rule && !rule.forward && req.headers.authorization !== undefined) {
      rule.times -= 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (matches && rule?.forward && rule.times > 0 && answer.statusCode !== 401) {
            rule.times -= 1;
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
    lose: (method: string, path: RegExp, times = 1) => {
      rule = { method, path, times, forward: true };
    },
    refuse: (method: string, path: RegExp, times = 1) => {
      rule = { method, path, times, forward: false };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const settle = (sandbox: Sandbox, id: string, states: readonly RequestState[], ms = 20_000) =>
  waitUntil(
    async () => {
      const request = await readRequest(sandbox, id);
      return states.includes(request.state) ? request : undefined;
    },
    ms,
    `${id} in ${states.join(' or ')}`,
  );

const TYPO_POLICY = `approvalsChannel: ${CHANNELS.approvals}
targets:
  - name: ${ATLAS.project.name}
    project: ${ATLAS.project.id}
    approvers: [${PEOPLE.bob.id}, ${PEOPLE.carol.id}]
    roles: [GROUP_READ_ONLY, ${READ}, ${TYPO}]
`;

describe('one-call grants when answers are lost and undos fail', () => {
  let sandbox: Sandbox;
  let gateway: Awaited<ReturnType<typeof startGateway>>;

  afterEach(async () => {
    await sandbox.stop();
    await gateway.close();
  });

  const start = async (label: string, env: Record<string, string> = {}, policy?: string) => {
    const atlasPort = await freePort();
    const gatewayPort = await freePort();
    gateway = await startGateway(atlasPort, gatewayPort);
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix(label),
      atlasPort,
      env: {
        JOB_BACKOFF_MS: '50',
        RECONCILE_INTERVAL: '1h',
        ATLAS_BASE_URL: `http://127.0.0.1:${gatewayPort}`,
        ...env,
      },
      atlasApi: ATLAS_V2_2025.api,
      ...(policy ? { policy } : {}),
    });
  };

  it('ends a role whose :addRole landed when every one of the client tries lost its answer', async () => {
    await start('r24b-a', { ATLAS_MAX_RETRIES: '1' });
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because a`);
    // The first :addRole lands, its answer and the retry's (a 409) are both lost: the client gives up with a 502.
    gateway.lose('POST', /:addRole$/, 2);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const applied = await settle(sandbox, asked.id, ['applied', 'failed']);
    expect({
      state: applied.state,
      held: applied.grant?.held,
      outside: applied.grant?.outside,
      revokeAt: typeof applied.grant?.revokeAt,
    }).toEqual({ state: 'applied', held: [READ], outside: [], revokeAt: 'number' });
  }, 40_000);

  it('takes back a role an earlier try added when a later role is refused for good', async () => {
    await start('r24b-b', {}, TYPO_POLICY);
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      `request ${READ},${TYPO} on payments-prod for 1h because b`,
    );
    // READ's :addRole lands, its answer is lost; the retry meets 409 (afterLostAnswer); then Atlas refuses TYPO.
    gateway.lose('POST', /:addRole$/, 1);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const failed = await settle(sandbox, asked.id, ['applied', 'failed']);
    expect({
      state: failed.state,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({ state: 'failed', roles: ['GROUP_READ_ONLY'] });
  }, 40_000);

  it('someone who left the project, brought back by an :addRole whose answer was lost, leaves at the end', async () => {
    await start('r24b-c');
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because c`);
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    gateway.lose('POST', /:addRole$/, 1);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const settled = await settle(sandbox, asked.id, ['applied', 'failed']);
    await hold.release();
    const ended: AccessRequest =
      settled.state === 'applied' ? await settle(sandbox, asked.id, ['revoked', 'revoke_failed']) : settled;
    expect({
      applied: settled.state,
      addedToProject: settled.grant?.addedToProject,
      ended: ended.state,
      failure: ended.failure?.code,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({ applied: 'applied', addedToProject: true, ended: 'revoked', failure: undefined, roles: [] });
  }, 40_000);

  it('someone who left the project is taken out at the end when the first undo (removeGroupUser) fails', async () => {
    await start('r24b-d', { ATLAS_MAX_RETRIES: '0' });
    const hold = await holdRevocations(sandbox);
    const asked = await requestAs(sandbox, PEOPLE.alice, `request ${READ} on payments-prod for 2s because d`);
    sandbox.atlas.setRoles(PEOPLE.alice.email, PROJECT, []);
    // The undo's DELETE never reaches Atlas once (503); the job tries again.
    gateway.refuse('DELETE', /\/groups\/[^/]+\/users\/[^/:]+$/, 1);
    await sandbox.driver.clickButton(PEOPLE.bob, asked.approval, 'request_approve');
    const settled = await settle(sandbox, asked.id, ['applied', 'failed']);
    await hold.release();
    const ended: AccessRequest =
      settled.state === 'applied' ? await settle(sandbox, asked.id, ['revoked', 'revoke_failed']) : settled;
    expect({
      applied: settled.state,
      addedToProject: settled.grant?.addedToProject,
      ended: ended.state,
      failure: ended.failure?.code,
      roles: sandbox.atlas.rolesOf(PEOPLE.alice.email, PROJECT),
    }).toEqual({ applied: 'applied', addedToProject: true, ended: 'revoked', failure: undefined, roles: [] });
  }, 40_000);
});
