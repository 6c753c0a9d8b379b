import { isAppError } from '../../errors.js';
import type { Receipt } from '../../requests/receipts.js';
import type { HandlerDeps } from './handler-deps.js';

/** What someone hears when Rolecall cannot write down what they sent: it then promises nothing. */
export const NOT_RECEIVED =
  ':hourglass: Rolecall cannot write down what you sent right now (its database does not answer), so it did nothing. Please try again in a minute.';

/** Longest a receipt may take before the ack goes out without one (Slack wants the ack within 3 s). */
const KEEP_WITHIN_MS = 1_500;

/**
 * Writes down what Slack delivered before it is acknowledged (requests/receipts.ts). Undefined when
 * Redis does not take it in time: the caller then answers {@link NOT_RECEIVED} instead of "got it".
 */
export async function keepReceipt(
  deps: Pick<HandlerDeps, 'receipts' | 'logger'>,
  receipt: Omit<Receipt, 'id' | 'at' | 'owner'>,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const keeping = deps.receipts.keep(receipt);
  try {
    const kept = await Promise.race([
      keeping,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), KEEP_WITHIN_MS);
      }),
    ]);
    if (kept === undefined) {
      // Too late: the person hears it was not done, so a receipt Redis takes after all is crossed out.
      keeping
        .then((id) => deps.receipts.settle(id))
        .catch((error: unknown) => deps.logger.warn('a late receipt could not be crossed out', { error }));
    }
    return kept;
  } catch (error) {
    deps.logger.warn('could not write down a Slack delivery before acknowledging it', { error });
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the work an ack promised, then crosses its receipt out. `failed` answers an error; a request
 * the sweeper answered first (RECEIPT_TAKEN: it told the person nothing was filed) is left silent.
 */
export async function workOnReceipt(
  deps: Pick<HandlerDeps, 'receipts' | 'logger'>,
  receiptId: string | undefined,
  work: () => Promise<void>,
  failed: (error: unknown) => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (isAppError(error, 'RECEIPT_TAKEN')) {
      deps.logger.warn('a delivery was answered by the sweeper before its work finished', { receiptId });
      return;
    }
    await failed(error);
  }
  if (receiptId === undefined) return;
  await deps.receipts.settle(receiptId).catch((error: unknown) => {
    deps.logger.warn('could not cross out a Slack delivery; the sweeper will answer it again', {
      receiptId,
      error,
    });
  });
}
