import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

/** A local Socket Mode endpoint: says hello, sends envelopes, collects the app's acks. */
export interface SocketModeServer {
  readonly url: string;
  /** Resolves once the app has connected and received `hello`. */
  connected(): Promise<void>;
  /** Sends one envelope (`slash_commands`, `interactive`) and resolves to the ack's payload. */
  send(type: string, payload: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

/** Starts a WebSocket server that speaks the Socket Mode protocol. */
export async function startSocketModeServer(): Promise<SocketModeServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const pending = new Map<string, (payload: Record<string, unknown> | undefined) => void>();
  let socket: WebSocket | undefined;
  let onConnect: (() => void) | undefined;
  const connected = new Promise<void>((resolve) => {
    onConnect = resolve;
  });
  server.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (data) => {
      const ack = JSON.parse(String(data)) as { envelope_id?: string; payload?: Record<string, unknown> };
      if (ack.envelope_id) pending.get(ack.envelope_id)?.(ack.payload);
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0ROLECALL' } }));
    onConnect?.();
  });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/link`,
    connected: () => connected,
    send(type, payload) {
      const envelopeId = randomUUID();
      return new Promise((resolve, reject) => {
        if (!socket) {
          reject(new Error('no Socket Mode client connected'));
          return;
        }
        pending.set(envelopeId, resolve);
        socket.send(
          JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: true }),
        );
      });
    },
    close: () =>
      new Promise((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
