import { isActive, type Ledger } from '../grants/ledger.js';
import type { TargetRef } from '../lib/scope.js';
import type { TeamHolding } from './team-holdings.js';

/**
 * Access reviews: who holds what on a target, and what no Rolecall grant explains. Pure model and
 * classification; no Redis, no Atlas, no Slack.
 */

/** One standing (person, role) an approver keeps or revokes. */
export interface ReviewLine {
  /** 1-based position in the review. */
  readonly n: number;
  readonly atlasUserId: string;
  /** Their Atlas username (an email), lower case. */
  readonly username: string;
  readonly role: string;
  /** Not one of the roles the policy lets people request on the target. */
  readonly outsidePolicy: boolean;
  /**
   * Set when the role is held on the project through a team the person is in, not as their own: the
   * line never removes the role from the person, only the person from the team (where the policy offers it).
   */
  readonly team?: ReviewTeam;
}

/** The team a review line's role is held through. */
export interface ReviewTeam {
  /** The team as an item (`team:NAME`), spelled as the policy offers it, else as Atlas names it. */
  readonly item: string;
  /** The organization the team belongs to (the project's). */
  readonly orgId: string;
  /**
   * The policy's org target that offers the team, when the review started: Revoke then removes the
   * person from the team; null when no target offers it (only an organization owner can).
   */
  readonly offeredOn: string | null;
}

/** What an approver decided on a line, and, for a revocation, how it went. */
export interface LineDecision {
  readonly decision: 'keep' | 'revoke';
  readonly by: string;
  readonly at: number;
  /** The policy version it was decided under. */
  readonly policy: string;
  /** A revocation's result; absent while it runs (and for Keep). */
  readonly outcome?: 'revoked' | 'left' | 'gone' | 'failed';
  /** The outcome in words ("removed from the project: it was their last role"). */
  readonly detail?: string;
}

/** A review as stored. */
export interface AccessReview {
  /** `RV-` and digits. */
  readonly id: string;
  readonly target: TargetRef;
  /** A Slack user id, or `schedule`. */
  readonly startedBy: string;
  readonly createdAt: number;
  readonly policy: string;
  /** People on the target, roles held through active Rolecall grants, and standing roles. */
  readonly counts: { readonly people: number; readonly temporary: number; readonly standing: number };
  readonly lines: readonly ReviewLine[];
  /** The review's messages: the first in the channel, the rest in its thread (a chunk of lines each). */
  readonly messages: readonly { readonly channelId: string; readonly ts: string }[];
  readonly closedAt: number | null;
  /** Why the roles people hold through teams are not in the review (Atlas could not say); absent when they are. */
  readonly teamsNote?: string;
}

