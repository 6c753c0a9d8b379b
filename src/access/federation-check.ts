import { AppError } from '../errors.js';
import type { OrgRoleMappings } from '../lib/role-mappings.js';
import { type AtlasScope, scopeWord } from '../lib/scope.js';

/** A request for roles, as the federation check needs it. */
export interface FederatedAsk {
  readonly scope: AtlasScope;
  /** The organization's or project's name, for the words. */
  readonly targetName: string;
  /** The name of the organization that owns the target (the target itself for an organization). */
  readonly orgName: string;
  /** Atlas roles, `team:NAME` and `db:…` items as the request lists them. */
  readonly roles: readonly string[];
  readonly granteeEmail: string;
}

/** What the policy offers instead of a per-person role. */
export interface FederatedInstead {
  /** A team name the policy routes this target to. */
  readonly team?: string;
}

/** Items that are not one person's Atlas roles (a team membership, a database user): the mappings leave them alone. */
const NOT_PER_PERSON = ['team:', 'db:'] as const;

/** The IdP groups whose mapping gives `role` on exactly this scope. */
function groupsGiving(mappings: OrgRoleMappings, scope: AtlasScope, role: string): string[] {
  const names = mappings.mappings
    .filter((m) =>
      m.assignments.some((a) => a.role === role && a.scope.kind === scope.kind && a.scope.id === scope.id),
    )
    .map((m) => m.externalGroupName);
  return [...new Set(names)].sort();
}

/** `a`, `a and b`, `a, b and c`. */
function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * Throws AppError('FEDERATED_ROLES', words) when a per-person role grant would be undone by the
 * organization's role mappings: Atlas lets nobody change one person's roles there, and at the person's
 * next SSO login sets their roles to what the mappings give. `team:` and `db:` items are never refused.
 * The words say why, and what to ask for instead: the team the policy routes the target to, the IdP
 * group(s) whose mapping gives each role on that scope, else an organization owner adding it to the
 * mappings. `mappings` must be the target's organization's (null: none in force).
 */
export function checkFederatedGrant(
  mappings: OrgRoleMappings | null,
  ask: FederatedAsk,
  instead: FederatedInstead,
): void {
  if (mappings === null) return;
  if (ask.scope.kind === 'org' && ask.scope.id !== mappings.orgId) {
    throw new AppError(
      'INTERNAL',
      `The role mappings of organization ${mappings.orgId} were checked against a request on organization ${ask.scope.id}; Rolecall stopped rather than guess.`,
    );
  }
  const roles = ask.roles.filter((r) => !NOT_PER_PERSON.some((prefix) => r.startsWith(prefix)));
  if (roles.length === 0) return;
  const where = `the ${scopeWord(ask.scope.kind)} ${ask.targetName}`;
  const why =
    `The organization ${ask.orgName} maps identity-provider (IdP) groups to Atlas roles, so Atlas does not let ` +
    `anyone change one person's roles there: ${listOf(roles)} on ${where} would not stick for ${ask.granteeEmail}, ` +
    `and Atlas would take ${roles.length === 1 ? 'it' : 'them'} back at their next SSO login.`;
  const ways: string[] = [];
  if (instead.team !== undefined) ways.push(`ask for team:${instead.team} instead`);
  const unmapped: string[] = [];
  for (const role of roles) {
    const groups = groupsGiving(mappings, ask.scope, role);
    if (groups.length === 0) unmapped.push(role);
    else
      ways.push(
        `to get ${role} on ${where}, ask to join the IdP group${groups.length === 1 ? '' : 's'} ${listOf(groups)} (${groups.length === 1 ? 'its mapping gives' : 'their mappings give'} that role there)`,
      );
  }
  if (unmapped.length > 0 && instead.team === undefined) {
    ways.push(
      `ask an organization owner of ${ask.orgName} to add ${listOf(unmapped)} on ${where} to the role mappings`,
    );
  }
  const next = ways.join('; or ');
  throw new AppError('FEDERATED_ROLES', `${why} ${next.charAt(0).toUpperCase()}${next.slice(1)}.`, {
    details: { orgId: mappings.orgId, scope: `${ask.scope.kind}:${ask.scope.id}`, roles: roles.join(',') },
  });
}

/**
 * The thread's words for a role Atlas took back at an SSO login (the time `at` is when its event says
 * it happened), so the wording lives in one place.
 */
export function describeSsoRemoval(role: string, at: number): string {
  const when = new Date(at).toISOString().replace('T', ' ').slice(0, 16);
  return `${role} was removed by Atlas at SSO login (${when} UTC): the organization maps identity-provider groups to roles, and Atlas sets a person's roles to what the mappings give each time they sign in.`;
}
