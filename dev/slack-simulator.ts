import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import { readBody, sendJson } from './http-util.js';

/** A person in the simulated workspace. */
export interface SimulatedSlackUser {
  readonly id: string;
  readonly name: string;
  readonly email?: string;
  /** A guest account (`is_restricted`; multi-channel) or `ultra` (`is_ultra_restricted`; single-channel). */
  readonly guest?: 'multi' | 'ultra';
  /** A deactivated account (`deleted`). */
  readonly deleted?: boolean;
  /** A bot user (`is_bot`). */
  readonly bot?: boolean;
  /** The person's own workspace, when it is not the app's (Slack Connect). */
  readonly teamId?: string;
  /** Their time zone (users.info `tz`). @defaultValue 'America/Los_Angeles' (Slack's documented example) */
  readonly timeZone?: string;
}

/** One Web API call as the simulator received and answered it. */
export interface RecordedSlackCall {
  readonly method: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  readonly error?: string;
  readonly at: number;
}

/** A message as it stands in the simulated workspace. */
export interface SimulatedMessage {
  readonly channel: string;
  readonly ts: string;
  readonly threadTs: string | undefined;
  text: string;
  blocks: unknown[] | undefined;
  /** How many times chat.update changed it. */
  updates: number;
  /**
   * Posted with a workflow step's token (`bot_access_token` of function_executed): Slack sends clicks
   * on it as function-scoped interactivity, with `function_data` and a `bot_access_token`
   * (docs.slack.dev/tools/bolt-js/concepts/custom-steps, "Listening to custom step interactivity
   * events"; docs.slack.dev/reference/interaction-payloads/block_actions-payload).
   */
  readonly functionExecutionId?: string;
}

/** A workflow step's execution as Workflow Builder started it. */
export interface SimulatedFunctionExecution {
  readonly executionId: string;
  readonly callbackId: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly botAccessToken: string;
}

type SlackEventBody =
  | { kind: 'message'; message: SimulatedMessage }
  | { kind: 'update'; message: SimulatedMessage }
  | {
      kind: 'ephemeral';
      user: string;
      channel: string | undefined;
      text: string;
      blocks: unknown[] | undefined;
    }
  | { kind: 'view'; user: string | undefined; view: Record<string, unknown> }
  | { kind: 'home'; user: string; view: Record<string, unknown> }
  | {
      kind: 'function';
      executionId: string;
      outcome: 'success' | 'error';
      outputs?: Record<string, unknown>;
      error?: string;
    };

/** Something a person would have seen, in order, with when: the stuff of the demo transcript. */
export type SlackEvent = SlackEventBody & { readonly at: number };

/** A scripted failure for the next calls of one method. */
export interface SlackFailure {
  readonly method: string;
  /** Slack error string, e.g. `ratelimited`, `channel_not_found`, `internal_error`. */
  readonly error: string;
  /**
   * @defaultValue 200 (Slack reports most errors with ok:false and HTTP 200); use 429 with retryAfter
   * for a rate limit (https://api.slack.com/docs/rate-limits: HTTP 429 and a Retry-After header in
   * seconds), or a 5xx for an outage.
   */
  readonly status?: number;
  readonly retryAfter?: number;
  /** @defaultValue 1; `Infinity` for an outage that lasts until {@link SlackSimulator.endFailures}. */
  readonly times?: number;
}

/**
 * An org-wide (Enterprise Grid) installation: the bot token is the organization's, not one
 * workspace's (https://api.slack.com/enterprise/apps/changes-apis).
 */
export interface SimulatedEnterprise {
  readonly id: string;
  readonly name: string;
  /** The organization's workspaces where the app is added; users of other teams are outsiders. */
  readonly teams: readonly string[];
}

