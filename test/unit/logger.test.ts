import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { withCorrelation } from '../../src/ops/correlation.js';
import { createLogger } from '../../src/ops/logger.js';

describe('createLogger', () => {
  const capture = (level?: 'debug' | 'info' | 'warn' | 'error') => {
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const logger = createLogger({
      ...(level ? { level } : {}),
      secrets: ['xoxb-very-secret', 'abc'],
      bindings: { component: 'test' },
      write: (line) => {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
    return { logger, lines, raw };
  };

  it('writes one JSON line per event with an ISO time, the level as a word, bindings and fields', () => {
    const { logger, lines, raw } = capture();
    logger.child({ queue: 'apply' }).info('request applied', { added: ['GROUP_READ_ONLY'] });
    expect(raw[0]).not.toContain('\n');
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request applied',
      component: 'test',
      queue: 'apply',
      added: ['GROUP_READ_ONLY'],
    });
    logger.child({ component: 'bolt' }).info('again');
    expect(raw[1]?.match(/"component"/g)).toHaveLength(1);
    expect(lines[1]?.component).toBe('bolt');
    expect(lines[0]?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('drops lines below its level', () => {
    const { logger, lines } = capture('warn');
    logger.debug('no');
    logger.info('no');
    logger.warn('yes');
    logger.error('yes too');
    expect(lines.map((l) => l.msg)).toEqual(['yes', 'yes too']);
    expect(logger.level).toBe('warn');
  });

  it('scrubs every secret of four characters or more wherever it appears, messages and errors included', () => {
    const { logger, raw } = capture();
    logger.error('token xoxb-very-secret leaked', {
      header: 'Bearer xoxb-very-secret',
      error: new Error('bad xoxb-very-secret'),
    });
    expect(raw[0]).not.toContain('xoxb-very-secret');
    // The message, the header, the error's message and its stack.
    expect(raw[0]?.split('[redacted]')).toHaveLength(5);
    // Shorter values are not secrets worth scrubbing: they would mangle ordinary words.
    expect(raw[0]).toContain('Bearer');
  });

  it('serializes errors with their code, details and cause, and adds the correlation id of the work', () => {
    const { logger, lines } = capture();
    withCorrelation('AR-0042', () =>
      logger.warn('atlas call failed', {
        error: new AppError('ATLAS_UNAVAILABLE', 'Atlas is down.', {
          retryable: true,
          details: { status: 503 },
          cause: new Error('ECONNRESET'),
        }),
      }),
    );
    logger.info('outside');
    expect(lines[0]).toMatchObject({
      requestId: 'AR-0042',
      error: {
        name: 'AppError',
        message: 'Atlas is down.',
        code: 'ATLAS_UNAVAILABLE',
        details: { status: 503 },
        cause: { name: 'Error', message: 'ECONNRESET' },
      },
    });
    expect(lines[1]).not.toHaveProperty('requestId');
  });
});
