import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi } from '../roles-api.js';
import { createPutRolesApi } from './put-roles.js';

/** Media type of the 2023-01-01 resource version that carries the PUT roles endpoints. */
export const ATLAS_V2_2023 = 'application/vnd.atlas.2023-01-01+json';

/** `atlas-v2`: Atlas Admin API v2, resource version 2023-01-01 (sunset 2027-07-01). */
export function createAtlasV2RolesApi(http: AtlasHttp): AtlasRolesApi {
  return createPutRolesApi(http, {
    base: '/api/atlas/v2',
    mediaType: ATLAS_V2_2023,
    readRole: { org: 'Organization Member', project: 'Project Read Only' },
    writeRole: { org: 'Organization Owner', project: 'Project Owner' },
  });
}
