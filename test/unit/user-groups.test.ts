import { WebClient } from '@slack/web-api';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type SimulatedEnterprise,
  type SlackSimulator,
  startSlackSimulator,
} from '../../dev/slack-simulator.js';
import { createLogger } from '../../src/ops/logger.js';
import { createSlackUserGroups } from '../../src/slack/user-groups.js';

const ORG: SimulatedEnterprise = { id: 'E0ORG', name: 'Org', teams: ['T0ONE', 'T0TWO'] };
const DAVE = new Set(['U0DAVE']);

describe('createSlackUserGroups', () => {
  let slack: SlackSimulator;
  afterEach(async () => {
    await slack.close();
  });

  const setUp = async (options: { maxAgeMs?: number; enterprise?: SimulatedEnterprise } = {}) => {
    slack = await startSlackSimulator({
      botToken: 'xoxb-test',
      users: [],
      channels: [],
      userGroups: { S0DBA: ['U0DAVE'] },
      ...(options.enterprise ? { enterprise: options.enterprise } : {}),
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
      ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
    });
    return { groups, lines, advance: (ms: number) => (clock += ms) };
  };
  const calls = () => slack.callsTo('usergroups.users.list');
  const outage = () =>
    slack.fail({
      method: 'usergroups.users.list',
      error: 'internal_error',
      status: 503,
      times: Number.POSITIVE_INFINITY,
    });

  it('serves decisions and views from an answer younger than 60 s, and asks Slack again after', async () => {
    const { groups, advance } = await setUp();
    expect(await groups.members(['S0DBA'], { fresh: true })).toEqual({
      known: new Map([['S0DBA', DAVE]]),
      unconfirmed: new Map(),
    });
    slack.setUserGroup('S0DBA', []);
    advance(59_999);
    expect((await groups.members(['S0DBA'], { fresh: true })).known.get('S0DBA')).toEqual(DAVE);
    expect((await groups.members(['S0DBA'], { fresh: false })).known.get('S0DBA')).toEqual(DAVE);
    expect(calls()).toHaveLength(1);
    advance(1);
    expect((await groups.members(['S0DBA'], { fresh: true })).known.get('S0DBA')).toEqual(new Set());
    expect(calls()).toHaveLength(2);
  });

  it('uses the configured bound, and 0 asks Slack every time', async () => {
    const { groups, advance } = await setUp({ maxAgeMs: 5_000 });
    await groups.members(['S0DBA'], { fresh: true });
    advance(4_999);
    await groups.members(['S0DBA'], { fresh: true });
    expect(calls()).toHaveLength(1);
    advance(1);
    await groups.members(['S0DBA'], { fresh: true });
    expect(calls()).toHaveLength(2);
    await slack.close();

    const always = await setUp({ maxAgeMs: 0 });
    await always.groups.members(['S0DBA'], { fresh: false });
    await always.groups.members(['S0DBA'], { fresh: true });
    expect(calls()).toHaveLength(2);
  });

  it('never decides on members older than the bound while Slack fails; a view shows the last seen', async () => {
    const { groups, advance, lines } = await setUp();
    await groups.members(['S0DBA'], { fresh: true });
    outage();
    advance(30_000);
    // Inside the bound: a cache hit, Slack is not asked.
    expect((await groups.members(['S0DBA'], { fresh: true })).known.get('S0DBA')).toEqual(DAVE);
    expect(calls()).toHaveLength(1);
    advance(30_000);
    expect(await groups.members(['S0DBA'], { fresh: true })).toEqual({
      known: new Map(),
      unconfirmed: new Map([['S0DBA', 'unreachable']]),
    });
    expect((await groups.members(['S0DBA'], { fresh: false })).known.get('S0DBA')).toEqual(DAVE);
    expect(lines.some((l) => l.includes('too old to decide on'))).toBe(true);
    expect(lines.some((l) => l.includes('showing the members last seen'))).toBe(true);
    slack.endFailures();
    expect((await groups.members(['S0DBA'], { fresh: true })).known.get('S0DBA')).toEqual(DAVE);
  });

  it('answers at once when Slack rate-limits, without waiting for Retry-After', async () => {
    const { groups } = await setUp();
    slack.fail({ method: 'usergroups.users.list', error: 'ratelimited', status: 429, retryAfter: 30 });
    const started = Date.now();
    expect((await groups.members(['S0DBA'], { fresh: true })).unconfirmed.get('S0DBA')).toBe('unreachable');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('leaves a group never seen unconfirmed, for views too, while Slack cannot answer', async () => {
    const { groups } = await setUp();
    outage();
    expect((await groups.members(['S0DBA'], { fresh: false })).unconfirmed.get('S0DBA')).toBe('unreachable');
    expect((await groups.members(['S0DBA'], { fresh: true })).unconfirmed.get('S0DBA')).toBe('unreachable');
  });

  it.each([
    ['disabled', () => slack.disableUserGroup('S0DBA')],
    ['deleted', () => slack.deleteUserGroup('S0DBA')],
  ])('counts a %s group as nobody (known and empty), and says so once', async (_how, change) => {
    const { groups, advance, lines } = await setUp();
    await groups.members(['S0DBA'], { fresh: true });
    change();
    advance(60_000);
    expect(await groups.members(['S0DBA'], { fresh: true })).toEqual({
      known: new Map([['S0DBA', new Set()]]),
      unconfirmed: new Map(),
    });
    advance(60_000);
    expect((await groups.members(['S0DBA'], { fresh: false })).known.get('S0DBA')).toEqual(new Set());
    expect(lines.filter((l) => l.includes('disabled or deleted in Slack'))).toHaveLength(1);
    expect(calls().every((c) => c.args.include_disabled === undefined)).toBe(true);
  });

  it('makes one call for concurrent checks of the same group', async () => {
    const { groups } = await setUp();
    await Promise.all([
      groups.members(['S0DBA'], { fresh: true }),
      groups.members(['S0DBA'], { fresh: true }),
      groups.members(['S0DBA'], { fresh: false }),
    ]);
    expect(calls()).toHaveLength(1);
  });

  it('keeps a workspace install exactly as before: no team_id, whatever the action says', async () => {
    const { groups } = await setUp();
    await groups.members(['S0DBA'], { fresh: true, teamId: 'T0ROLECALL' });
    expect(calls()[0]?.args).toEqual({ usergroup: 'S0DBA' });
  });

  describe('on an org-wide install', () => {
    it('reads a group in the workspace the action came from, and caches it per workspace', async () => {
      const { groups } = await setUp({ enterprise: ORG });
      expect((await groups.members(['S0DBA'], { fresh: true, teamId: 'T0ONE' })).known.get('S0DBA')).toEqual(
        DAVE,
      );
      await groups.members(['S0DBA'], { fresh: true, teamId: 'T0ONE' });
      await groups.members(['S0DBA'], { fresh: true, teamId: 'T0TWO' });
      expect(calls().map((c) => c.args)).toEqual([
        { usergroup: 'S0DBA', team_id: 'T0ONE' },
        { usergroup: 'S0DBA', team_id: 'T0TWO' },
      ]);
      expect(calls().every((c) => c.ok)).toBe(true);
    });

    it('cannot confirm a group for a decision without a workspace; a view shows the last seen', async () => {
      const { groups } = await setUp({ enterprise: ORG });
      expect((await groups.members(['S0DBA'], { fresh: false })).unconfirmed.get('S0DBA')).toBe(
        'no-workspace',
      );
      await groups.members(['S0DBA'], { fresh: true, teamId: 'T0ONE' });
      expect((await groups.members(['S0DBA'], { fresh: true })).unconfirmed.get('S0DBA')).toBe(
        'no-workspace',
      );
      expect((await groups.members(['S0DBA'], { fresh: false })).known.get('S0DBA')).toEqual(DAVE);
      expect(calls()).toHaveLength(1);
    });
  });
});
