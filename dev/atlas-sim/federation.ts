import type { AtlasScope } from '../../src/lib/scope.js';
import type { SimAnswer, SimModule, SimModuleContext } from './module.js';

/**
 * Federated authentication and the events a federated login leaves, as the Atlas Admin API v2 spec
 * (2026-08-21) describes them:
 * - getOrgFederationSettings `GET /api/atlas/v2/orgs/{orgId}/federationSettings` (2023-01-01) answers
 *   `OrgFederationSettings` {id, identityProviderId (20 hex), identityProviderStatus, hasRoleMappings,
 *   federatedDomains}; an organization without federation answers 404 RESOURCE_NOT_FOUND "Cannot find
 *   resource %s." (the spec's `notFound` example; NOTES.md section 6), an unknown one 404 ORG_NOT_FOUND.
 * - getFederationSettingConnectedOrgConfig `GET /api/atlas/v2/federationSettings/{id}/connectedOrgConfigs/{orgId}`
 *   answers `ConnectedOrgConfig` (required: domainRestrictionEnabled, orgId) with its `roleMappings`
 *   (`AuthFederationRoleMapping` {id, externalGroupName, roleAssignments [{orgId | groupId, role}]});
 *   listFederationSettingConnectedOrgConfigRoleMappings (`…/roleMappings`) answers
 *   `PaginatedRoleMappingView` {results, totalCount, links} (the spec declares no paging parameters).
 * - listOrgEvents / listGroupEvents `GET /api/atlas/v2/{orgs|groups}/{id}/events` (2023-01-01) answer
 *   `OrgPaginatedEventView` / `GroupPaginatedEventView`, filtered by `eventType` (repeated), `minDate`
 *   and `maxDate` (ISO 8601), paged like the core's lists, newest first.
 *
 * A federated login with role mappings in force ({@link FederationControl.ssoLogin}) does what Atlas's
 * docs ("Manage role mappings") say: the person's roles in the organization and its projects become
 * exactly what the mappings give their IdP groups, everything else is removed. The spec has no event
 * type that says "at login"; the login records the user event types
 * (`UserEventTypeViewForOrg` / `UserEventTypeViewForNdsGroup`): USER_ROLES_CHANGED_AUDIT where roles
 * changed, REMOVED_FROM_GROUP / JOINED_GROUP where project membership ended or began, REMOVED_FROM_ORG
 * when the mappings give no organization role. Each targets the person (`targetUsername`) and is
 * triggered by them (`userId`, `username`): it is their own sign-in.
 */

/** A role mapping as the options write it: one IdP group and the roles it gives (each on an orgId or a groupId). */
export interface SimRoleMapping {
  readonly externalGroupName: string;
  readonly assignments: readonly {
    readonly orgId?: string;
    readonly groupId?: string;
    readonly role: string;
  }[];
}

/** One organization's federation (`AtlasSimulatorOptions.federation`). */
export interface SimFederation {
  readonly orgId: string;
  /** 24 hex; generated when absent. */
  readonly federationSettingsId?: string;
  /** 20 hex; derived from the orgId when absent; null for a federation with no identity provider. */
  readonly identityProviderId?: string | null;
  /** @defaultValue 'ACTIVE' */
  readonly identityProviderStatus?: 'ACTIVE' | 'INACTIVE';
  /** @defaultValue ['example.com'] */
  readonly federatedDomains?: readonly string[];
  readonly roleMappings: readonly SimRoleMapping[];
}

/** What tests do to the federation: change the mappings, and sign a person in through the identity provider. */
export interface FederationControl {
  /** Replaces an organization's role mappings (creating its federation, with an active IdP, if it had none). */
  setRoleMappings(orgId: string, mappings: readonly SimRoleMapping[]): void;
  /**
   * A federated login of `username` to `orgId` as a member of `idpGroups`: with role mappings in force
   * (an active identity provider, at least one mapping) the person's organization and project roles
   * there become exactly what the mappings give those groups, through the core's role writes (their
   * timeline records it), and the events are recorded. Without mappings Atlas changes nothing, and
   * neither does this.
   */
  ssoLogin(username: string, orgId: string, idpGroups: readonly string[]): void;
}

const V2_2023 = 'application/vnd.atlas.2023-01-01+json';

interface FederationState {
  readonly id: string;
  identityProviderId: string | null;
  identityProviderStatus: 'ACTIVE' | 'INACTIVE';
  readonly federatedDomains: readonly string[];
  mappings: { readonly id: string; readonly mapping: SimRoleMapping }[];
}

