import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../dev/http-util.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from '../../dev/sandbox.js';
import { buildButtonPayload, buildCommandPayload } from '../../dev/slack-driver.js';
import { requestIdIn, waitForApprovalMessage, waitForDm, waitForEphemeral } from '../../dev/slack-flow.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';
import { type SocketModeServer, startSocketModeServer } from '../support/socket-mode-server.js';

describe('Socket Mode (SLACK_APP_TOKEN set)', () => {
  let socket: SocketModeServer;
  let sandbox: Sandbox;

  beforeAll(async () => {
    socket = await startSocketModeServer();
    sandbox = await startSandbox({
      redisUrl: TEST_REDIS_URL,
      prefix: uniquePrefix('socket'),
      socketModeUrl: socket.url,
    });
    await socket.connected();
  });

  afterAll(async () => {
    await sandbox.stop();
    await socket.close();
  });

  it('connects through apps.connections.open and serves no HTTP events endpoint', async () => {
    expect(sandbox.slack.callsTo('apps.connections.open')).toHaveLength(1);
    const response = await fetch(sandbox.eventsUrl, { method: 'POST', body: 'x=1' });
    expect(response.status).toBe(404);
  });

  it('answers a slash command sent over the socket in its ack', async () => {
    const ack = await socket.send(
      'slash_commands',
      buildCommandPayload(sandbox.slack, PEOPLE.alice, 'help', CHANNELS.general),
    );
    expect(ack?.response_type).toBe('ephemeral');
    expect(JSON.stringify(ack?.blocks)).toContain('/atlas-access request ROLE');
  });

  it('runs a request and its approval end to end over the socket', async () => {
    await socket.send(
      'slash_commands',
      buildCommandPayload(
        sandbox.slack,
        PEOPLE.alice,
        'request GROUP_DATA_ACCESS_READ_ONLY on payments-prod because socket',
        CHANNELS.general,
      ),
    );
    const id = requestIdIn(
      await waitForEphemeral(sandbox.slack, PEOPLE.alice.id, /Request \*AR-[0-9A-Z]+\*/),
    );
    const approval = await waitForApprovalMessage(sandbox.slack, id);
    await socket.send(
      'interactive',
      buildButtonPayload(sandbox.slack, PEOPLE.bob, approval, 'request_approve'),
    );
    await waitForDm(sandbox.slack, PEOPLE.alice.id, /applied/);
    const roles = await waitUntil(() =>
      sandbox.atlas.rolesOf(PEOPLE.alice.email, { kind: 'project', id: ATLAS.project.id }),
    );
    expect(roles.sort()).toEqual(['GROUP_DATA_ACCESS_READ_ONLY', 'GROUP_READ_ONLY']);
  });
});
