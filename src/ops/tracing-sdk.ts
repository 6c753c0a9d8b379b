/**
 * OpenTelemetry behind ops/tracing.ts: the only module that imports the SDK, loaded (dynamic import)
 * only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import {
  type Attributes,
  context,
  DiagLogLevel,
  diag,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import {
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
} from '@opentelemetry/semantic-conventions';
import { BullMQOtel } from 'bullmq-otel';
import * as ioredis from 'ioredis';
import { AppError } from '../errors.js';
import { noteWorkSubject, type WorkSubject, withUnitOfWork, workSubject } from './correlation.js';
import type { TraceLinks, Tracing, TracingOptions } from './tracing-types.js';

/** How long a shutdown waits for the last spans to reach the collector, in ms. */
const FLUSH_DEADLINE_MS = 3_000;
const REDACTED = '[redacted]';

/** The span attributes of what a piece of work is about. */
function attributesOf(subject: Readonly<Partial<WorkSubject>> | undefined): Attributes {
  if (subject?.requestId === undefined) return {};
  return {
    'rolecall.request_id': subject.requestId,
    ...(subject.target === undefined ? {} : { 'rolecall.target': subject.target }),
    ...(subject.roles === undefined ? {} : { 'rolecall.roles': [...subject.roles] }),
  };
}

/**
 * Where a trace may start: a Slack request, a job (one added outside any trace: a schedule's), never
 * BullMQ's own background loops (polling for jobs, the stalled-job check), which are INTERNAL spans.
 */
const ROOTS: Sampler = {
  shouldSample: (_context, _traceId, _name, kind) => ({
    decision: kind === SpanKind.INTERNAL ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => 'RolecallRoots',
};

/** Every span started inside a piece of work carries what that work is about. */
const SUBJECTS: SpanProcessor = {
  onStart: (span) => {
    span.setAttributes(attributesOf(workSubject()));
  },
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

/** `text` with every secret cut out. */
function scrubberOf(secrets: readonly string[]): (text: string) => string {
  const values = secrets.filter((secret) => secret !== '');
  return (text) => values.reduce((out, secret) => out.split(secret).join(REDACTED), text);
}

function scrubAttributes(attributes: Attributes, scrub: (text: string) => string): Attributes {
  const scrubValue = (value: unknown): unknown =>
    typeof value === 'string' ? scrub(value) : Array.isArray(value) ? value.map(scrubValue) : value;
  // Attribute values are strings, numbers, booleans or arrays of them; scrubbing keeps each type.
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, scrubValue(v)])) as Attributes;
}

