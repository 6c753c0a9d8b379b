import { isAppError } from '../../errors.js';
import type { TeamChange } from '../teams-api.js';

/**
 * errorCodes that say the team or its organization is not there (the api-errors catalogue, mongodb/docs
 * content/atlas/source/reference/api-errors.txt: 404 TEAM_NOT_FOUND "No team with ID %s exists.",
 * INVALID_TEAM_ID, TEAM_NOT_IN_ORG "Team %s is not in Organization %s.", ORG_NOT_FOUND, INVALID_ORG_ID):
 * a real failure, never "already done".
 */
const TEAM_OR_ORG_MISSING: readonly string[] = [
  'TEAM_NOT_FOUND',
  'INVALID_TEAM_ID',
  'TEAM_NOT_IN_ORG',
  'ORG_NOT_FOUND',
  'INVALID_ORG_ID',
];

/**
 * errorCodes that say the person is not in the organization at all, or has no account any more (404
 * USER_NOT_IN_ORG, USER_NOT_FOUND, INVALID_USER_ID): for a removal, they are out of the team already.
 */
const PERSON_OUT_OF_ORG: readonly string[] = ['USER_NOT_IN_ORG', 'USER_NOT_FOUND', 'INVALID_USER_ID'];

/** Whether the person is in the team now, read from Atlas (only after a refused add or remove). */
export type TeamMembershipCheck = (orgId: string, teamId: string, userId: string) => Promise<boolean>;

/** `changed: false`, carrying the refusal's `afterLostAnswer` (http-client.ts sets it). */
function unchanged(error: { details: Readonly<Record<string, unknown>> }): TeamChange {
  return { changed: false, afterLostAnswer: error.details.afterLostAnswer === true };
}

/**
 * Decides what a refused add (`expectMember: true`) or remove (`false`) means. Atlas documents 409
 * USER_ALREADY_IN_TEAM "The user with ID %s in team %s already exists." (api-errors catalogue; the
 * spec's addOrgTeamUser declares no 409, so any 409 is read the same way). What it answers for removing
 * someone who is not in the team is NOT documented (removeOrgTeamUser declares 400 and 404 only;
 * unverified), so a removal refused with a 409 or with a 400 or 404 that does not name the team or
 * organization missing asks Atlas whether the person is still in the team (one read, on this refusal
 * only): out of it is `changed: false`. A person outside the organization (or without an account) is out
 * of every team of it. Everything else (credentials, rate limits, the team gone) is thrown as it came.
 */
export async function settleTeamChange(
  error: unknown,
  expectMember: boolean,
  ids: { readonly orgId: string; readonly teamId: string; readonly userId: string },
  isMember: TeamMembershipCheck,
): Promise<TeamChange> {
  if (!isAppError(error)) throw error;
  const { status, errorCode } = error.details;
  const code = typeof errorCode === 'string' ? errorCode : '';
  if (expectMember && status === 409) return unchanged(error);
  if (!expectMember && status === 404 && PERSON_OUT_OF_ORG.includes(code)) return unchanged(error);
  const worthAsking =
    !expectMember &&
    (status === 409 || status === 400 || status === 404) &&
    !TEAM_OR_ORG_MISSING.includes(code);
  if (!worthAsking) throw error;
  let member: boolean;
  try {
    member = await isMember(ids.orgId, ids.teamId, ids.userId);
  } catch {
    // The read failed too: the removal's own refusal says more than the read's.
    throw error;
  }
  if (!member) return unchanged(error);
  throw error;
}
