import { AppError, isAppError } from '../../errors.js';
import { ATLAS_ID } from '../../lib/patterns.js';
import type { OrgRoleMappings, RoleAssignment, RoleMapping } from '../../lib/role-mappings.js';
import type { AtlasScope } from '../../lib/scope.js';
import type { AtlasFederationApi } from '../federation-api.js';
import { IDENTITY_PROVIDER_ID } from '../federation-api.js';
import type { AtlasHttp } from '../http-client.js';
import { checkAtlasId } from '../validate.js';
import { readAllPages } from './paging.js';
import { ATLAS_V2_2023 } from './shared.js';

/** Spec `OrgFederationSettings` (getOrgFederationSettings, 2023-01-01). */
interface OrgFederationSettings {
  readonly id?: string;
  readonly identityProviderId?: string;
  readonly identityProviderStatus?: 'ACTIVE' | 'INACTIVE';
  readonly hasRoleMappings?: boolean;
  readonly federatedDomains?: readonly string[];
}

/** Spec `AuthFederationRoleMapping`. */
interface AuthFederationRoleMapping {
  readonly externalGroupName?: string;
  readonly roleAssignments?: readonly {
    readonly orgId?: string;
    readonly groupId?: string;
    readonly role?: string;
  }[];
}

/** Spec `ConnectedOrgConfig` (getFederationSettingConnectedOrgConfig, 2023-01-01): the parts Rolecall reads. */
interface ConnectedOrgConfig {
  readonly identityProviderId?: string | null;
  readonly roleMappings?: readonly AuthFederationRoleMapping[];
}

/** The fields of spec `UserEventViewForOrg` / `UserEventViewForNdsGroup` Rolecall reads. */
interface UserEvent {
  readonly id: string;
  readonly created: string;
  readonly eventTypeName: string;
  readonly groupId?: string;
  readonly targetUsername?: string | null;
  readonly userId?: string;
  readonly username?: string;
  readonly apiKeyId?: string;
  readonly publicKey?: string;
}

/**
 * The events a federated login leaves when it changes a person's roles. The spec has no event type that
 * says "at login": its federation types (ROLE_MAPPING_CREATED/UPDATED/DELETED, IDENTITY_PROVIDER_…,
 * FEDERATION_SETTINGS_…) record changes to the settings, not to a person. The nearest documented ones
 * are the user event types (`UserEventTypeViewForOrg`, `UserEventTypeViewForNdsGroup`):
 * USER_ROLES_CHANGED_AUDIT (the person's roles in the organization or project changed),
 * REMOVED_FROM_GROUP and REMOVED_FROM_ORG (the mappings gave no role there any more). Which of those a login caused
 * is inferred: Atlas applies the mappings in the person's own sign-in, so the event targets them
 * (`targetUsername`) and was triggered by them (`userId` / `username`), never by an API key or service
 * account (`apiKeyId` / `publicKey`: Rolecall's own writes, or another tool's).
 */
export const LOGIN_EVENT_TYPES: Readonly<Record<AtlasScope['kind'], readonly string[]>> = {
  org: ['USER_ROLES_CHANGED_AUDIT', 'REMOVED_FROM_ORG'],
  project: ['USER_ROLES_CHANGED_AUDIT', 'REMOVED_FROM_GROUP'],
};

/** The federation reads need Organization Owner (spec x-rolesRequirements of both calls). */
const FEDERATION_ROLE = 'Organization Owner';

/** A 404 that says the resource itself is not there (spec `notFound` example, NOTES.md section 6: RESOURCE_NOT_FOUND "Cannot find resource %s"). */
function isNoSuchResource(error: unknown): boolean {
  return (
    isAppError(error) && error.details.status === 404 && error.details.errorCode === 'RESOURCE_NOT_FOUND'
  );
}

/** An answer Atlas should never give (an id of the wrong shape): a Rolecall bug or a changed API, not a person's problem. */
function malformed(what: string, value: unknown): AppError {
  return new AppError(
    'INTERNAL',
    `Atlas answered a federation read with ${what} Rolecall does not recognise; it stops rather than guess.`,
    { details: { what, value: String(value) } },
  );
}

/** One AuthFederationRoleMapping in Rolecall's terms; an assignment with neither orgId nor groupId says nothing and is left out. */
function toMapping(mapping: AuthFederationRoleMapping): RoleMapping {
  const assignments: RoleAssignment[] = [];
  for (const a of mapping.roleAssignments ?? []) {
    if (typeof a.role !== 'string' || a.role === '') continue;
    const id = a.orgId ?? a.groupId;
    if (id === undefined) continue;
    if (!ATLAS_ID.test(id)) throw malformed('a role assignment id', id);
    assignments.push({ scope: { kind: a.orgId !== undefined ? 'org' : 'project', id }, role: a.role });
  }
  return { externalGroupName: mapping.externalGroupName ?? '', assignments };
}

/**
 * The federation reads of the Atlas Admin API v2 (resource version 2023-01-01, the only one these calls
 * have), for the atlas-v2 and atlas-v2-2025 flavors.
 *
 * `readRoleMappings`: getOrgFederationSettings (`GET /orgs/{orgId}/federationSettings`); a 404
 * RESOURCE_NOT_FOUND there is an organization without federation (null), while ORG_NOT_FOUND stays an
 * error (the organization is gone). No role mappings (`hasRoleMappings` false), no identity provider or
 * an INACTIVE one (nobody signs in through it, so nothing applies the mappings) is null too. Otherwise
 * getFederationSettingConnectedOrgConfig gives the mappings (`roleMappings`), or, when it leaves them
 * out, listFederationSettingConnectedOrgConfigRoleMappings.
 *
 * `removedAtLogin`: listOrgEvents / listGroupEvents with `eventType` (one call per type: the client sends
 * each query parameter once) and `minDate`, every page; see {@link LOGIN_EVENT_TYPES}.
 */
