import type { Logger } from './logger.js';

/** Things started in order and stopped in reverse. */
export interface ShutdownStack {
  /** Registers how to stop something that has just started. */
  push(name: string, stop: () => Promise<void>): void;
  /** Stops everything, last started first; every step runs even if one fails. */
  run(): Promise<void>;
}

/** Creates the stack that makes shutdown the mirror image of start-up. */
export function createShutdownStack(logger: Logger): ShutdownStack {
  const steps: { name: string; stop: () => Promise<void> }[] = [];
  let running: Promise<void> | undefined;
  return {
    push(name, stop) {
      steps.push({ name, stop });
    },
    run() {
      running ??= (async () => {
        for (const step of [...steps].reverse()) {
          try {
            await step.stop();
            logger.debug('stopped', { step: step.name });
          } catch (error) {
            logger.error('shutdown step failed', { step: step.name, error });
          }
        }
      })();
      return running;
    },
  };
}
