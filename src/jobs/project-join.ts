import { AppError } from '../errors.js';
import type { AccessRequest } from '../requests/model.js';
import type { ProcessorDeps } from './processor-support.js';

/**
 * Refuses (or allows) a grant that adds someone who is not in the project, saying why in words: only
 * temporary grants on a project, for an active member of its organization, where the flavor can.
 */
export async function checkCanJoin(atlas: ProcessorDeps['atlas'], request: AccessRequest): Promise<void> {
  const where = request.target.name;
  const kind = request.target.kind === 'org' ? 'organization' : 'project';
  if (request.target.kind === 'org' || !atlas.projectMembership) {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${request.granteeEmail} is not a member of the ${kind} ${where} in Atlas; invite them first.`,
    );
  }
  if (request.durationSeconds === null) {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${request.granteeEmail} is not in ${where}. Rolecall adds people to a project only for temporary access; ask for a duration, or have a project owner add them.`,
    );
  }
  const status = await atlas.projectMembership.orgStatus(request.granteeEmail, request.target.id);
  if (status !== 'ACTIVE') {
    throw new AppError(
      'ATLAS_NOT_A_MEMBER',
      `${request.granteeEmail} is not an active member of the organization that owns ${where} (${status === 'NONE' ? 'not a member' : status.toLowerCase().replace(/_/g, ' ')}); invite them to the organization first.`,
    );
  }
}
