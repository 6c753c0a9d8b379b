import type { AtlasHttp } from '../http-client.js';
import type { AtlasRolesApi } from '../roles-api.js';
import { createPutRolesApi } from './put-roles.js';

/** `cloud-manager` and `ops-manager`: the public API v1.0 (`/api/public/v1.0`). */
export function createPublicApiRolesApi(http: AtlasHttp): AtlasRolesApi {
  return createPutRolesApi(http, {
    base: '/api/public/v1.0',
    mediaType: 'application/json',
    readRole: { org: 'Organization Read Only', project: 'Project Read Only' },
    writeRole: { org: 'Organization User Admin', project: 'Project User Admin' },
  });
}
