import type { Person } from '../../access/actions.js';
import { isAppError } from '../../errors.js';
import type { Receipt } from '../../requests/receipts.js';
import { describeClickError } from '../error-reply.js';
import type { EphemeralReply } from '../respond.js';
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

/** What a button handler needs from Bolt's click payload. */
interface ClickBody {
  readonly user: { readonly id: string; readonly team_id?: string | undefined };
  readonly team?: { readonly id?: string | undefined } | null;
  readonly response_url?: string | undefined;
}

/** One click on a Rolecall button, with what its value names (undefined when it names nothing). */
export interface Click<T> {
  readonly ack: () => Promise<void>;
  readonly body: ClickBody;
  readonly actionId: string;
  readonly target: T | undefined;
  /** What was clicked, in words, for the receipt and the sweeper's answer (`Approve on AR-…`). */
  readonly what: (target: T) => string;
  /** The answer when the value names nothing of Rolecall's. */
  readonly notOurs: string;
  /** Opens a modal: its trigger_id is good for 3 s, so no receipt and no waiting behind other work. */
  readonly opensModal?: boolean;
}

/**
 * Every button on Rolecall's messages, one way: the click is written down (unless it opens a modal),
 * acked, its value checked before it goes near Redis, the person resolved, `work` run after the ack
 * (a few at a time), and its answer or error said to them ephemerally; a record the store lost is
 * said as such (continuity/).
 */
export async function handleClick<T>(
  deps: HandlerDeps,
  click: Click<T>,
  work: (target: T, actor: Person) => Promise<EphemeralReply | undefined>,
): Promise<void> {
  const { body, target } = click;
  const reply = (message: EphemeralReply) => deps.replier.reply(body.user.id, body.response_url, message);
  const receiptId =
    target === undefined || click.opensModal
      ? undefined
      : await keepReceipt(deps, {
          kind: 'action',
          userId: body.user.id,
          responseUrl: body.response_url ?? null,
          what: click.what(target),
        });
  await click.ack();
  if (target === undefined) {
    deps.logger.warn('a button carried a value that names nothing of Rolecall', { actionId: click.actionId });
    await reply({ text: click.notOurs });
    return;
  }
  if (!click.opensModal && receiptId === undefined) {
    await reply({ text: NOT_RECEIVED });
    return;
  }
  const run = () =>
    workOnReceipt(
      deps,
      receiptId,
      async () => {
        const actor = await deps.directory.person(body.user.id, body.team?.id ?? body.user.team_id);
        const answer = await work(target, actor);
        if (answer) await reply(answer);
      },
      async (error) => {
        const origin = { continuity: deps.continuity, actorId: body.user.id, action: click.actionId };
        await reply({ text: await describeClickError(error, origin, deps.logger) });
      },
    );
  await (click.opensModal ? run() : deps.afterAck(run));
}
