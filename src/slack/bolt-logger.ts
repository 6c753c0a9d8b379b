import { type Logger as BoltLogger, LogLevel } from '@slack/logger';
import type { Logger } from '../ops/logger.js';

/** Lets Bolt and the Web API client write through Rolecall's logger (and its secret redaction). */
export function createBoltLogger(logger: Logger): BoltLogger {
  let name = 'bolt';
  let level = logger.level === 'debug' ? LogLevel.DEBUG : LogLevel.INFO;
  const join = (messages: unknown[]) =>
    messages.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...messages) => logger.debug(join(messages), { component: name }),
    info: (...messages) => logger.info(join(messages), { component: name }),
    warn: (...messages) => logger.warn(join(messages), { component: name }),
    error: (...messages) => logger.error(join(messages), { component: name }),
    setLevel: (next) => {
      level = next;
    },
    getLevel: () => level,
    setName: (next) => {
      name = next;
    },
  };
}
