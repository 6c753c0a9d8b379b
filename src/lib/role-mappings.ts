import type { AtlasScope } from './scope.js';

/**
 * An Atlas organization's federation role mappings (identity-provider groups to Atlas roles), as plain
 * values: the Atlas adapter (atlas/federation-api.ts) reads them, the domain check
 * (access/federation-check.ts) decides with them, and neither imports the other.
 */

/** One role a mapping gives, on the organization or on one of its projects (spec `ConnectedOrgConfigRoleAssignment`). */
export interface RoleAssignment {
  readonly scope: AtlasScope;
  readonly role: string;
}

/** What one IdP group is given (spec `AuthFederationRoleMapping`). */
export interface RoleMapping {
  /** The IdP group's name, as the identity provider sends it (1–200 characters). */
  readonly externalGroupName: string;
  readonly assignments: readonly RoleAssignment[];
}

/** The role mappings in force in one organization: Atlas sets its members' roles from them at each SSO login. */
export interface OrgRoleMappings {
  /** 24 hex. */
  readonly orgId: string;
  /** The legacy 20-hex id of the identity provider people sign in with; null when Atlas did not say. */
  readonly identityProviderId: string | null;
  /** Never empty: an organization without mappings has no OrgRoleMappings at all (null). */
  readonly mappings: readonly RoleMapping[];
}