/** A member of the target and their roles there. */
export interface Member {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/** The roles held on a project through teams, and what explains or offers them (project reviews only). */
export interface TeamContext {
  readonly orgId: string;
  /** Who holds which role through which team (team-holdings.ts). */
  readonly holdings: readonly TeamHolding[];
  /** The people's ledgers on the organization: an active Rolecall grant of the team explains its roles. */
  readonly orgLedgers: ReadonlyMap<string, Ledger>;
  /** The policy's org target of that organization, if any: the teams it offers can be left from a review. */
  readonly orgTarget: { readonly name: string; readonly roles: readonly string[] } | undefined;
}

/** The item as the org target offers it (case-insensitive, as Atlas team names compare), else undefined. */
export function offeredItem(orgTarget: TeamContext['orgTarget'], item: string): string | undefined {
  return orgTarget?.roles.find((r) => r.toLowerCase() === item.toLowerCase());
}

/**
 * Sorts every (person, role) into held through an active Rolecall grant (temporary or permanent,
 * counted) or standing (a line: nothing in the ledger explains it), in a stable order. With `teams`
 * (a project), each role someone holds through a team is a line of its own after theirs, unless a
 * Rolecall grant of that team explains it; people who are on the project only through teams count.
 */
export function classifyMembers(
  requestable: readonly string[],
  members: readonly Member[],
  ledgers: ReadonlyMap<string, Ledger>,
  now: number,
  teams?: TeamContext,
): { lines: ReviewLine[]; counts: AccessReview['counts'] } {
  const lines: Omit<ReviewLine, 'n'>[] = [];
  let temporary = 0;
  const people = new Map<string, { userId: string; roles: readonly string[] }>();
  for (const m of members) people.set(m.username, { userId: m.userId, roles: m.roles });
  for (const h of teams?.holdings ?? []) {
    if (!people.has(h.username)) people.set(h.username, { userId: h.userId, roles: [] });
  }
  const explained = (ledger: Ledger | undefined, item: string) =>
    ledger?.holders.some((h) => h.role.toLowerCase() === item.toLowerCase() && isActive(h, now)) ?? false;
  for (const [username, member] of [...people].sort(([a], [b]) => a.localeCompare(b))) {
    const ledger = ledgers.get(username);
    for (const role of [...member.roles].sort()) {
      if (explained(ledger, role)) {
        temporary += 1;
        continue;
      }
      lines.push({ atlasUserId: member.userId, username, role, outsidePolicy: !requestable.includes(role) });
    }
    if (!teams) continue;
    const held = teams.holdings
      .filter((h) => h.username === username)
      .sort((a, b) => a.team.localeCompare(b.team) || a.role.localeCompare(b.role));
    for (const h of held) {
      if (explained(teams.orgLedgers.get(username), h.team)) {
        temporary += 1;
        continue;
      }
      const offered = offeredItem(teams.orgTarget, h.team);
      lines.push({
        atlasUserId: member.userId,
        username,
        role: h.role,
        outsidePolicy: !requestable.includes(h.role),
        team: {
          item: offered ?? h.team,
          orgId: teams.orgId,
          offeredOn: offered === undefined ? null : (teams.orgTarget?.name ?? null),
        },
      });
    }
  }
  return {
    lines: lines.map((line, i) => ({ ...line, n: i + 1 })),
    counts: { people: people.size, temporary, standing: lines.length },
  };
}

/** How many lines each review message carries: two blocks a line, within Slack's 50 per message. */
export const LINES_PER_MESSAGE = 20;

/** How many messages show the review: one per LINES_PER_MESSAGE lines, at least one. */
export function messageCountOf(review: Pick<AccessReview, 'lines'>): number {
  return Math.max(1, Math.ceil(review.lines.length / LINES_PER_MESSAGE));
}

/** Which of the review's messages shows line `n` (0 = the first, in the channel). */
export function messageIndexOf(n: number): number {
  return Math.floor((n - 1) / LINES_PER_MESSAGE);
}

/** Kept, revoked and failed lines, and those nobody decided yet. */
export function tally(
  review: AccessReview,
  decisions: ReadonlyMap<number, LineDecision>,
): { kept: number; revoked: number; failed: number; running: number; undecided: number } {
  let kept = 0;
  let revoked = 0;
  let failed = 0;
  let running = 0;
  for (const line of review.lines) {
    const d = decisions.get(line.n);
    if (!d) continue;
    if (d.decision === 'keep') kept += 1;
    else if (d.outcome === 'failed') failed += 1;
    else if (d.outcome === undefined) running += 1;
    else revoked += 1;
  }
  return { kept, revoked, failed, running, undecided: review.lines.length - decisions.size };
}

/** How close to now a scheduled run counts as due: a period change keeps it when it is. */
export const DUE_MARGIN_MS = 60_000;

/**
 * When a target's next scheduled review runs after its `review:` period changed from `previousEvery`
 * to `every` (ms): the last run plus the new period (the last run being `next - previousEvery`), or
 * now if that is already past. A run that is due (or nearly) stays due: changing the period neither
 * adds a review nor postpones one that is about to start.
 */
export function retimedNextRun(
  scheduled: { readonly next: number; readonly previousEvery: number },
  every: number,
  now: number,
): number {
  if (scheduled.next <= now + DUE_MARGIN_MS) return Math.max(scheduled.next, now);
  return Math.max(scheduled.next - scheduled.previousEvery + every, now);
}
