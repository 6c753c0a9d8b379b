import { AppError } from '../errors.js';
import {
  holdersOf,
  type Ledger,
  type RoleHolder,
  type RoleStanding,
  roleStandingOf,
} from '../grants/ledger.js';
import type { RoleThroughTeam, TeamProjectAccess } from '../lib/access-items.js';
import type { OrgRoleMappings } from '../lib/role-mappings.js';
import type { TargetRef } from '../lib/scope.js';

/** What a person holds on a target in Atlas right now, and whether a temporary grant could add them to it. */
export interface GranteeAccess {
  /** Their roles there; [] when they are not a member. */
  readonly roles: readonly string[];
  /** Their Atlas user id, where the read gave it. */
  readonly userId: string | null;
  /**
   * For a project they are not in: `possible` (an active organization member, on an Atlas v2 API),
   * `not-org-member`, or `unsupported` (this Atlas API cannot add people to projects). Else null.
   */
  readonly join: 'possible' | 'not-org-member' | 'unsupported' | null;
  /** On a project: the roles they hold there through teams (not their own). */
  readonly throughTeams: readonly RoleThroughTeam[];
  /** For teams asked for: what each gives on the policy's projects. */
  readonly teamAccess: readonly TeamProjectAccess[];
  /**
   * The identity-provider role mappings in force in the target's organization (Atlas federation);
   * null when none are, undefined where this Atlas API has no federation.
   */
  readonly roleMappings?: OrgRoleMappings | null;
}

/** What a request would do for its grantee, fixed when it is shown to approvers. */
export interface Assessment {
  readonly rolesAtRequest: readonly string[];
  readonly atlasUserId: string | null;
  /** Rolecall's holders of the grantee's current roles (temporary grants, "asking again"). */
  readonly holdersAtRequest: readonly RoleHolder[];
  /** The grantee is not in the project: approving adds them to it for the grant's duration. */
  readonly addsToProject: boolean;
  readonly rolesThroughTeamsAtRequest: readonly RoleThroughTeam[];
  readonly teamAccess: readonly TeamProjectAccess[];
}

/** Inputs of {@link assessRequest}. */
export interface AssessInput {
  readonly granteeEmail: string;
  readonly target: TargetRef;
  readonly roles: readonly string[];
  /** null = permanent. */
  readonly durationSeconds: number | null;
  readonly access: GranteeAccess;
  readonly ledger: Ledger;
  readonly now: number;
}

/**
 * Decides whether a request adds anything for its grantee, from their Atlas access and the ledger.
 * Roles held only through Rolecall's temporary grants may be asked for again; roles held outside
 * Rolecall, or permanently through it, not. Someone outside the project (or in it only through
 * Rolecall's temporary membership) may get temporary access only.
 * @throws AppError ATLAS_NOT_A_MEMBER or NOTHING_TO_GRANT, in words for the requester.
 */
export function assessRequest(input: AssessInput): Assessment {
  const { granteeEmail: who, target, access, ledger } = input;
  let addsToProject = false;
  if (access.roles.length === 0) {
    refuseOutsider(input);
    addsToProject = true;
  } else if (ledger.membershipBy !== null && input.durationSeconds === null) {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${who} is in the project ${target.name} only for the temporary access of ${ledger.membershipBy}. Rolecall adds people to a project only for temporary access: ask again with a duration (e.g. "for 4h"), or have a project owner add them for good.`,
    );
  }
  // A role held through a team counts as held: the request would add nothing the person lacks.
  const viaTeams = access.throughTeams.map((t) => t.role);
  const standing = roleStandingOf(input.roles, [...access.roles, ...viaTeams], ledger, input.now);
  if (!standing.some((s) => s.kind === 'new' || s.kind === 'temporary')) {
    throw new AppError(
      'NOTHING_TO_GRANT',
      `${who} already has ${describeHeld(standing, access.throughTeams)} on ${target.name}; there is nothing to request.`,
    );
  }
  const holdersAtRequest = access.roles.flatMap((role) => holdersOf(ledger, role).slice(0, 1));
  return {
    rolesAtRequest: access.roles,
    atlasUserId: access.userId,
    holdersAtRequest,
    addsToProject,
    rolesThroughTeamsAtRequest: access.throughTeams,
    teamAccess: access.teamAccess,
  };
}

/** Refuses a request for someone who is not in the target, unless a temporary grant can add them. */
function refuseOutsider(input: AssessInput): void {
  const { granteeEmail: who, target, access } = input;
  if (target.kind === 'org' || access.join === null) {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${who} is not a member of the ${target.kind === 'org' ? 'organization' : 'project'} ${target.name} in Atlas. Ask an owner to invite them first, then request the roles again.`,
    );
  }
  if (access.join === 'unsupported') {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${who} is not a member of the project ${target.name} in Atlas, and this Atlas API cannot add people to projects (only the Atlas Admin API v2 can). Ask a project owner to add them first, then request the roles again.`,
    );
  }
  if (access.join === 'not-org-member') {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${who} is not an active member of the Atlas organization that owns ${target.name}, so Rolecall cannot add them to the project. Ask an organization owner to invite them first.`,
    );
  }
  if (input.durationSeconds === null) {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${who} is not in the project ${target.name}. Rolecall can add them for temporary access: ask again with a duration (e.g. "for 4h"), or have a project owner add them for good.`,
    );
  }
}

/** "GROUP_READ_ONLY (held outside Rolecall), GROUP_OWNER (permanently, through AR-0003)". */
function describeHeld(standing: readonly RoleStanding[], throughTeams: readonly RoleThroughTeam[]): string {
  const words = (s: RoleStanding): string => {
    const teams = throughTeams.filter((t) => t.role === s.role).map((t) => t.team);
    if (s.kind === 'outside' && teams.length > 0) return `${s.role} (through ${teams.join(', ')})`;
    if (s.kind === 'outside') return `${s.role} (held outside Rolecall)`;
    if (s.kind === 'permanent') {
      const holder = s.holders.find((h) => h.until === null) ?? s.holders[0];
      return `${s.role} (permanently, through ${holder?.requestId ?? 'Rolecall'})`;
    }
    return s.role;
  };
  return standing.map(words).join(', ');
}
