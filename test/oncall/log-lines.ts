import { createLogger, type Logger } from '../../src/ops/logger.js';

/** A real logger whose JSON lines are kept for the test to read (no secrets configured: nothing to redact). */
export function capturedLogger(): {
  logger: Logger;
  lines: string[];
  warnings: () => Record<string, unknown>[];
} {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
  const warnings = () =>
    lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.level === 'warn');
  return { logger, lines, warnings };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
