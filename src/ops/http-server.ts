import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Foreground } from './foreground.js';
import type { Logger } from './logger.js';
import type { ReadinessReport } from './readiness.js';

/** Options for {@link createHttpServer}. */
export interface HttpServerOptions {
  port: number;
  logger: Logger;
  /** Bolt's listener for `POST /slack/events`; absent in Socket Mode and worker-only processes. */
  slack: RequestListener | undefined;
  /** True when the process can do its work (Redis answers). @defaultValue absent: no /healthz */
  healthy?: () => Promise<boolean>;
  /** Answers GET /readyz (200 when ready, else 503, with the report as JSON); absent: no /readyz here. */
  ready?: () => Promise<ReadinessReport>;
  /** Counts Slack requests not answered yet, so background work can let them go first. */
  foreground?: Foreground;
  /**
   * True once a shutdown has begun: every answer then says `Connection: close`, so clients open their
   * next request elsewhere while this one is still served (SHUTDOWN_DRAIN). @defaultValue never
   */
  stopping?: () => boolean;
  /** Renders GET /metrics (Prometheus text format); absent: no /metrics here. */
  metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

/** The process's HTTP server. */
export interface HttpServer {
  /** Starts listening; resolves to the bound port (useful with port 0). */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** Serves Slack's events endpoint, `GET /healthz` and `GET /metrics` (each when given); everything else is 404. */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger } = options;
  let server: Server | undefined;

  const listener: RequestListener = (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (options.stopping?.()) res.setHeader('connection', 'close');
    if (path === '/metrics' && req.method === 'GET' && options.metrics) {
      options
        .metrics()
        .then(({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          logger.error('metrics could not be rendered', { error });
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('metrics unavailable\n');
        });
      return;
    }
    if (path === '/readyz' && req.method === 'GET' && options.ready) {
      options
        .ready()
        .catch((error: unknown) => ({
          ready: false,
          body: { status: 'unavailable', checks: {}, error: String(error) },
        }))
        .then((report) => {
          res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify(report.body));
        });
      return;
    }
    if (path === '/healthz' && req.method === 'GET' && options.healthy) {
      options
        .healthy()
        .catch(() => false)
        .then((ok) => {
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable' }));
        });
      return;
    }
    if (path === '/slack/events' && req.method === 'POST' && options.slack) {
      const answered = options.foreground?.enter();
      if (answered) {
        res.once('finish', answered);
        res.once('close', answered);
      }
      options.slack(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found\n');
  };

  return {
    listen() {
      return new Promise((resolve, reject) => {
        const created = createServer(listener);
        created.keepAliveTimeout = 65_000;
        created.once('error', reject);
        created.listen(options.port, () => {
          server = created;
          const port = (created.address() as AddressInfo).port;
          logger.info('http server listening', { port });
          resolve(port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (!server) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
