import { parseId } from '../lib/ids.js';
import type { AccessReview, LineDecision } from './model.js';

/**
 * A review's signed-off list for auditors (`rolecall audit --review ID`): one row per standing
 * (person, role) with the decision taken on it. Pure; the CLI reads Redis and writes the rows.
 */

/** The export's columns, in order; the CSV header (`through_team`: the team a role is held through). Times are ISO 8601 UTC; empty when not set. */
export const REVIEW_EXPORT_COLUMNS = [
  'review',
  'target',
  'target_kind',
  'target_id',
  'opened_at',
  'opened_by',
  'opened_under_policy',
  'closed_at',
  'line',
  'atlas_user_id',
  'username',
  'role',
  'outside_policy',
  'decision',
  'decided_by',
  'decided_at',
  'decided_under_policy',
  'outcome',
  'detail',
  'through_team',
] as const;

/** One row of the export, keyed by column. */
export type ReviewExportRow = Record<(typeof REVIEW_EXPORT_COLUMNS)[number], string>;

/** Accepts a review id as Rolecall writes it (see lib/ids.ts). */
export function isReviewId(text: string): boolean {
  return parseId('RV', text) === text;
}

const iso = (ms: number | null | undefined): string => (ms == null ? '' : new Date(ms).toISOString());

/** The rows of a review, in line order; an undecided line has empty decision columns. */
export function reviewExportRows(
  review: AccessReview,
  decisions: ReadonlyMap<number, LineDecision>,
): ReviewExportRow[] {
  return review.lines.map((line) => {
    const d = decisions.get(line.n);
    return {
      review: review.id,
      target: review.target.name,
      target_kind: review.target.kind,
      target_id: review.target.id,
      opened_at: iso(review.createdAt),
      opened_by: review.startedBy,
      opened_under_policy: review.policy,
      closed_at: iso(review.closedAt),
      line: String(line.n),
      atlas_user_id: line.atlasUserId,
      username: line.username,
      role: line.role,
      outside_policy: line.outsidePolicy ? 'yes' : 'no',
      decision: d?.decision ?? '',
      decided_by: d?.by ?? '',
      decided_at: iso(d?.at),
      decided_under_policy: d?.policy ?? '',
      outcome: d === undefined ? '' : d.decision === 'keep' ? 'kept' : (d.outcome ?? 'running'),
      detail: d?.detail ?? '',
      through_team: line.team?.item ?? '',
    };
  });
}
