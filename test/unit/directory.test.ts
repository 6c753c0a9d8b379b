import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type SimulatedEnterprise,
  type SlackSimulator,
  startSlackSimulator,
} from '../../dev/slack-simulator.js';
import { createLogger } from '../../src/ops/logger.js';
import { createSlackDirectory } from '../../src/slack/directory.js';

const ORG: SimulatedEnterprise = { id: 'E0ORG', name: 'Org', teams: ['T0ROLECALL', 'T0SALES'] };

describe('createSlackDirectory', () => {
  let slack: SlackSimulator;
  afterEach(async () => {
    await slack.close();
  });

  const setUp = async (enterprise?: SimulatedEnterprise) => {
    slack = await startSlackSimulator({
      botToken: 'xoxb-test',
      users: [
        { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
        { id: 'U0SAM', name: 'sam', email: 'sam@example.com', teamId: 'T0SALES' },
        { id: 'U0PAT', name: 'pat', email: 'pat@partner.example', teamId: 'T0PARTNER' },
        { id: 'U0DEPLOY', name: 'deploybot', email: 'deploy@example.com', bot: true },
      ],
      channels: [],
      ...(enterprise ? { enterprise } : {}),
    });
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    return createSlackDirectory(client, { logger: createLogger({ write: () => undefined }) });
  };

  it('on a workspace install, keeps the payload’s team on the person and refuses another team', async () => {
    const directory = await setUp();
    expect(await directory.person('U0ALICE', 'T0ROLECALL')).toEqual({
      id: 'U0ALICE',
      standing: 'member',
      email: 'alice@example.com',
      // Slack's tz for her (the simulator answers its documented example when a user names none).
      timeZone: 'America/Los_Angeles',
      teamId: 'T0ROLECALL',
    });
    expect((await directory.person('U0ALICE', 'T0OTHER')).standing).toBe('external');
    expect((await directory.person('U0SAM')).standing).toBe('external');
    expect(await directory.person('U0ALICE')).not.toHaveProperty('teamId');
  });

  it('fails closed: a bot user is a bot, a users.info error is unknown (and not remembered), an id Slack does not know is missing', async () => {
    const directory = await setUp();
    expect(await directory.person('U0DEPLOY', 'T0ROLECALL')).toMatchObject({
      id: 'U0DEPLOY',
      standing: 'bot',
    });
    slack.fail({ method: 'users.info', error: 'internal_error' });
    expect(await directory.person('U0ALICE', 'T0ROLECALL')).toEqual({
      id: 'U0ALICE',
      standing: 'unknown',
      email: null,
    });
    slack.fail({ method: 'users.info', error: 'ratelimited', status: 429, retryAfter: 1 });
    expect((await directory.person('U0ALICE')).standing).toBe('unknown');
    // The failures were not cached: the next lookup asks Slack again and finds a member.
    expect((await directory.person('U0ALICE')).standing).toBe('member');
    expect(await directory.person('U0NOBODY', 'T0ROLECALL')).toEqual({
      id: 'U0NOBODY',
      standing: 'missing',
      email: null,
    });
  });

  it('on an org-wide install, counts everyone of the organization as a member, whatever their workspace', async () => {
    const directory = await setUp(ORG);
    expect(await directory.person('U0ALICE', 'T0ROLECALL')).toMatchObject({
      standing: 'member',
      teamId: 'T0ROLECALL',
    });
    expect(await directory.person('U0SAM', 'T0SALES')).toMatchObject({
      standing: 'member',
      teamId: 'T0SALES',
    });
    expect((await directory.person('U0ALICE')).standing).toBe('member');
    expect((await directory.person('U0PAT', 'T0PARTNER')).standing).toBe('external');
  });
});
