import type { LogLevel } from '../config.js';

/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logger every module receives; JSON lines, one per event. */
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
  /** Where lines go. @defaultValue process.stdout */
  write?: (line: string) => void;
  bindings?: LogFields;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Creates a JSON-lines logger with secret redaction. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const bindings = options.bindings ?? {};

  const emit = (at: LogLevel, message: string, fields?: LogFields): void => {
    if (ORDER[at] < ORDER[level]) return;
    let line = JSON.stringify(
      { time: new Date().toISOString(), level: at, msg: message, ...bindings, ...fields },
      serialize,
    );
    for (const secret of secrets) line = line.split(secret).join('[redacted]');
    write(line);
  };

  return {
    level,
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (more) => createLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}

function serialize(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const coded = value as Error & { code?: unknown };
    return {
      name: value.name,
      message: value.message,
      ...(coded.code === undefined ? {} : { code: coded.code }),
      ...((value as Error & { details?: unknown }).details === undefined
        ? {}
        : { details: (value as Error & { details?: unknown }).details }),
      stack: value.stack,
      ...(value.cause === undefined ? {} : { cause: value.cause }),
    };
  }
  return value;
}
