import type { AccessRequest } from '../../src/requests/model.js';

/**
 * A stored request with every field at its plain value (nothing decided, planned or granted yet), for
 * unit tests that build one by hand: each names only what it is about in `fields`, so a new field of
 * AccessRequest is added here once.
 */
export function accessRequest(
  fields: Pick<AccessRequest, 'id' | 'state' | 'requesterId' | 'granteeId' | 'granteeEmail' | 'target'> &
    Partial<AccessRequest>,
): AccessRequest {
  return {
    roles: ['GROUP_READ_ONLY'],
    durationSeconds: 3600,
    startsAt: null,
    reason: 'incident',
    ticket: null,
    ticketUrl: null,
    createdAt: 1,
    updatedAt: 1,
    sourceChannelId: null,
    replyUrl: null,
    rolesAtRequest: [],
    atlasUserId: null,
    holdersAtRequest: [],
    rolesThroughTeamsAtRequest: [],
    teamAccess: [],
    database: null,
    addsToProject: false,
    extends: null,
    requesterTeamId: null,
    endsNoLaterThan: null,
    breakGlass: false,
    workflow: null,
    approversAtRequest: [],
    approvalMessage: null,
    approvals: [],
    decision: null,
    acknowledged: null,
    plan: null,
    grant: null,
    extensions: [],
    extension: null,
    endedEarly: null,
    revokePlan: null,
    revocation: null,
    revokeTrouble: null,
    drift: [],
    failure: null,
    attempt: 1,
    ...fields,
  };
}
