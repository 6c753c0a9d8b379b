import { AppError, isAppError } from '../errors.js';
import { formatDuration } from '../lib/duration.js';
import type { Logger } from '../ops/logger.js';
import { bundleEndOf, DECIDED_APPROVED, siblingIdsOf } from '../requests/bundle.js';
import type { Lifecycle } from '../requests/lifecycle.js';
import type { AccessRequest } from '../requests/model.js';
import type { RequestReader } from '../requests/request-reader.js';

/** What the bundle steps of the workers need. */
export interface BundleStepDeps {
  readonly store: Pick<RequestReader, 'get'>;
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
}

/**
 * A part of a bundle refused after reading Atlas stops the whole bundle: the other parts still
 * waiting (being checked, or posted for approval) are withdrawn, saying why. A part not stored yet
 * (filed a moment later) is stopped when someone decides (requests/bundle-decisions.ts).
 */
export async function withdrawOtherParts(
  deps: BundleStepDeps,
  part: AccessRequest,
  why: string,
): Promise<void> {
  if (part.bundle === null) return;
  for (const id of siblingIdsOf(part)) {
    try {
      await deps.lifecycle.withdrawn(
        id,
        ['submitted', 'pending'],
        `cancelled: part ${part.id} of bundle ${part.bundle.name} was refused (${why}); a bundle goes ahead only as a whole`,
      );
    } catch (error) {
      if (!isAppError(error, 'REQUEST_NOT_FOUND')) throw error;
      deps.logger.warn('a part of a refused bundle is not stored yet', { requestId: id, bundleOf: part.id });
    }
  }
}

/**
 * Before a part of a bundle is applied: it must still be inside the bundle's time (decided-at plus the
 * duration) and no part may have been ended early; otherwise it fails at once, in words, with nothing
 * changed (a retry cannot help: the bundle is over).
 */
export async function checkBundleOpen(deps: BundleStepDeps, part: AccessRequest, at: number): Promise<void> {
  if (part.bundle === null) return;
  const end = bundleEndOf(part);
  if (end !== null && end <= at) {
    throw new AppError(
      'BUNDLE_ENDED',
      `Bundle ${part.bundle.name} ended ${formatDuration(Math.max(1, Math.round((at - end) / 1000)))} ago, before this part could be applied; nothing was changed. Ask for the bundle again.`,
    );
  }
  for (const id of siblingIdsOf(part)) {
    const sibling = await deps.store.get(id);
    if (sibling?.endedEarly) {
      throw new AppError(
        'BUNDLE_ENDED',
        `Bundle ${part.bundle.name} was ended early (${id}) before this part could be applied; nothing was changed.`,
      );
    }
  }
}

/**
 * After a part of a bundle is applied: when another part was ended early meanwhile (End now on the
 * bundle while this one was being applied), this one ends now too, so every part ends together.
 */
export async function endWithBundle(deps: BundleStepDeps, part: AccessRequest): Promise<void> {
  if (part.bundle === null) return;
  for (const id of siblingIdsOf(part)) {
    const ended = (await deps.store.get(id))?.endedEarly;
    if (!ended) continue;
    try {
      await deps.lifecycle.end(part, {
        actor: ended.by,
        detail: `ended with bundle ${part.bundle.name} (${id} was ended early)`,
      });
    } catch (error) {
      if (!isAppError(error, 'REQUEST_STATE_CONFLICT') && !isAppError(error, 'NOTHING_TO_GRANT')) throw error;
    }
    return;
  }
}

/**
 * Before a part of a bundle expires: when another part was approved already (a decision cut short
 * between parts, or an Approve that landed as this expiry came due), the bundle was decided, so this
 * part is approved with that same decision instead of expiring and leaving half the bundle applied.
 * @returns true when the part was approved so.
 */
export async function completeBundleDecision(deps: BundleStepDeps, part: AccessRequest): Promise<boolean> {
  if (part.bundle === null || part.state !== 'pending') return false;
  for (const id of siblingIdsOf(part)) {
    const sibling = await deps.store.get(id);
    const decision = sibling?.decision ?? null;
    if (!sibling || decision === null || !DECIDED_APPROVED.includes(sibling.state)) continue;
    const moved = await deps.lifecycle.approve(part.id, {
      actor: decision.by,
      detail: `bundle ${part.bundle.name}, decided as a whole; completes the decision of ${decision.by} on ${id} (it came before this part's expiry)`,
      expect: { approvals: part.approvals },
      patch: { approvals: [...part.approvals.filter((a) => a.by !== decision.by), decision], decision },
    });
    return moved.ok;
  }
  return false;
}