interface SimEvent {
  readonly id: string;
  readonly at: number;
  readonly orgId: string;
  readonly groupId?: string;
  readonly eventTypeName: string;
  readonly userId: string;
  readonly username: string;
  readonly targetUsername: string;
}

const sorted = (roles: Iterable<string>) => [...new Set(roles)].sort();

/** Creates the module: its routes, and the control the simulator hands on. */
export function createFederationModule(
  context: SimModuleContext,
  federation: readonly SimFederation[],
): SimModule & FederationControl {
  const federations = new Map<string, FederationState>();
  const events: SimEvent[] = [];

  const stateOf = (options: Omit<SimFederation, 'orgId'> & { readonly orgId: string }): FederationState => ({
    id: options.federationSettingsId ?? context.newId('fe'),
    // The spec's legacy IdP id is 20 hex: the org id's last 20 characters are (24 hex), and unique.
    identityProviderId:
      options.identityProviderId === undefined ? options.orgId.slice(-20) : options.identityProviderId,
    identityProviderStatus: options.identityProviderStatus ?? 'ACTIVE',
    federatedDomains: options.federatedDomains ?? ['example.com'],
    mappings: options.roleMappings.map((mapping) => ({ id: context.newId('fa'), mapping })),
  });
  for (const f of federation) federations.set(f.orgId, stateOf(f));

  const notFound = (path: string): SimAnswer =>
    context.error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${path}.`, [path]);

  /** Spec `AuthFederationRoleMapping`. */
  const mappingBody = ({ id, mapping }: FederationState['mappings'][number]) => ({
    id,
    externalGroupName: mapping.externalGroupName,
    roleAssignments: mapping.assignments.map((a) => ({
      ...(a.orgId !== undefined ? { orgId: a.orgId } : { groupId: a.groupId }),
      role: a.role,
    })),
  });

  /** The connected organization configuration at `path`, or the 404 that says there is none. */
  const connected = (
    federationId: string,
    orgId: string,
    path: string,
  ): { state: FederationState } | { answer: SimAnswer } => {
    const missing = context.scopeMissing({ kind: 'org', id: orgId });
    if (missing) return { answer: missing };
    const state = federations.get(orgId);
    return state && state.id === federationId ? { state } : { answer: notFound(path) };
  };

  /** Spec `UserEventViewForOrg` / `UserEventViewForNdsGroup`. */
  const eventBody = (event: SimEvent) => ({
    id: event.id,
    created: new Date(event.at).toISOString(),
    eventTypeName: event.eventTypeName,
    orgId: event.orgId,
    ...(event.groupId !== undefined ? { groupId: event.groupId } : {}),
    isGlobalAdmin: false,
    userId: event.userId,
    username: event.username,
    targetUsername: event.targetUsername,
  });

  /** listOrgEvents / listGroupEvents: filtered by eventType, minDate and maxDate, newest first, paged. */
  const listEvents = (scope: AtlasScope, path: string, query: URLSearchParams): SimAnswer => {
    const missing = context.scopeMissing(scope);
    if (missing) return missing;
    const bound = (name: string): number | SimAnswer | undefined => {
      const raw = query.get(name);
      if (raw === null) return undefined;
      const at = Date.parse(raw);
      return Number.isFinite(at)
        ? at
        : context.error(400, 'INVALID_PARAMETER', `Invalid parameter ${name}: ${raw} is not a date.`, [name]);
    };
    const min = bound('minDate');
    const max = bound('maxDate');
    if (typeof min === 'object') return min;
    if (typeof max === 'object') return max;
    const types = query.getAll('eventType');
    const chosen = events
      .filter((e) =>
        scope.kind === 'org' ? e.groupId === undefined && e.orgId === scope.id : e.groupId === scope.id,
      )
      .filter((e) => types.length === 0 || types.includes(e.eventTypeName))
      .filter((e) => (min === undefined || e.at >= min) && (max === undefined || e.at <= max))
      // Newest first; events of the same millisecond, the later recorded first.
      .sort((a, b) => b.at - a.at || events.indexOf(b) - events.indexOf(a))
      .map(eventBody);
    return context.page(chosen, path, query);
  };

  const record = (event: Omit<SimEvent, 'id' | 'at'>) =>
    events.push({ ...event, id: context.newId('e0'), at: Date.now() });

  return {
    routes: [
      {
        method: 'GET',
        pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/federationSettings$/,
        mediaType: V2_2023,
        handle: (m) => {
          const orgId = m[1] as string;
          const missing = context.scopeMissing({ kind: 'org', id: orgId });
          if (missing) return missing;
          const state = federations.get(orgId);
          if (!state) return notFound(m[0]);
          return {
            status: 200,
            body: {
              id: state.id,
              ...(state.identityProviderId === null
                ? {}
                : {
                    identityProviderId: state.identityProviderId,
                    identityProviderStatus: state.identityProviderStatus,
                  }),
              hasRoleMappings: state.mappings.length > 0,
              federatedDomains: [...state.federatedDomains],
            },
          };
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/atlas\/v2\/federationSettings\/([^/]+)\/connectedOrgConfigs\/([^/]+)$/,
        mediaType: V2_2023,
        handle: (m) => {
          const found = connected(m[1] as string, m[2] as string, m[0]);
          if ('answer' in found) return found.answer;
          const { state } = found;
          return {
            status: 200,
            body: {
              orgId: m[2],
              domainRestrictionEnabled: false,
              domainAllowList: [],
              identityProviderId: state.identityProviderId,
              postAuthRoleGrants: [],
              dataAccessIdentityProviderIds: [],
              roleMappings: state.mappings.map(mappingBody),
            },
          };
        },
      },
      {
        method: 'GET',
        pattern:
          /^\/api\/atlas\/v2\/federationSettings\/([^/]+)\/connectedOrgConfigs\/([^/]+)\/roleMappings$/,
        mediaType: V2_2023,
        handle: (m) => {
          const found = connected(m[1] as string, m[2] as string, m[0]);
          if ('answer' in found) return found.answer;
          const results = found.state.mappings.map(mappingBody);
          return { status: 200, body: { links: [], results, totalCount: results.length } };
        },
      },
      {
        method: 'GET',
        pattern: /^\/api\/atlas\/v2\/orgs\/([^/]+)\/events$/,
        mediaType: V2_2023,
        handle: (m, _body, query) => listEvents({ kind: 'org', id: m[1] as string }, m[0], query),
      },
      {
        method: 'GET',
        pattern: /^\/api\/atlas\/v2\/groups\/([^/]+)\/events$/,
        mediaType: V2_2023,
        handle: (m, _body, query) => listEvents({ kind: 'project', id: m[1] as string }, m[0], query),
      },
    ],

    setRoleMappings(orgId, mappings) {
      const state = federations.get(orgId);
      if (state) state.mappings = mappings.map((mapping) => ({ id: context.newId('fa'), mapping }));
      else federations.set(orgId, stateOf({ orgId, roleMappings: mappings }));
    },

    ssoLogin(username, orgId, idpGroups) {
      const person = context.userByUsername(username);
      if (!person) throw new Error(`no simulated user ${username}`);
      const state = federations.get(orgId);
      if (state?.identityProviderStatus !== 'ACTIVE' || state.identityProviderId === null) return;
      if (state.mappings.length === 0) return;
      const given = state.mappings
        .filter(({ mapping }) => idpGroups.includes(mapping.externalGroupName))
        .flatMap(({ mapping }) => mapping.assignments);
      const who = { userId: person.id, username: person.username, targetUsername: person.username };
      const orgRoles = sorted(given.filter((a) => a.orgId === orgId).map((a) => a.role));
      const before = sorted(context.setRolesOf(person.id, { kind: 'org', id: orgId }, orgRoles));
      if (before.join() !== orgRoles.join()) {
        const eventTypeName =
          orgRoles.length === 0
            ? 'REMOVED_FROM_ORG'
            : before.length === 0
              ? 'JOINED_ORG'
              : 'USER_ROLES_CHANGED_AUDIT';
        record({ orgId, eventTypeName, ...who });
      }
      for (const groupId of context.projectsOf(orgId)) {
        const roles = sorted(given.filter((a) => a.groupId === groupId).map((a) => a.role));
        const held = sorted(context.setRolesOf(person.id, { kind: 'project', id: groupId }, roles));
        if (held.join() === roles.join()) continue;
        const eventTypeName =
          roles.length === 0
            ? 'REMOVED_FROM_GROUP'
            : held.length === 0
              ? 'JOINED_GROUP'
              : 'USER_ROLES_CHANGED_AUDIT';
        record({ orgId, groupId, eventTypeName, ...who });
      }
    },
  };
}
