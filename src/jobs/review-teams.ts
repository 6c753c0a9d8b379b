import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import { holdersOf, isActive, type Ledger } from '../grants/ledger.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { TargetRef } from '../lib/scope.js';
import type { Logger } from '../ops/logger.js';
import type { Policy } from '../policy/policy.js';
import { type LineDecision, offeredItem, type ReviewLine, type TeamContext } from '../reviews/model.js';
import { holdingsThroughTeams } from '../reviews/team-holdings.js';
import { lockKeyOf } from './processor-support.js';
import type { UserLock } from './user-lock.js';

/** What the team half of a project review needs. */
export interface ReviewTeamDeps {
  readonly atlas: AtlasRolesApi;
  /** The organization that owns a project (the client's cached lookup); without it teams are not read. */
  readonly orgOfProject?: ((groupId: string) => Promise<string>) | undefined;
  readonly ledgers: LedgerStore;
  readonly lock: UserLock;
  readonly logger: Logger;
}

/** The policy's org target of an organization, if it has one. */
function orgTargetOf(policy: Policy, orgId: string) {
  return policy.targets.find((t) => t.kind === 'org' && t.id === orgId);
}

/**
 * Who holds which role on the project through teams, for its review, with the fewest Atlas calls:
 * listGroupTeams once; when a team has roles there, the project's organization (cached by the client)
 * and its member list once (every page; the client names each member's teams from the organization's
 * team list, which it caches). Nothing per person. `context` undefined: no team has roles there (or
 * the client has no teams); `note`: Atlas would not say (a refusal, not an outage: those are thrown).
 */
export async function readTeamContext(
  deps: ReviewTeamDeps,
  policy: Policy,
  project: TargetRef,
): Promise<{ readonly context?: TeamContext; readonly note?: string }> {
  const teams = deps.atlas.teams;
  if (project.kind !== 'project' || !teams || !deps.orgOfProject) return {};
  try {
    const projectTeams = await teams.projectTeams(project.id);
    if (!projectTeams.some((t) => t.roles.length > 0)) return {};
    const orgId = await deps.orgOfProject(project.id);
    const orgMembers = await deps.atlas.members.listMembers({ kind: 'org', id: orgId });
    const holdings = holdingsThroughTeams(projectTeams, orgMembers);
    const orgScope = { kind: 'org', id: orgId } as const;
    const people = [...new Set(holdings.map((h) => h.username))];
    const orgLedgers = new Map<string, Ledger>(
      await Promise.all(people.map(async (p) => [p, await deps.ledgers.read(p, orgScope)] as const)),
    );
    const org = orgTargetOf(policy, orgId);
    return {
      context: {
        orgId,
        holdings,
        orgLedgers,
        orgTarget: org ? { name: org.name, roles: org.roles } : undefined,
      },
    };
  } catch (error) {
    if (!isAppError(error) || error.retryable) throw error;
    deps.logger.warn('access review without roles held through teams: Atlas would not list them', {
      target: project.name,
      error,
    });
    return { note: error.message };
  }
}

/**
 * A project review's team line, revoked: the person leaves the team (under their lock on the
 * organization), never loses a role of their own. Only where the policy's org target still offers
 * the team and no active Rolecall grant of it holds them there.
 */
export async function leaveTeamOfLine(
  deps: ReviewTeamDeps & { readonly now: () => number },
  policy: Policy,
  project: TargetRef,
  line: ReviewLine & { readonly team: NonNullable<ReviewLine['team']> },
): Promise<Pick<LineDecision, 'outcome' | 'detail'>> {
  const { item, orgId } = line.team;
  const org = orgTargetOf(policy, orgId);
  const offered = offeredItem(org ? { name: org.name, roles: org.roles } : undefined, item);
  if (!org || offered === undefined) {
    return {
      outcome: 'failed',
      detail: `the policy does not offer ${item} on an organization target, so Rolecall does not change who is in it; ask an organization owner to remove ${line.username} from the team`,
    };
  }
  const scope = { kind: 'org', id: orgId } as const;
  const orgRef: TargetRef = { name: org.name, kind: 'org', id: orgId };
  return deps.lock.run(lockKeyOf(deps.atlas, orgRef, line.username), async () => {
    let current: readonly string[];
    let userId = line.atlasUserId;
    try {
      const read = await deps.atlas.readUser(line.username, scope);
      current = read.roles;
      userId = read.userId;
    } catch (error) {
      if (isAppError(error, 'ATLAS_USER_NOT_FOUND') || isAppError(error, 'ATLAS_NOT_A_MEMBER')) {
        return { outcome: 'gone', detail: `${line.username} is no longer in the organization ${org.name}` };
      }
      throw error;
    }
    const held = current.find((i) => i.toLowerCase() === offered.toLowerCase());
    if (held === undefined) {
      return { outcome: 'gone', detail: `${line.username} is no longer in ${offered}` };
    }
    const ledger = await deps.ledgers.read(line.username, scope);
    const holder = holdersOf(ledger, offered).find((h) => isActive(h, deps.now()));
    if (holder) {
      return {
        outcome: 'failed',
        detail: `${line.username} is in ${offered} through ${holder.requestId}, a Rolecall grant; end that grant instead`,
      };
    }
    // The client turns leaving a team item into removeMember; their organization roles stay as they are.
    await deps.atlas.setRoles(
      scope,
      userId,
      current,
      current.filter((i) => i !== held),
    );
    return {
      outcome: 'revoked',
      detail: `removed ${line.username} from ${offered}, through which they held ${line.role} on ${project.name}; their own roles are untouched`,
    };
  });
}
