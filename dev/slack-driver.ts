import { createHmac } from 'node:crypto';
import type { SimulatedMessage, SimulatedSlackUser, SlackSimulator } from './slack-simulator.js';

/** The HTTP answer Rolecall gave to one signed request. */
export interface DriverResponse {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/** Values typed into a modal, by block id: what Slack puts in `view.state.values`. */
export type ViewValues = Record<string, Record<string, Record<string, unknown>>>;

/** Options for {@link createSlackDriver}. */
export interface SlackDriverOptions {
  /** Rolecall's `POST /slack/events` URL (a function: it changes when the app restarts on another port). */
  readonly eventsUrl: () => string;
  readonly signingSecret: string;
  readonly slack: SlackSimulator;
}

/** Sends requests to Rolecall exactly as Slack does: form-encoded, `payload=`, signed with v0 HMAC-SHA256. */
export interface SlackDriver {
  /** A person types `/atlas-access <text>` in a channel. */
  command(user: SimulatedSlackUser, text: string, channelId: string): Promise<DriverResponse>;
  /** A person clicks a button on a message. */
  clickButton(user: SimulatedSlackUser, message: SimulatedMessage, actionId: string): Promise<DriverResponse>;
  /** A person submits a modal that Rolecall opened, with these input values. */
  submitView(
    user: SimulatedSlackUser,
    view: Record<string, unknown>,
    values: ViewValues,
  ): Promise<DriverResponse>;
  /**
   * A person clicks a button in a view (the Home tab, a modal): the first button with `actionId`,
   * or the one whose value is `value` (a Home tab has an Approve button per request).
   */
  clickInView(
    user: SimulatedSlackUser,
    view: Record<string, unknown>,
    actionId: string,
    value?: string,
  ): Promise<DriverResponse>;
  /**
   * A person picks something in an open modal's input that dispatches actions (`dispatch_action`):
   * `values` is the whole form state after the pick, `blockId` the input that changed.
   */
  chooseInView(
    user: SimulatedSlackUser,
    view: Record<string, unknown>,
    blockId: string,
    values: ViewValues,
  ): Promise<DriverResponse>;
  /** A person types into an external select: Slack asks the app for options (`block_suggestion`). */
  suggest(
    user: SimulatedSlackUser,
    view: Record<string, unknown>,
    blockId: string,
    typed: string,
  ): Promise<DriverResponse>;
  /** A person opens the app's Home tab (Events API `app_home_opened`). */
  openHome(user: SimulatedSlackUser): Promise<DriverResponse>;
  /** A person runs a global shortcut. */
  shortcut(user: SimulatedSlackUser, callbackId: string): Promise<DriverResponse>;
  /**
   * Workflow Builder runs the app's custom step (Events API `function_executed`) with `inputs`;
   * returns the execution id to look its outcome up in the simulator.
   */
  executeFunction(
    callbackId: string,
    inputs: Record<string, unknown>,
  ): Promise<
    DriverResponse & {
      readonly executionId: string;
      /** Delivers the same event again, as Slack does when it retries a delivery. */
      redeliver(): Promise<DriverResponse>;
    }
  >;
  /** Sends a raw body with a chosen signature (for testing verification). */
  sendRaw(body: string, headers: Readonly<Record<string, string>>): Promise<DriverResponse>;
  /** The headers Slack would send for this body. */
  sign(body: string, timestamp?: number): Record<string, string>;
}

const TEAM = { id: 'T0ROLECALL', domain: 'rolecall' } as const;

/**
 * How a payload says which installation it is for: an org-wide install adds the organization and
 * `is_enterprise_install: true` (https://api.slack.com/enterprise/apps/reference); the team stays
 * the workspace the person acted in.
 */
function installOf(slack: SlackSimulator) {
  const org = slack.enterprise;
  return {
    enterprise: org ? { id: org.id, name: org.name } : null,
    is_enterprise_install: org !== undefined,
  };
}

function userOf(user: SimulatedSlackUser) {
  return { id: user.id, username: user.name, name: user.name, team_id: TEAM.id };
}

/** Encodes text the way Slack does in slash commands: `&`, `<`, `>` become entities. */
export function encodeLikeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The fields of a slash command, as Slack sends them (form fields over HTTP, an object in Socket
 * Mode), with the typed text encoded as Slack encodes it.
 */
export function buildCommandPayload(
  slack: SlackSimulator,
  user: SimulatedSlackUser,
  text: string,
  channelId: string,
): Record<string, string> {
  return {
    token: 'deprecated-verification-token',
    team_id: TEAM.id,
    team_domain: TEAM.domain,
    channel_id: channelId,
    channel_name: channelId.startsWith('D') ? 'directmessage' : 'general',
    user_id: user.id,
    user_name: user.name,
    command: '/atlas-access',
    text: encodeLikeSlack(text),
    api_app_id: 'A0ROLECALL',
    // Slash commands carry these as form fields (strings).
    ...(slack.enterprise
      ? { enterprise_id: slack.enterprise.id, enterprise_name: slack.enterprise.name }
      : {}),
    is_enterprise_install: String(slack.enterprise !== undefined),
    response_url: slack.newResponseUrl(user.id, channelId),
    trigger_id: slack.newTriggerId(user.id),
  };
}

/** A `block_actions` payload for a click on the button `actionId` of `message`. */
export function buildButtonPayload(
  slack: SlackSimulator,
  user: SimulatedSlackUser,
  message: SimulatedMessage,
  actionId: string,
): Record<string, unknown> {
  const blocks = (message.blocks ?? []) as {
    type: string;
    block_id?: string;
    elements?: Record<string, unknown>[];
  }[];
  // A message a workflow step posted with its own token: the click is function-scoped interactivity.
  const step =
    message.functionExecutionId === undefined
      ? undefined
      : slack.functionExecution(message.functionExecutionId);
  for (const block of blocks) {
    const button = block.elements?.find((e) => e.action_id === actionId);
    if (block.type !== 'actions' || !button) continue;
    return {
      type: 'block_actions',
      user: userOf(user),
      api_app_id: 'A0ROLECALL',
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: false,
      },
      trigger_id: slack.newTriggerId(user.id),
      team: TEAM,
      ...installOf(slack),
      channel: { id: message.channel, name: 'approvals' },
      message: {
        type: 'message',
        user: 'U0ROLECALL',
        ts: message.ts,
        text: message.text,
        blocks: message.blocks,
      },
      state: { values: {} },
      response_url: slack.newResponseUrl(user.id, message.channel),
      actions: [
        {
          action_id: actionId,
          block_id: block.block_id ?? '',
          text: button.text,
          value: button.value,
          ...(button.style ? { style: button.style } : {}),
          type: 'button',
          action_ts: `${Date.now() / 1000}`,
        },
      ],
      ...(step
        ? {
            function_data: {
              execution_id: step.executionId,
              function: { callback_id: step.callbackId },
              inputs: step.inputs,
            },
            bot_access_token: step.botAccessToken,
          }
        : {}),
    };
  }
  throw new Error(`message ${message.ts} has no button ${actionId}`);
}

