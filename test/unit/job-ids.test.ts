import { describe, expect, it } from 'vitest';
import { jobIds, REVIEW_SCHEDULER_PREFIX, schedulerIds } from '../../src/jobs/job-ids.js';

/**
 * Job and scheduler ids are stored with the jobs of a running deployment: a changed spelling re-runs
 * work or loses it. These are the spellings in use, written out.
 */
describe('jobIds', () => {
  it('spells every request job id as stored deployments have it', () => {
    expect(jobIds.enrich('AR-1')).toBe('enrich-AR-1');
    expect(jobIds.apply('AR-1', 2)).toBe('apply-AR-1-2');
    expect(jobIds.revoke('AR-1', 2)).toBe('revoke-AR-1-2');
    expect(jobIds.expire('AR-1')).toBe('expire-AR-1');
    expect(jobIds.remind('AR-1', 1_700_000_000_000)).toBe('remind-AR-1-1700000000000');
    expect(jobIds.notify('AR-1', 1, 'approved', 'thread')).toBe('notify-AR-1-1-approved-thread');
    expect(jobIds.notify('AR-1', 1, 'extended', 'grantee', 'x2')).toBe('notify-AR-1-1-extended-x2-grantee');
    expect(jobIds.homeFanout('AR-1', 1, 'approved')).toBe('home-AR-1-1-approved');
    expect(jobIds.homeFanout('AR-1', 1, 'extended', 'x2')).toBe('home-AR-1-1-extended-x2');
    expect(jobIds.homeUser('U0ALICE', 1_700_000_000)).toBe('home-user-U0ALICE-1700000000');
  });

  it('spells every review and offboarding job id as stored deployments have it', () => {
    expect(jobIds.reviewRevoke('RV-1', 3)).toBe('review-revoke-RV-1-3');
    expect(jobIds.reviewDecided('RV-1', 3)).toBe('review-decided-RV-1-3');
    expect(jobIds.reviewOverdue('RV-1')).toBe('review-overdue-RV-1');
    expect(jobIds.reviewStart({ name: 'p', kind: 'project', id: 'P1' }, 42)).toMatch(
      /^review-start-project-P1-42-[0-9a-f]{6}$/,
    );
    expect(jobIds.offboardRun('OB-1')).toBe('offboard-run-OB-1');
    expect(jobIds.offboardTarget('OB-1', { kind: 'org', id: 'O1' })).toBe('offboard-target-OB-1-org-O1');
  });

  it('spells every job scheduler id as stored deployments have it', () => {
    expect(schedulerIds.sweep).toBe('sweep');
    expect(schedulerIds.reconcile).toBe('reconcile');
    expect(schedulerIds.review({ kind: 'project', id: 'P1' })).toBe('review-project-P1');
    expect(schedulerIds.review({ kind: 'org', id: 'O1' }).startsWith(REVIEW_SCHEDULER_PREFIX)).toBe(true);
  });
});
