import { afterEach, describe, expect, it } from 'vitest';
import { PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { requestAs, waitForState } from '../support/grant-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

describe('federation settings the API key may not read (end to end)', () => {
  let sandbox: Sandbox;

  afterEach(async () => {
    await sandbox.stop();
  });

  it('still reads the current roles of a project role request when the key is no Organization Owner (federationSettings answers 403)', async () => {
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('fed-403'),
      env: { JOB_BACKOFF_MS: '50', RECONCILE_INTERVAL: '1h' },
      atlasApi: 'atlas-v2',
    });
    // A Project Owner key: getOrgFederationSettings needs Organization Owner (spec x-rolesRequirements).
    sandbox.atlas.inject({
      path: /\/federationSettings/,
      untilMs: Date.now() + 60_000,
      status: 403,
      body: {
        error: 403,
        errorCode: 'USER_CANNOT_ACCESS_ORGANIZATION',
        detail: 'User cannot access this organization.',
        reason: 'Forbidden',
      },
    });
    const asked = await requestAs(
      sandbox,
      PEOPLE.alice,
      'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod for 1h because incident 9',
    );
    const pending = await waitForState(sandbox, asked.id, 'pending', 10_000);
    expect(pending.state).toBe('pending');
    // Her roles were still read and shown: the federation read the key may not make costs nothing else.
    expect(pending.rolesAtRequest).toEqual(['GROUP_READ_ONLY']);
    expect(pending.failure).toBeNull();
  }, 30_000);
});
