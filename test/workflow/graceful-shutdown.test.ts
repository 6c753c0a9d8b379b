import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { readAudit, readRequest, requestAs, sleep, waitForState } from '../support/grant-flow.js';
import { type RolecallProcess, spawnRolecall } from '../support/processes.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('graceful shutdown (SIGTERM) of a worker process', () => {
  let sandbox: Sandbox;
  const workers: RolecallProcess[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.kill('SIGKILL');
    await sandbox.stop();
  });

  const start = async (label: string, workerEnv: Record<string, string>) => {
    // The bot here, the worker in a process of its own so it can be signalled.
    sandbox = await startSandbox({ redisUrl: TEST_REDIS_URL, prefix: uniquePrefix(label), mode: 'bot' });
    const spawnWorker = async () => {
      const worker = spawnRolecall(['worker'], {
        ...sandbox.env,
        PORT: '0',
        LOG_LEVEL: 'info',
        ...workerEnv,
      });
      workers.push(worker);
      await worker.ready();
      return worker;
    };
    return spawnWorker;
  };
  const exitOf = (worker: RolecallProcess) =>
    new Promise<number | null>((resolve) => {
      if (worker.child.exitCode !== null) resolve(worker.child.exitCode);
      else worker.child.once('exit', (code) => resolve(code));
    });
  const writes = () => sandbox.atlas.authenticatedCalls().filter((c) => c.method === 'PUT');

  it('finishes the job in flight, then exits 0', async () => {
    const spawnWorker = await start('shutdown-finish', { SHUTDOWN_GRACE: '20s' });
    const worker = await spawnWorker();
    sandbox.atlas.inject({ method: 'PUT', delayMs: 1_500 });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because shutdown',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applying', 10_000);
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    expect(await exitOf(worker)).toBe(0);
    // It waited for the Atlas call (1.5 s) and recorded the grant before closing.
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(500);
    expect((await readRequest(sandbox, id)).state).toBe('applied');
    expect(writes()).toHaveLength(1);
    expect(worker.output()).toContain('received SIGTERM, shutting down');
  });

  it('leaves a job still running at SHUTDOWN_GRACE to stalled-job recovery, which applies it once', async () => {
    const spawnWorker = await start('shutdown-deadline', { SHUTDOWN_GRACE: '1s', WORKER_LOCK_MS: '2000' });
    const first = await spawnWorker();
    sandbox.atlas.inject({ method: 'PUT', delayMs: 4_000, reset: true, times: 1 });
    const { id, approval } = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because deadline',
    );
    await sandbox.driver.clickButton(PEOPLE.bob, approval, 'request_approve');
    await waitForState(sandbox, id, 'applying', 10_000);
    first.child.kill('SIGTERM');
    expect(await exitOf(first)).toBe(0);
    expect(first.output()).toContain('left to stalled-job recovery');
    expect((await readRequest(sandbox, id)).state).toBe('applying');
    // Another worker takes the stalled job over once its lock has expired, and applies it once.
    await spawnWorker();
    const applied = await waitForState(sandbox, id, 'applied', 20_000);
    expect(applied.grant?.held).toEqual(['GROUP_DATA_ACCESS_READ_ONLY']);
    expect((await readAudit(sandbox, id)).filter((e) => e.to === 'applied')).toHaveLength(1);
    expect(sandbox.atlas.rolesOf(PEOPLE.alice.email, { kind: 'project', id: applied.target.id })).toContain(
      'GROUP_DATA_ACCESS_READ_ONLY',
    );
  });
});

describe('graceful drain (SIGTERM) of the Slack side', () => {
  let sandbox: Sandbox | undefined;
  afterEach(async () => {
    await sandbox?.stop();
    sandbox = undefined;
  });

  it('answers 503 on /readyz at once, still serves Slack during SHUTDOWN_DRAIN, then refuses connections', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('drain'),
      env: { SHUTDOWN_DRAIN: '2s' },
    });
    const box = sandbox;
    const port = box.rolecall.port;
    const signalled = Date.now();
    const stopped = box.rolecall.stop().then(() => Date.now());
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(readyz.status).toBe(503);
    expect(((await readyz.json()) as { status: string }).status).toBe('stopping');
    expect(readyz.headers.get('connection')).toBe('close');

    // A request that arrives during the drain is acknowledged and stored, not dropped.
    await sleep(500);
    const answer = await box.driver.command(
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because drain',
      'C0GENERAL',
    );
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('Got it');
    const stoppedAt = await stopped;
    expect(stoppedAt - signalled).toBeGreaterThanOrEqual(2_000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();

    // The request it took in waits in Redis; the next process picks it up.
    await box.restart();
    const reply = await waitUntil(
      () =>
        box.slack.events
          .map((e) => (e.kind === 'ephemeral' && e.user === PEOPLE.alice.id ? e.text : undefined))
          .find((t) => t !== undefined && /Request \*AR-[0-9A-Z]+\* is waiting/.test(t)),
      15_000,
    );
    const id = /AR-[0-9A-Z]+/.exec(reply)?.[0] ?? '';
    await waitForState(box, id, 'pending');
  });
});
