import { pino } from 'pino';
import { correlationFields } from './correlation.js';

/** Log verbosity, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger every module receives; JSON lines, one per event (pino underneath). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
  readonly level: LogLevel;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  /** @defaultValue 'info' */
  level?: LogLevel;
  /** Values that must never be printed (tokens, keys); each occurrence becomes `[redacted]`. */
  secrets?: readonly string[];
  /** Where lines go, without their newline. @defaultValue process.stdout */
  write?: (line: string) => void;
  bindings?: LogFields;
}

/**
 * Creates the JSON-lines logger: pino (synchronous writes), `time` in ISO 8601, `level` as a word,
 * `msg`, the bindings, the correlation id of the work in progress (`requestId`, see correlation.ts)
 * and the fields. Errors under `error` are serialized with code, details, stack and cause. Every
 * line passes a value-based scrub before it is written: each secret becomes `[redacted]`, wherever
 * it appears.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  // Each secret as written in a JSON line too: a quote or backslash in it is escaped there.
  const secrets = [
    ...new Set(
      (options.secrets ?? [])
        .filter((s) => s.length >= 4)
        .flatMap((s) => [JSON.stringify(s).slice(1, -1), s])
        .sort((a, b) => b.length - a.length),
    ),
  ];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const root = pino(
    {
      level: options.level ?? 'info',
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: serializeError, cause: serializeError },
      mixin: () => correlationFields(),
      hooks: {
        streamWrite: (line) => {
          let scrubbed = line;
          for (const secret of secrets) scrubbed = scrubbed.split(secret).join('[redacted]');
          return scrubbed;
        },
      },
    },
    { write: (line: string) => write(line.endsWith('\n') ? line.slice(0, -1) : line) },
  );
  return wrap(root, options.bindings ?? {});
}

/** Our Logger over a pino child holding `bindings`; a child's bindings replace its parent's same keys. */
function wrap(root: pino.Logger, bindings: LogFields): Logger {
  const logger = Object.keys(bindings).length > 0 ? root.child(bindings) : root;
  return {
    get level() {
      return logger.level as LogLevel;
    },
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
    // pino would write a key twice when a child binds it again (component: slack, then bolt).
    child: (more) => wrap(root, { ...bindings, ...more }),
  };
}

/** An Error as a plain object (name, message, code, details, stack, cause); anything else as it is. */
function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const coded = value as Error & { code?: unknown; details?: unknown };
  return {
    name: value.name,
    message: value.message,
    ...(coded.code === undefined ? {} : { code: coded.code }),
    ...(coded.details === undefined ? {} : { details: coded.details }),
    stack: value.stack,
    ...(value.cause === undefined ? {} : { cause: serializeError(value.cause) }),
  };
}
