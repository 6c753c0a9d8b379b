import { createServer, request as httpRequest, type Server } from 'node:http';
import { freePort } from '../../dev/local-redis.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../dev/sandbox.js';

/** Which calls a gateway rule catches: the path (with its query), the method if given, how many. */
export interface GatewayMatch {
  readonly method?: string;
  /** @defaultValue 1 */
  readonly times?: number;
}

/** A gateway in front of the Atlas simulator that can lose answers or refuse calls (see {@link startAtlasGateway}). */
export interface AtlasGateway {
  /** Forwards the next matching signed calls, lets Atlas carry them out, then answers 502: the answer is lost. */
  lose(path: RegExp, match?: GatewayMatch): void;
  /** Answers the next matching signed calls 503 without forwarding them: they surely did not land. */
  refuse(path: RegExp, match?: GatewayMatch): void;
  close(): Promise<void>;
}

/**
 * A load balancer between Rolecall and the Atlas simulator: it forwards every request, except that a
 * rule can lose Atlas's answer to a call that landed (502) or refuse a call before it reaches Atlas
 * (503). Digest challenges (401) pass untouched, so a rule counts signed calls only.
 */
export async function startAtlasGateway(target: number, port: number): Promise<AtlasGateway> {
  let rule: { path: RegExp; method?: string; times: number; forward: boolean } | null = null;
  const server: Server = createServer((req, res) => {
    const matches =
      rule !== null &&
      rule.times > 0 &&
      (rule.method === undefined || rule.method === req.method) &&
      rule.path.test(req.url ?? '');
    if (matches && rule && !rule.forward && req.headers.authorization !== undefined) {
      rule.times -= 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (matches && rule?.forward && rule.times > 0 && answer.statusCode !== 401) {
            rule.times -= 1;
            res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(chunks));
        });
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const set = (path: RegExp, match: GatewayMatch, forward: boolean) => {
    rule = { path, times: match.times ?? 1, forward, ...(match.method ? { method: match.method } : {}) };
  };
  return {
    lose: (path, match = {}) => set(path, match, true),
    refuse: (path, match = {}) => set(path, match, false),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A sandbox whose workers reach the Atlas simulator through an {@link AtlasGateway}. */
export async function startSandboxBehindGateway(
  options: SandboxOptions,
): Promise<{ sandbox: Sandbox; gateway: AtlasGateway }> {
  const atlasPort = await freePort();
  const gatewayPort = await freePort();
  const gateway = await startAtlasGateway(atlasPort, gatewayPort);
  const sandbox = await startSandbox({
    ...options,
    atlasPort,
    env: { ...options.env, ATLAS_BASE_URL: `http://127.0.0.1:${gatewayPort}` },
  });
  return { sandbox, gateway };
}