export function createAtlasV2FederationApi(
  http: AtlasHttp,
  options: { pageSize?: number } = {},
): AtlasFederationApi {
  const connectedMappings = async (federationId: string, orgId: string): Promise<OrgRoleMappings | null> => {
    const base = `/api/atlas/v2/federationSettings/${federationId}/connectedOrgConfigs/${orgId}`;
    let config: ConnectedOrgConfig;
    try {
      ({ body: config } = await http.send<ConnectedOrgConfig>({
        method: 'GET',
        path: base,
        mediaType: ATLAS_V2_2023,
        operation: "reading the organization's role mappings (its connected organization configuration)",
        requiredRole: FEDERATION_ROLE,
      }));
    } catch (error) {
      // The organization is not (any more) connected to this federation.
      if (isNoSuchResource(error)) return null;
      throw error;
    }
    let raw = config?.roleMappings;
    if (raw === undefined) {
      const { body } = await http.send<{ results?: readonly AuthFederationRoleMapping[] }>({
        method: 'GET',
        path: `${base}/roleMappings`,
        mediaType: ATLAS_V2_2023,
        operation: "reading the organization's role mappings",
        requiredRole: FEDERATION_ROLE,
      });
      raw = body?.results ?? [];
    }
    const idp = config?.identityProviderId ?? null;
    if (idp !== null && !IDENTITY_PROVIDER_ID.test(idp)) throw malformed('an identity provider id', idp);
    const mappings = raw.map(toMapping).filter((m) => m.assignments.length > 0);
    return mappings.length === 0 ? null : { orgId, identityProviderId: idp, mappings };
  };

  /** Every event of one type about the scope since `minDate`, all pages. */
  const eventsOf = (scope: AtlasScope, eventType: string, minDate: string): Promise<UserEvent[]> =>
    readAllPages<UserEvent>(
      http,
      {
        path: `/api/atlas/v2/${scope.kind === 'org' ? 'orgs' : 'groups'}/${scope.id}/events`,
        query: { eventType, minDate },
        mediaType: ATLAS_V2_2023,
        operation: `reading the ${scope.kind === 'org' ? 'organization' : 'project'}'s ${eventType} events`,
        requiredRole: scope.kind === 'org' ? 'Organization Member' : 'Project Read Only',
      },
      (event) => event.id,
      options.pageSize,
    );

  return {
    async readRoleMappings(orgId) {
      checkAtlasId(orgId, 'orgId');
      let settings: OrgFederationSettings;
      try {
        ({ body: settings } = await http.send<OrgFederationSettings>({
          method: 'GET',
          path: `/api/atlas/v2/orgs/${orgId}/federationSettings`,
          mediaType: ATLAS_V2_2023,
          operation:
            "reading the organization's federation settings (whether identity-provider groups set people's roles)",
          requiredRole: FEDERATION_ROLE,
          expected: [404],
        }));
      } catch (error) {
        if (isNoSuchResource(error)) return null;
        throw error;
      }
      if (settings?.hasRoleMappings !== true) return null;
      if (settings.identityProviderStatus !== 'ACTIVE' || settings.identityProviderId === undefined)
        return null;
      if (!IDENTITY_PROVIDER_ID.test(settings.identityProviderId))
        throw malformed('an identity provider id', settings.identityProviderId);
      const federationId = settings.id;
      if (federationId === undefined || !ATLAS_ID.test(federationId))
        throw malformed('a federation id', federationId);
      const found = await connectedMappings(federationId, orgId);
      // The identity provider the organization signs in with, as its own settings name it.
      return (
        found && { ...found, identityProviderId: found.identityProviderId ?? settings.identityProviderId }
      );
    },

    async removedAtLogin(scope, userId, username, since) {
      checkAtlasId(scope.id, scope.kind === 'org' ? 'orgId' : 'groupId');
      checkAtlasId(userId, 'userId');
      if (!Number.isFinite(since))
        throw new AppError('ATLAS_INVALID_INPUT', 'The time to look for events from is not a time.');
      const minDate = new Date(since).toISOString();
      const person = username.toLowerCase();
      let first: number | null = null;
      for (const eventType of LOGIN_EVENT_TYPES[scope.kind]) {
        for (const event of await eventsOf(scope, eventType, minDate)) {
          const at = Date.parse(event.created);
          if (!Number.isFinite(at) || at < since) continue;
          if (event.eventTypeName !== eventType) continue;
          if (scope.kind === 'project' && event.groupId !== undefined && event.groupId !== scope.id) continue;
          if (event.targetUsername?.toLowerCase() !== person) continue;
          // Triggered by an API key or service account (Rolecall's own writes among them): not a login.
          if (event.apiKeyId !== undefined || event.publicKey !== undefined) continue;
          // Triggered by someone else (an owner in the Atlas UI): not this person's login.
          if (event.userId !== undefined && event.userId !== userId) continue;
          if (event.username !== undefined && event.username.toLowerCase() !== person) continue;
          if (first === null || at < first) first = at;
        }
      }
      return first;
    },
  };
}