/** A `view_submission` payload for a modal Rolecall opened, filled in with `values`. */
export function buildViewSubmissionPayload(
  slack: SlackSimulator,
  user: SimulatedSlackUser,
  view: Record<string, unknown>,
  values: ViewValues,
): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: TEAM,
    user: userOf(user),
    api_app_id: 'A0ROLECALL',
    token: 'deprecated-verification-token',
    trigger_id: slack.newTriggerId(user.id),
    view: { ...view, team_id: TEAM.id, state: { values }, hash: `${Date.now()}.abc`, app_id: 'A0ROLECALL' },
    response_urls: [],
    ...installOf(slack),
  };
}

type ViewBlock = {
  type: string;
  block_id?: string;
  elements?: Record<string, unknown>[];
  accessory?: Record<string, unknown>;
};

/** A `block_actions` payload for one action in a view (Home tab or modal), with the view's state. */
function buildViewActionPayload(
  slack: SlackSimulator,
  user: SimulatedSlackUser,
  view: Record<string, unknown>,
  values: Record<string, unknown>,
  action: Record<string, unknown>,
): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: userOf(user),
    api_app_id: 'A0ROLECALL',
    token: 'deprecated-verification-token',
    container: { type: 'view', view_id: view.id },
    trigger_id: slack.newTriggerId(user.id),
    team: TEAM,
    ...installOf(slack),
    view: { ...view, team_id: TEAM.id, app_id: 'A0ROLECALL', state: { values } },
    actions: [action],
  };
}

/** A `block_actions` payload for a click on a button in a view (Home tab or modal). */
export function buildViewButtonPayload(
  slack: SlackSimulator,
  user: SimulatedSlackUser,
  view: Record<string, unknown>,
  actionId: string,
  value?: string,
): Record<string, unknown> {
  const matches = (e: Record<string, unknown> | undefined) =>
    e !== undefined &&
    e.type === 'button' &&
    e.action_id === actionId &&
    (value === undefined || e.value === value);
  for (const block of (view.blocks ?? []) as ViewBlock[]) {
    const button = block.elements?.find(matches) ?? (matches(block.accessory) ? block.accessory : undefined);
    if (!button) continue;
    return buildViewActionPayload(
      slack,
      user,
      view,
      {},
      {
        action_id: actionId,
        block_id: block.block_id ?? '',
        text: button.text,
        ...(button.value === undefined ? {} : { value: button.value }),
        type: 'button',
        action_ts: `${Date.now() / 1000}`,
      },
    );
  }
  throw new Error(`view ${String(view.id)} has no button ${actionId}${value ? ` for ${value}` : ''}`);
}

