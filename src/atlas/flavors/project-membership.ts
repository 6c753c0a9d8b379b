import { isAppError } from '../../errors.js';
import type { AtlasHttp } from '../http-client.js';
import type { OrgMembershipStatus, ProjectMembershipApi } from '../roles-api.js';
import { ATLAS_V2_2023, ATLAS_V2_2025, isAlreadyGone } from './shared.js';

/** Finds the organization that owns a project (getGroup, 2023-01-01), cached: it never changes. */
export type ProjectOrgLookup = (groupId: string) => Promise<string>;

/**
 * Creates a cached project -> organization lookup: getGroup on the v2 API, or `GET {base}/groups/{id}`
 * on a v1.0 API (`api`: its base path and media type), which answers with `orgId` too.
 */
export function createProjectOrgLookup(
  http: AtlasHttp,
  api: { readonly base: string; readonly mediaType: string } = {
    base: '/api/atlas/v2',
    mediaType: ATLAS_V2_2023,
  },
): ProjectOrgLookup {
  const known = new Map<string, string>();
  return async (groupId) => {
    const cached = known.get(groupId);
    if (cached) return cached;
    const { body } = await http.send<{ orgId: string }>({
      method: 'GET',
      path: `${api.base}/groups/${groupId}`,
      mediaType: api.mediaType,
      operation: 'reading the project',
      requiredRole: 'Project Read Only',
    });
    known.set(groupId, body.orgId);
    return body.orgId;
  };
}

interface OrgUser {
  readonly username: string;
  readonly orgMembershipStatus?: string;
}

const STATUSES: readonly OrgMembershipStatus[] = [
  'ACTIVE',
  'PENDING',
  'INVITATION_EXPIRED',
  'INVITATION_REJECTED',
];

/**
 * Temporary project membership on the Atlas Admin API v2, always with resource version 2025-02-19
 * (the only one that has these calls, whatever ATLAS_API says): listOrgUsers `?username=` for the
 * person's organization status, addGroupUsers `POST /groups/{groupId}/users` `{username, roles}`, and
 * removeGroupUser `DELETE /groups/{groupId}/users/{userId}` (NOTES.md section 2a).
 */
export function createProjectMembershipApi(http: AtlasHttp, orgOf: ProjectOrgLookup): ProjectMembershipApi {
  return {
    async orgStatus(username, groupId) {
      const orgId = await orgOf(groupId);
      const { body } = await http.send<{ results?: readonly OrgUser[] }>({
        method: 'GET',
        path: `/api/atlas/v2/orgs/${orgId}/users`,
        query: { username },
        mediaType: ATLAS_V2_2025,
        operation: `looking up ${username} in the organization`,
        requiredRole: 'Organization Member',
      });
      const user = body.results?.find((u) => u.username.toLowerCase() === username.toLowerCase());
      const status = user?.orgMembershipStatus as OrgMembershipStatus | undefined;
      return status !== undefined && STATUSES.includes(status) ? status : 'NONE';
    },

    async addToProject(groupId, username, roles) {
      try {
        await http.send({
          method: 'POST',
          path: `/api/atlas/v2/groups/${groupId}/users`,
          body: { username, roles: [...roles] },
          mediaType: ATLAS_V2_2025,
          operation: `adding ${username} to the project`,
          requiredRole: 'Project Access Manager',
        });
      } catch (error) {
        // 409: already an active member of the project (a retried POST whose first try landed).
        if (isAppError(error) && error.details.status === 409) return;
        throw error;
      }
    },

    removeFromProject: (groupId, userId) => removeGroupUser(http, groupId, userId),
  };
}

/**
 * Removes the person from the project: removeGroupUser `DELETE /api/atlas/v2/groups/{groupId}/users/{userId}`,
 * version 2025-02-19 (204; the only one that also removes pending users). Already gone is not an error.
 */
export async function removeGroupUser(http: AtlasHttp, groupId: string, userId: string): Promise<void> {
  try {
    await http.send({
      method: 'DELETE',
      path: `/api/atlas/v2/groups/${groupId}/users/${userId}`,
      mediaType: ATLAS_V2_2025,
      operation: 'removing the user from the project',
      requiredRole: 'Project Access Manager',
    });
  } catch (error) {
    if (isAlreadyGone(error)) return;
    throw error;
  }
}
