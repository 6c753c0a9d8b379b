/**
 * Slack waits 3 s for an ack and the person waits for it; everything after the ack can wait a little.
 * The HTTP server counts the Slack requests not yet answered; background work (what follows an ack,
 * a worker's job in the same process) asks for a quiet moment before it starts, and gets one as soon
 * as no request waits, or after `maxWaitMs` at the latest, so it is delayed, never starved.
 */
export interface Foreground {
  /** A Slack request arrived; call the returned function once it is answered. */
  enter(): () => void;
  /** Resolves when no Slack request waits for an answer, or after `maxWaitMs`. */
  quiet(maxWaitMs?: number): Promise<void>;
}

/** Creates the counter; one per process. */
export function createForeground(): Foreground {
  let waiting = 0;
  let idle: (() => void)[] = [];
  return {
    enter() {
      waiting += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        waiting -= 1;
        if (waiting === 0) {
          const wake = idle;
          idle = [];
          for (const resolve of wake) resolve();
        }
      };
    },
    quiet(maxWaitMs = 250) {
      if (waiting === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          idle = idle.filter((r) => r !== wake);
          resolve();
        }, maxWaitMs);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        idle.push(wake);
      });
    },
  };
}
