import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, sendJson } from './http-util.js';

/** One exported span, as decoded from an OTLP/HTTP JSON export. */
export interface ReceivedSpan {
  /** The exporting process's `service.name`. */
  readonly service: string;
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** An in-process OTLP/HTTP collector (tests, benchmarks): what the processes export, kept in memory. */
export interface OtlpReceiver {
  /** What to set OTEL_EXPORTER_OTLP_ENDPOINT to (the exporter posts to `<url>/v1/traces`). */
  readonly url: string;
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Every request body received so far, as sent (to look for text that must not be there). */
  bodies(): string[];
  close(): Promise<void>;
}

/** An OTLP `AnyValue` as a plain value. */
function plainValueOf(value: unknown): unknown {
  const v = value as {
    stringValue?: string;
    intValue?: string | number;
    doubleValue?: number;
    boolValue?: boolean;
    arrayValue?: { values?: unknown[] };
  };
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(plainValueOf);
  return undefined;
}

function attributesOf(list: unknown): Record<string, unknown> {
  const entries = (list ?? []) as { key: string; value: unknown }[];
  return Object.fromEntries(entries.map(({ key, value }) => [key, plainValueOf(value)]));
}

/** The spans of one `ExportTraceServiceRequest` in its JSON encoding (ids in hex). */
export function decodeOtlpJson(body: string): ReceivedSpan[] {
  const request = JSON.parse(body) as {
    resourceSpans?: {
      resource?: { attributes?: unknown };
      scopeSpans?: {
        scope?: { name?: string };
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          attributes?: unknown;
        }[];
      }[];
    }[];
  };
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        service,
        scope: scopeSpans.scope?.name ?? '',
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? '',
        name: span.name,
        kind: span.kind,
        attributes: attributesOf(span.attributes),
      })),
    );
  });
}

/** Starts the receiver on a free loopback port: POST /v1/traces with a JSON body answers 200. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: string[] = [];
  const spans: ReceivedSpan[] = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v1/traces' || !req.headers['content-type']?.includes('json')) {
      sendJson(res, 404, { error: 'not an OTLP/HTTP JSON trace export' });
      return;
    }
    bodies.push(body);
    spans.push(...decodeOtlpJson(body));
    sendJson(res, 200, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...spans],
    bodies: () => [...bodies],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
