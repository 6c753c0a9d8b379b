import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi } from '../roles-api.js';
import { createAtlasV2MembersApi, type MembersOptions } from './members.js';
import { createProjectMembershipApi, createProjectOrgLookup } from './project-membership.js';
import { createPutRolesApi } from './put-roles.js';
import { ATLAS_V2_2023 } from './shared.js';
import { createTeamsV2Api } from './teams-v2.js';

/**
 * `atlas-v2`: Atlas Admin API v2, resource version 2023-01-01 (sunset 2027-07-01); temporary project
 * membership and members (listOrgUsers, listGroupUsers, removeGroupUser, removeOrgUser) use the
 * 2025-02-19 calls, the only ones that list pending invitations and remove pending users; teams, the
 * v2 team calls (teams-v2.ts).
 */
export function createAtlasV2RolesApi(http: AtlasHttp, options: MembersOptions = {}): AtlasRolesApi {
  return {
    ...createPutRolesApi(http, {
      base: '/api/atlas/v2',
      mediaType: ATLAS_V2_2023,
      readRole: { org: 'Organization Member', project: 'Project Read Only' },
      writeRole: { org: 'Organization Owner', project: 'Project Owner' },
    }),
    projectMembership: createProjectMembershipApi(http, createProjectOrgLookup(http)),
    members: createAtlasV2MembersApi(http, options),
    teams: createTeamsV2Api(http, options),
  };
}