/** Options for {@link startSlackSimulator}. */
export interface SlackSimulatorOptions {
  readonly botToken: string;
  readonly users: readonly SimulatedSlackUser[];
  /** Channels the bot is a member of; posting elsewhere fails with `not_in_channel`. */
  readonly channels: readonly string[];
  /** @defaultValue 0 (any free port) */
  readonly port?: number;
  /** Socket Mode: the app-level token apps.connections.open accepts, and the WebSocket URL it returns. */
  readonly socketMode?: { readonly appToken: string; readonly url: string };
  /** User groups (`S…`) and their members, for usergroups.users.list. */
  readonly userGroups?: Readonly<Record<string, readonly string[]>>;
  /**
   * Install the app org-wide in this Enterprise Grid organization instead of in one workspace:
   * auth.test says `is_enterprise_install: true`, users.info carries `enterprise_user`, and the
   * methods Slack lists as needing `team_id` with an org token refuse a call without it.
   */
  readonly enterprise?: SimulatedEnterprise;
  /**
   * How long a response_url works (Slack: 30 minutes) and how often (Slack: 5 times); `strict: false`
   * also takes ids it did not hand out (a load generator in another process makes its own).
   * @defaultValue { ttlMs: 1_800_000, uses: 5, strict: true }
   */
  readonly responseUrls?: { readonly ttlMs: number; readonly uses: number; readonly strict?: boolean };
}

/** A local stand-in for the Slack Web API and for response_url, recording everything. */
export interface SlackSimulator {
  /** Base URL to use as SLACK_API_URL. */
  readonly apiUrl: string;
  /** A fresh response_url for a person in a channel, as Slack puts in command and action payloads. */
  newResponseUrl(userId: string, channelId: string): string;
  /** A fresh trigger_id for a person, as Slack puts in interactive payloads. */
  newTriggerId(userId: string): string;
  readonly calls: readonly RecordedSlackCall[];
  readonly events: readonly SlackEvent[];
  /** The organization when the app is installed org-wide; undefined for a workspace install. */
  readonly enterprise: SimulatedEnterprise | undefined;
  /** Changes a user group's members (creating or enabling it), as an admin would in Slack. */
  setUserGroup(id: string, members: readonly string[]): void;
  /**
   * Disables a user group (usergroups.disable): it keeps its members, but usergroups.users.list
   * answers `no_such_subteam` unless asked with `include_disabled`.
   */
  disableUserGroup(id: string): void;
  /** Deletes a user group: usergroups.users.list answers `no_such_subteam` for it from now on. */
  deleteUserGroup(id: string): void;
  /**
   * Starts a workflow step's execution, as Workflow Builder would before sending `function_executed`:
   * an execution id and the short-lived token Slack hands the app for it (accepted by this simulator).
   */
  startFunctionExecution(step?: {
    readonly callbackId: string;
    readonly inputs: Readonly<Record<string, unknown>>;
  }): { readonly executionId: string; readonly botAccessToken: string };
  /** A step's execution by id: its callback id, inputs and token (for function-scoped clicks). */
  functionExecution(executionId: string): SimulatedFunctionExecution | undefined;
  /** How an execution ended: functions.completeSuccess / completeError; undefined while it runs. */
  functionOutcome(executionId: string): Extract<SlackEvent, { kind: 'function' }> | undefined;
  /** The Home tab last published to a person (views.publish), with its id. */
  homeOf(userId: string): Record<string, unknown> | undefined;
  /** A modal as it stands now (views.open, then every views.update). */
  viewById(viewId: string): Record<string, unknown> | undefined;
  /** Makes every response_url handed out so far expire, as 30 minutes would. */
  expireResponseUrls(): void;
  /** Adds an event a person saw that did not go through the Web API (an HTTP ack body). */
  recordEphemeral(user: string, channel: string | undefined, text: string, blocks?: unknown[]): void;
  callsTo(method: string): RecordedSlackCall[];
  message(channel: string, ts: string): SimulatedMessage | undefined;
  messagesIn(channel: string): SimulatedMessage[];
  /** The DM channel id the simulator uses for a user. */
  dmChannelOf(userId: string): string;
  fail(failure: SlackFailure): void;
  /**
   * Answers `method` only after `delayMs`, `times` times (default 1): a slow Slack, long enough for a
   * process to be killed while it waits.
   */
  slowDown(slow: { readonly method: string; readonly delayMs: number; readonly times?: number }): void;
  /** Ends the scripted failures of `method` (of every method when omitted): the outage is over. */
  endFailures(method?: string): void;
  close(): Promise<void>;
}

const BOT = { user_id: 'U0ROLECALL', bot_id: 'B0ROLECALL', team_id: 'T0ROLECALL' } as const;