/** Creates a driver for one Rolecall instance in HTTP mode. */
export function createSlackDriver(options: SlackDriverOptions): SlackDriver {
  const { slack } = options;

  const sign = (body: string, timestamp = Math.floor(Date.now() / 1000)) => {
    const signature = createHmac('sha256', options.signingSecret)
      .update(`v0:${timestamp}:${body}`)
      .digest('hex');
    return {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': `v0=${signature}`,
    };
  };

  const sendRaw = async (
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<DriverResponse> => {
    const response = await fetch(options.eventsUrl(), { method: 'POST', headers, body });
    const text = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  };

  const send = (form: Record<string, string>) => {
    const body = new URLSearchParams(form).toString();
    return sendRaw(body, sign(body));
  };
  /** An Events API delivery: JSON, signed the same way. */
  const sendEvent = (event: Record<string, unknown>) => {
    const body = JSON.stringify({
      token: 'deprecated-verification-token',
      team_id: TEAM.id,
      api_app_id: 'A0ROLECALL',
      // An org-wide install is told so in `authorizations` (https://api.slack.com/enterprise/apps/reference).
      ...(slack.enterprise
        ? {
            enterprise_id: slack.enterprise.id,
            authorizations: [
              {
                enterprise_id: slack.enterprise.id,
                team_id: TEAM.id,
                user_id: 'U0ROLECALL',
                is_bot: true,
                is_enterprise_install: true,
              },
            ],
          }
        : {}),
      event,
      type: 'event_callback',
      event_id: `Ev${Date.now()}${Math.floor(Math.random() * 1e6)}`,
      event_time: Math.floor(Date.now() / 1000),
    });
    return sendRaw(body, { ...sign(body), 'content-type': 'application/json' });
  };

  return {
    sign,
    sendRaw,

    async command(user, text, channelId) {
      const response = await send(buildCommandPayload(slack, user, text, channelId));
      const reply = response.json;
      if (reply && typeof reply.text === 'string') {
        slack.recordEphemeral(user.id, channelId, reply.text, reply.blocks as unknown[] | undefined);
      }
      return response;
    },

    clickButton: (user, message, actionId) =>
      send({ payload: JSON.stringify(buildButtonPayload(slack, user, message, actionId)) }),

    submitView: (user, view, values) =>
      send({ payload: JSON.stringify(buildViewSubmissionPayload(slack, user, view, values)) }),

    clickInView: (user, view, actionId, value) =>
      send({ payload: JSON.stringify(buildViewButtonPayload(slack, user, view, actionId, value)) }),

    chooseInView: (user, view, blockId, values) => {
      const picked = values[blockId]?.value ?? {};
      const action = { ...picked, action_id: 'value', block_id: blockId, action_ts: `${Date.now() / 1000}` };
      return send({ payload: JSON.stringify(buildViewActionPayload(slack, user, view, values, action)) });
    },

    suggest: (user, view, blockId, typed) =>
      send({
        payload: JSON.stringify({
          type: 'block_suggestion',
          user: userOf(user),
          container: { type: 'view', view_id: view.id },
          api_app_id: 'A0ROLECALL',
          token: 'deprecated-verification-token',
          action_id: 'value',
          block_id: blockId,
          value: typed,
          team: TEAM,
          view: { ...view, team_id: TEAM.id, app_id: 'A0ROLECALL' },
        }),
      }),

    openHome: (user) =>
      sendEvent({
        type: 'app_home_opened',
        user: user.id,
        channel: slack.dmChannelOf(user.id),
        tab: 'home',
        event_ts: `${Date.now() / 1000}`,
      }),

    shortcut: (user, callbackId) =>
      send({
        payload: JSON.stringify({
          type: 'shortcut',
          token: 'deprecated-verification-token',
          action_ts: `${Date.now() / 1000}`,
          team: TEAM,
          user: userOf(user),
          ...installOf(slack),
          callback_id: callbackId,
          trigger_id: slack.newTriggerId(user.id),
        }),
      }),

    async executeFunction(callbackId, inputs) {
      const { executionId, botAccessToken } = slack.startFunctionExecution({ callbackId, inputs });
      const event = {
        type: 'function_executed',
        function: {
          id: 'Fn0ROLECALL',
          callback_id: callbackId,
          title: 'Request Atlas access',
          type: 'app',
          app_id: 'A0ROLECALL',
        },
        inputs,
        function_execution_id: executionId,
        workflow_execution_id: `Wx${executionId.slice(2)}`,
        event_ts: `${Date.now() / 1000}`,
        bot_access_token: botAccessToken,
      };
      const response = await sendEvent(event);
      return { ...response, executionId, redeliver: () => sendEvent(event) };
    },
  };
}
