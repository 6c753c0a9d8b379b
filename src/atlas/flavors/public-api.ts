import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi } from '../roles-api.js';
import { createV1MembersApi, type MembersOptions } from './members.js';
import { createPutRolesApi } from './put-roles.js';
import { createTeamsV1Api } from './teams-v1.js';

/**
 * `cloud-manager` and `ops-manager`: the public API v1.0 (`/api/public/v1.0`). Members are listed with
 * "Get All Users in One Organization / Project" and removed from a project with "Remove One User from
 * One Project"; there is no `removeFromOrg`, as this API has no call that removes someone from an
 * organization (Ops Manager's `DELETE /users/{USER-ID}` deletes the whole account).
 */
export function createPublicApiRolesApi(http: AtlasHttp, options: MembersOptions = {}): AtlasRolesApi {
  const base = '/api/public/v1.0';
  const readRole = { org: 'Organization Read Only', project: 'Project Read Only' };
  const writeRole = { org: 'Organization User Admin', project: 'Project User Admin' };
  return {
    ...createPutRolesApi(http, { base, mediaType: 'application/json', readRole, writeRole }),
    // No removeFromOrg: the v1.0 public API has no "remove one user from one organization" call.
    members: createV1MembersApi(http, { base, readRole, removeRole: writeRole.project }, options),
    // Team members change with Organization Owner (Cloud Manager and Ops Manager "Add Users to Team"; unverified).
    teams: createTeamsV1Api(http, { base, readRole, writeRole: 'Organization Owner' }, options),
  };
}