/** Starts the Slack simulator on a local port. */
export async function startSlackSimulator(options: SlackSimulatorOptions): Promise<SlackSimulator> {
  const calls: RecordedSlackCall[] = [];
  const events: SlackEvent[] = [];
  const triggers = new Map<string, string>();
  const record = (event: SlackEventBody) => events.push({ ...event, at: Date.now() } as SlackEvent);
  const messages = new Map<string, SimulatedMessage>();
  const failures: (SlackFailure & { left: number })[] = [];
  const slowdowns: { method: string; delayMs: number; left: number }[] = [];
  const users = new Map(options.users.map((u) => [u.id, u]));
  const responseUrls = new Map<string, { at: number; used: number }>();
  const userGroups = new Map(
    Object.entries(options.userGroups ?? {}).map(([id, members]) => [id, [...members]]),
  );
  const disabledGroups = new Set<string>();
  const { enterprise } = options;
  /** The user's own workspace, as users.info says it. */
  const teamOf = (user: SimulatedSlackUser) => user.teamId ?? BOT.team_id;
  const channels = new Set(options.channels);
  const homes = new Map<string, Record<string, unknown>>();
  const views = new Map<string, Record<string, unknown>>();
  const executions = new Map<string, 'running' | 'done'>();
  const executionSteps = new Map<string, SimulatedFunctionExecution>();
  /** Each workflow token and the execution it was handed out for. */
  const workflowTokens = new Map<string, string>();
  const newViewId = () => `V${randomBytes(5).toString('hex').toUpperCase()}`;
  const newHash = () => `${Date.now()}.${randomBytes(4).toString('hex')}`;
  /** Slack's limits: 100 blocks in a modal or a Home tab. */
  const MAX_VIEW_BLOCKS = 100;
  const tooManyBlocks = (view: Record<string, unknown>) =>
    Array.isArray(view.blocks) && view.blocks.length > MAX_VIEW_BLOCKS;
  let clock = 1_700_000_000_000;
  let base = '';
  const nextTs = () => {
    clock = Math.max(clock + 1, Date.now() * 1000);
    return `${Math.floor(clock / 1_000_000)}.${String(clock % 1_000_000).padStart(6, '0')}`;
  };
  const dmChannelOf = (userId: string) => `D${userId.slice(1)}`;
  const canPost = (channel: string) => channel.startsWith('D') || channels.has(channel);

  /** Who calls: the execution whose workflow token the call carries, if any. */
  type Caller = { readonly executionId: string | undefined };
  type Handler = (args: Record<string, unknown>, caller: Caller) => Record<string, unknown>;
  const fail = (error: string) => ({ ok: false, error });
  const parseBlocks = (value: unknown): unknown[] | undefined =>
    typeof value === 'string' ? (JSON.parse(value) as unknown[]) : (value as unknown[] | undefined);

  const methods: Record<string, Handler> = {
    // https://api.slack.com/methods/auth.test; an org-wide token answers with the organization's
    // `enterprise_id` and `is_enterprise_install: true` (https://api.slack.com/enterprise/apps/reference);
    // it belongs to no one workspace, so its team is the organization (Rolecall reads only the first two).
    'auth.test': () =>
      enterprise
        ? {
            ok: true,
            url: 'https://rolecall-sim.enterprise.slack.com/',
            team: enterprise.name,
            user: 'rolecall',
            ...BOT,
            team_id: enterprise.id,
            enterprise_id: enterprise.id,
            is_enterprise_install: true,
          }
        : {
            ok: true,
            url: 'https://rolecall-sim.slack.com/',
            team: 'Rolecall',
            user: 'rolecall',
            ...BOT,
            is_enterprise_install: false,
          },
    'users.info': (args) => {
      const user = users.get(String(args.user));
      if (!user) return fail('user_not_found');
      // In an Enterprise Grid organization a member's user object carries `enterprise_user`
      // (https://api.slack.com/types/user): the organization and the workspaces they belong to.
      const org = enterprise?.teams.includes(teamOf(user)) ? enterprise : undefined;
      return {
        ok: true,
        user: {
          id: user.id,
          team_id: teamOf(user),
          ...(org
            ? {
                enterprise_user: {
                  id: user.id,
                  enterprise_id: org.id,
                  enterprise_name: org.name,
                  is_admin: false,
                  is_owner: false,
                  teams: [teamOf(user)],
                },
              }
            : {}),
          name: user.name,
          deleted: user.deleted ?? false,
          is_bot: user.bot ?? false,
          is_restricted: user.guest !== undefined,
          is_ultra_restricted: user.guest === 'ultra',
          real_name: user.name,
          // https://api.slack.com/types/user: tz, tz_label, tz_offset (seconds east of UTC, now).
          tz: user.timeZone ?? 'America/Los_Angeles',
          tz_label: user.timeZone ?? 'America/Los_Angeles',
          tz_offset: DateTime.now().setZone(user.timeZone ?? 'America/Los_Angeles').offset * 60,
          profile: {
            real_name: user.name,
            display_name: user.name,
            ...(user.email ? { email: user.email } : {}),
          },
        },
      };
    },
    'users.lookupByEmail': (args) => {
      const email = String(args.email ?? '').toLowerCase();
      const user = [...users.values()].find((u) => u.email?.toLowerCase() === email && !u.deleted);
      return user
        ? { ok: true, user: { id: user.id, team_id: user.teamId ?? BOT.team_id, name: user.name } }
        : fail('users_not_found');
    },
    // https://api.slack.com/methods/usergroups.users.list: `team_id` is "required if org token is
    // used" (without it Slack answers `missing_argument`, as for every method on the org-wide list,
    // https://api.slack.com/enterprise/apps/changes-apis); `no_such_subteam` is "No usergroup found
    // with the given Id", which is also the answer for a disabled group unless the call sets
    // `include_disabled` ("Allow results that involve disabled User Groups").
    'usergroups.users.list': (args) => {
      if (enterprise && (args.team_id === undefined || args.team_id === '')) return fail('missing_argument');
      if (enterprise && !enterprise.teams.includes(String(args.team_id))) return fail('no_such_subteam');
      const id = String(args.usergroup ?? '');
      const members = userGroups.get(id);
      if (!members) return fail('no_such_subteam');
      const includeDisabled = args.include_disabled === true || args.include_disabled === 'true';
      if (disabledGroups.has(id) && !includeDisabled) return fail('no_such_subteam');
      return { ok: true, users: [...members] };
    },
    'conversations.open': (args) => {
      const id = String(args.users ?? '').split(',')[0] ?? '';
      if (!users.has(id)) return fail('user_not_found');
      return { ok: true, channel: { id: dmChannelOf(id) } };
    },
    'chat.postMessage': (args, caller) => {
      const channel = String(args.channel ?? '');
      if (!canPost(channel)) return fail('not_in_channel');
      const blocks = parseBlocks(args.blocks);
      if (blocks && blocks.length > 50) return fail('invalid_blocks');
      if (args.text === undefined && blocks === undefined) return fail('no_text');
      const message: SimulatedMessage = {
        channel,
        ts: nextTs(),
        threadTs: typeof args.thread_ts === 'string' ? args.thread_ts : undefined,
        text: String(args.text ?? ''),
        blocks,
        updates: 0,
        ...(caller.executionId === undefined ? {} : { functionExecutionId: caller.executionId }),
      };
      messages.set(`${channel}/${message.ts}`, message);
      record({ kind: 'message', message });
      return {
        ok: true,
        channel,
        ts: message.ts,
        message: { text: message.text, blocks, user: BOT.user_id },
      };
    },
    'chat.update': (args) => {
      const message = messages.get(`${String(args.channel)}/${String(args.ts)}`);
      if (!message) return fail('message_not_found');
      const blocks = parseBlocks(args.blocks);
      if (blocks && blocks.length > 50) return fail('invalid_blocks');
      message.text = String(args.text ?? message.text);
      message.blocks = blocks ?? message.blocks;
      message.updates += 1;
      record({ kind: 'update', message: { ...message } });
      return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
    },
    // docs.slack.dev/reference/methods/chat.getPermalink: no scope; `channel` and `message_ts` of an
    // extant message; a thread reply's link carries `thread_ts` and `cid`.
    'chat.getPermalink': (args) => {
      const channel = String(args.channel ?? '');
      if (!canPost(channel)) return fail('channel_not_found');
      const message = messages.get(`${channel}/${String(args.message_ts ?? '')}`);
      if (!message) return fail('message_not_found');
      const path = `https://rolecall-sim.slack.com/archives/${channel}/p${message.ts.replace('.', '')}`;
      return {
        ok: true,
        channel,
        permalink: message.threadTs ? `${path}?thread_ts=${message.threadTs}&cid=${channel}` : path,
      };
    },
    'chat.postEphemeral': (args) => {
      const channel = String(args.channel ?? '');
      if (!canPost(channel)) return fail('not_in_channel');
      record({
        kind: 'ephemeral',
        user: String(args.user),
        channel,
        text: String(args.text ?? ''),
        blocks: parseBlocks(args.blocks),
      });
      return { ok: true, message_ts: nextTs() };
    },
    'views.open': (args) => {
      const user = triggers.get(String(args.trigger_id ?? ''));
      if (user === undefined) return fail('invalid_trigger_id');
      const view = typeof args.view === 'string' ? (JSON.parse(args.view) as Record<string, unknown>) : {};
      if (tooManyBlocks(view)) return fail('invalid_arguments');
      const opened = { ...view, id: newViewId(), hash: newHash(), state: { values: {} } };
      views.set(opened.id, opened);
      record({ kind: 'view', user, view: opened });
      return { ok: true, view: opened };
    },
    'views.update': (args) => {
      const view = typeof args.view === 'string' ? (JSON.parse(args.view) as Record<string, unknown>) : {};
      const id = String(args.view_id ?? '');
      const current = views.get(id);
      if (!current) return fail('not_found');
      if (args.hash !== undefined && args.hash !== current.hash) return fail('hash_conflict');
      if (tooManyBlocks(view)) return fail('invalid_arguments');
      const updated = { ...view, id, hash: newHash(), state: current.state };
      views.set(id, updated);
      record({ kind: 'view', user: undefined, view: updated });
      return { ok: true, view: updated };
    },
    'views.publish': (args) => {
      const user = String(args.user_id ?? '');
      if (!users.has(user)) return fail('user_not_found');
      const view = typeof args.view === 'string' ? (JSON.parse(args.view) as Record<string, unknown>) : {};
      if (view.type !== 'home') return fail('invalid_arguments');
      if (tooManyBlocks(view)) return fail('invalid_arguments');
      const published = { ...view, id: homes.get(user)?.id ?? newViewId(), hash: newHash() };
      homes.set(user, published);
      record({ kind: 'home', user, view: published });
      return { ok: true, view: published };
    },
    'functions.completeSuccess': (args) => completeFunction(args, 'success'),
    'functions.completeError': (args) => completeFunction(args, 'error'),
  };

  function completeFunction(args: Record<string, unknown>, outcome: 'success' | 'error') {
    const executionId = String(args.function_execution_id ?? '');
    const state = executions.get(executionId);
    if (state === undefined) return fail('function_execution_not_found');
    if (state === 'done') return fail('execution_not_in_running_state');
    executions.set(executionId, 'done');
    const outputs =
      typeof args.outputs === 'string' ? (JSON.parse(args.outputs) as Record<string, unknown>) : args.outputs;
    record({
      kind: 'function',
      executionId,
      outcome,
      ...(outcome === 'success' ? { outputs: (outputs ?? {}) as Record<string, unknown> } : {}),
      ...(outcome === 'error' ? { error: String(args.error ?? '') } : {}),
    });
    return { ok: true };
  }

  const handleApi = async (req: IncomingMessage, res: ServerResponse, method: string) => {
    const raw = await readBody(req);
    const type = req.headers['content-type'] ?? '';
    const args: Record<string, unknown> = type.includes('application/json')
      ? (JSON.parse(raw || '{}') as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(raw));
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || String(args.token ?? '');
    const slow = slowdowns.find((s) => s.method === method && s.left > 0);
    if (slow) {
      slow.left -= 1;
      await new Promise((resolve) => setTimeout(resolve, slow.delayMs));
    }
    const failure = failures.find((f) => f.method === method && f.left > 0);
    let status = 200;
    let answer: Record<string, unknown>;
    const headers: Record<string, string> = {};
    if (method === 'apps.connections.open') {
      answer =
        options.socketMode && token === options.socketMode.appToken
          ? { ok: true, url: options.socketMode.url }
          : fail('invalid_auth');
    } else if (token !== options.botToken && !workflowTokens.has(token)) {
      answer = fail('invalid_auth');
    } else if (failure) {
      failure.left -= 1;
      status = failure.status ?? 200;
      if (failure.retryAfter !== undefined) headers['retry-after'] = String(failure.retryAfter);
      answer = fail(failure.error);
    } else {
      const handler = methods[method];
      answer = handler ? handler(args, { executionId: workflowTokens.get(token) }) : fail('unknown_method');
    }
    calls.push({
      method,
      args,
      ok: answer.ok === true,
      ...(typeof answer.error === 'string' ? { error: answer.error } : {}),
      at: Date.now(),
    });
    sendJson(res, status, answer, headers);
  };

  const handleResponseUrl = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
    const [user = 'unknown', channel] = id.split('.');
    const limits = options.responseUrls ?? { ttlMs: 1_800_000, uses: 5 };
    if (limits.strict === false && !responseUrls.has(id)) responseUrls.set(id, { at: Date.now(), used: 0 });
    const issued = responseUrls.get(id);
    const refusal =
      issued === undefined || Date.now() - issued.at > limits.ttlMs
        ? 'expired_url'
        : issued.used >= limits.uses
          ? 'used_url'
          : undefined;
    if (refusal || issued === undefined) {
      calls.push({
        method: 'response_url',
        args: { ...body, response_url_id: id },
        ok: false,
        error: refusal ?? 'expired_url',
        at: Date.now(),
      });
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(refusal ?? 'expired_url');
      return;
    }
    issued.used += 1;
    calls.push({ method: 'response_url', args: { ...body, response_url_id: id }, ok: true, at: Date.now() });
    record({
      kind: 'ephemeral',
      user,
      channel,
      text: String(body.text ?? ''),
      blocks: body.blocks as unknown[] | undefined,
    });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const api = /^\/api\/([a-zA-Z.]+)$/.exec(path);
    const response = /^\/response\/([A-Za-z0-9.]+)$/.exec(path);
    const work = api?.[1]
      ? handleApi(req, res, api[1])
      : response?.[1]
        ? handleResponseUrl(req, res, response[1])
        : Promise.resolve(sendJson(res, 404, { ok: false, error: 'unknown_path' }));
    work.catch((error: unknown) => sendJson(res, 500, { ok: false, error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let responseCounter = 0;
  return {
    apiUrl: `${base}/api/`,
    newResponseUrl: (userId, channelId) => {
      responseCounter += 1;
      const id = `${userId}.${channelId}.${responseCounter}`;
      responseUrls.set(id, { at: Date.now(), used: 0 });
      return `${base}/response/${id}`;
    },
    enterprise,
    setUserGroup: (id, members) => {
      userGroups.set(id, [...members]);
      disabledGroups.delete(id);
    },
    disableUserGroup: (id) => {
      disabledGroups.add(id);
    },
    deleteUserGroup: (id) => {
      userGroups.delete(id);
      disabledGroups.delete(id);
    },
    startFunctionExecution: (step) => {
      const executionId = `Fx${randomBytes(5).toString('hex').toUpperCase()}`;
      const botAccessToken = `xwfp-${randomBytes(12).toString('hex')}`;
      executions.set(executionId, 'running');
      workflowTokens.set(botAccessToken, executionId);
      executionSteps.set(executionId, {
        executionId,
        callbackId: step?.callbackId ?? '',
        inputs: step?.inputs ?? {},
        botAccessToken,
      });
      return { executionId, botAccessToken };
    },
    functionExecution: (executionId) => executionSteps.get(executionId),
    functionOutcome: (executionId) =>
      events.find(
        (e): e is Extract<SlackEvent, { kind: 'function' }> =>
          e.kind === 'function' && e.executionId === executionId,
      ),
    homeOf: (userId) => homes.get(userId),
    viewById: (viewId) => views.get(viewId),
    expireResponseUrls: () => {
      for (const issued of responseUrls.values()) issued.at = 0;
    },
    newTriggerId: (userId) => {
      const id = `${Date.now()}.${Math.floor(Math.random() * 1e6)}.${randomBytes(8).toString('hex')}`;
      triggers.set(id, userId);
      return id;
    },
    calls,
    events,
    recordEphemeral: (user, channel, text, blocks) =>
      record({ kind: 'ephemeral', user, channel, text, blocks }),
    callsTo: (method) => calls.filter((c) => c.method === method),
    message: (channel, ts) => messages.get(`${channel}/${ts}`),
    messagesIn: (channel) => [...messages.values()].filter((m) => m.channel === channel),
    dmChannelOf,
    fail: (failure) => failures.push({ ...failure, left: failure.times ?? 1 }),
    slowDown: (slow) => slowdowns.push({ method: slow.method, delayMs: slow.delayMs, left: slow.times ?? 1 }),
    endFailures: (method) => {
      for (const failure of failures) if (method === undefined || failure.method === method) failure.left = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