/** An exporter that sends copies of the spans with every secret cut out of their text. */
function scrubbing(exporter: SpanExporter, scrub: (text: string) => string): SpanExporter {
  const copyOf = (span: ReadableSpan): ReadableSpan => ({
    name: scrub(span.name),
    kind: span.kind,
    spanContext: () => span.spanContext(),
    ...(span.parentSpanContext === undefined ? {} : { parentSpanContext: span.parentSpanContext }),
    startTime: span.startTime,
    endTime: span.endTime,
    status:
      span.status.message === undefined
        ? span.status
        : { ...span.status, message: scrub(span.status.message) },
    attributes: scrubAttributes(span.attributes, scrub),
    links: span.links,
    events: span.events.map((event) => ({
      ...event,
      ...(event.attributes === undefined ? {} : { attributes: scrubAttributes(event.attributes, scrub) }),
    })),
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  });
  return {
    export: (spans, done) => exporter.export(spans.map(copyOf), done),
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

/** A Redis span's statement: the command and its first key under the prefix, never a value. */
function redisStatementOf(prefix: string): (command: string, args: readonly unknown[]) => string {
  return (command, args) => {
    const scripted = /^(eval|evalsha|fcall|fcall_ro)$/i.test(command);
    const key = scripted ? (Number(args[1]) > 0 ? args[2] : undefined) : args[0];
    return typeof key === 'string' && key.startsWith(`${prefix}:`) ? `${command} ${key}` : command;
  };
}

/** Starts the SDK: spans to `<endpoint>/v1/traces` (OTLP/HTTP, JSON), undici, ioredis and BullMQ traced. */
export function startOpenTelemetry(options: TracingOptions & { readonly endpoint: string }): Tracing {
  const { logger } = options;
  diag.setLogger(
    {
      error: (message) => logger.warn(`tracing: ${message}`),
      warn: (message) => logger.warn(`tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  const scrub = scrubberOf(options.secrets);
  const exporter = new OTLPTraceExporter({
    url: `${options.endpoint}/v1/traces`,
    timeoutMillis: FLUSH_DEADLINE_MS,
  });
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName })),
    sampler: new ParentBasedSampler({ root: ROOTS }),
    spanProcessors: [SUBJECTS, new BatchSpanProcessor(scrubbing(exporter, scrub))],
  });
  if (!trace.setGlobalTracerProvider(provider)) {
    throw new AppError('INTERNAL', 'OpenTelemetry tracing is already started in this process');
  }
  // What provider.register() sets besides the provider: AsyncLocalStorage contexts, W3C propagation.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const keepsUrl = (url: string) => options.fullUrlsUnder.some((prefix) => url.startsWith(prefix));
  const redis = new IORedisInstrumentation({ dbStatementSerializer: redisStatementOf(options.redisPrefix) });
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new UndiciInstrumentation({
        // Only calls made for traced work (not readiness probes): a span needs a parent.
        requireParentforSpans: true,
        // No header is recorded (Authorization, Digest): only those named in headersToSpanAttributes are.
        startSpanHook: (request) =>
          keepsUrl(new URL(request.path, request.origin).href)
            ? {}
            : {
                [ATTR_URL_FULL]: `${request.origin}/${REDACTED}`,
                [ATTR_URL_PATH]: `/${REDACTED}`,
                [ATTR_URL_QUERY]: '',
              },
      }),
      redis,
    ],
  });
  // ioredis was imported (ESM imports come first) before this ran, so no require hook saw it: patch
  // the loaded module with the instrumentation's own definitions (meant for code loaded without hooks).
  const definitions = redis.getModuleDefinitions();
  for (const definition of definitions) definition.patch?.(ioredis);

  const tracer = provider.getTracer('rolecall');
  /** Each Slack request's span and links, by its unit of work (correlation.ts). */
  const slackUnits = new WeakMap<object, { span: Span; links: TraceLinks }>();
  const parentOf = async (links: TraceLinks, requestId: string | undefined) => {
    if (requestId === undefined) return ROOT_CONTEXT;
    try {
      const carrier = await links.read(requestId);
      return carrier === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, JSON.parse(carrier));
    } catch (error) {
      logger.warn('tracing: the trace of a request could not be read; its Slack request starts a new one', {
        error,
      });
      return ROOT_CONTEXT;
    }
  };

  return {
    enabled: true,
    bullmq: new BullMQOtel({ tracerName: 'bullmq' }),
    noteRequest(subject, how) {
      const unit = workSubject();
      const named = unit?.requestId !== undefined;
      // A request read while working on none, or on another one, is not what the work is about.
      if (how === 'read' && unit?.requestId !== subject.requestId) return;
      if (unit === undefined || !noteWorkSubject(subject)) return;
      const attributes = attributesOf(subject);
      trace.getActiveSpan()?.setAttributes(attributes);
      const slack = slackUnits.get(unit);
      if (slack === undefined) return;
      slack.span.setAttributes(attributes);
      if (named || how !== 'filed') return;
      // This Slack request filed the request: its decision, another Slack request, joins this trace.
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(ROOT_CONTEXT, slack.span), carrier);
      slack.links.keep(subject.requestId, JSON.stringify(carrier)).catch((error: unknown) => {
        logger.warn('tracing: the trace of a new request could not be kept', { error });
      });
    },
    slackRequests: (links) => async (info, work) => {
      const parent = await parentOf(links, info.requestId);
      await withUnitOfWork(info.requestId, async () => {
        const span = tracer.startSpan(
          `slack ${info.kind}`,
          {
            kind: SpanKind.SERVER,
            attributes: {
              'rolecall.slack.kind': info.kind,
              ...(info.action === undefined ? {} : { 'rolecall.slack.action': info.action }),
            },
          },
          parent,
        );
        const unit = workSubject();
        if (unit !== undefined) slackUnits.set(unit, { span, links });
        try {
          await context.with(trace.setSpan(parent, span), work);
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error));
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      });
    },
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      const flushed = await Promise.race([
        provider.shutdown().then(
          () => true,
          (error: unknown) => {
            logger.warn('tracing: the last spans could not be exported', { error });
            return true;
          },
        ),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), FLUSH_DEADLINE_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      if (!flushed) logger.warn('tracing: spans not exported within the shutdown deadline were dropped');
      for (const definition of definitions) definition.unpatch?.(ioredis);
      unregister();
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
    },
  };
}
