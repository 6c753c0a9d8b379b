import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import { type SlackSimulator, startSlackSimulator } from '../../dev/slack-simulator.js';
import { createLogger } from '../../src/ops/logger.js';
import { createSlackUserGroups } from '../../src/slack/user-groups.js';

describe('createSlackUserGroups', () => {
  let slack: SlackSimulator;
  afterEach(async () => {
    await slack.close();
  });

  const setUp = async () => {
    slack = await startSlackSimulator({
      botToken: 'xoxb-test',
      users: [],
      channels: [],
      userGroups: { S0DBA: ['U0DAVE'] },
    });
    const lines: string[] = [];
    const client = new WebClient('xoxb-test', {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
    let clock = 0;
    const groups = createSlackUserGroups(client, {
      logger: createLogger({ write: (line) => lines.push(line) }),
      now: () => clock,
    });
    return { groups, lines, advance: (ms: number) => (clock += ms) };
  };
  const calls = () => slack.callsTo('usergroups.users.list').length;

  it('serves answers up to 60 s old unless a decision asks again', async () => {
    const { groups, advance } = await setUp();
    expect(await groups.members(['S0DBA'], { fresh: false })).toEqual(
      new Map([['S0DBA', new Set(['U0DAVE'])]]),
    );
    slack.setUserGroup('S0DBA', []);
    advance(59_000);
    expect((await groups.members(['S0DBA'], { fresh: false })).get('S0DBA')).toEqual(new Set(['U0DAVE']));
    expect((await groups.members(['S0DBA'], { fresh: true })).get('S0DBA')).toEqual(new Set());
    expect(calls()).toBe(2);
  });

  it('falls back at once to the members last seen when Slack rate-limits, and says so', async () => {
    const { groups, lines } = await setUp();
    await groups.members(['S0DBA'], { fresh: true });
    slack.fail({ method: 'usergroups.users.list', error: 'ratelimited', status: 429, retryAfter: 10 });
    const started = Date.now();
    expect((await groups.members(['S0DBA'], { fresh: true })).get('S0DBA')).toEqual(new Set(['U0DAVE']));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(lines.some((l) => l.includes('using the members last seen'))).toBe(true);
  });

  it('counts a group never seen as nobody when Slack cannot answer', async () => {
    const { groups } = await setUp();
    slack.fail({ method: 'usergroups.users.list', error: 'internal_error' });
    expect(await groups.members(['S0DBA'], { fresh: true })).toEqual(new Map());
    expect(await groups.members(['S0NONE'], { fresh: true })).toEqual(new Map());
  });
});
