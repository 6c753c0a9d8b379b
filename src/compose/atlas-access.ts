import type { FederationCache } from '../atlas/federation-cache.js';
import type { AtlasRolesApi } from '../atlas/roles-api.js';
import { isAppError } from '../errors.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { TargetRef } from '../lib/scope.js';
import type { AccessReader, CurrentRoles } from '../requests/ports.js';

/**
 * The request workflow's AccessReader over the Atlas client: roles (and on a project, those held
 * through teams), whether the person may join, and what the teams asked for give on the policy's
 * projects (`projects`: the project targets of the policy in force).
 */
export function createAtlasAccessReader(
  atlas: AtlasRolesApi,
  projects: () => readonly TargetRef[],
  federation?: {
    readonly mappings: FederationCache;
    readonly orgOfProject: (groupId: string) => Promise<string>;
  },
): AccessReader {
  /**
   * The organization's role mappings; unknown (undefined: no federation check) when the key may not
   * read them (403: getOrgFederationSettings needs Organization Owner, which a key that changes only
   * project roles lacks), so that read never costs the person's roles, the diff and the other checks.
   */
  const mappingsOf = async (cache: FederationCache, orgId: string) => {
    try {
      return await cache.roleMappings(orgId);
    } catch (error) {
      if (isAppError(error) && error.details.status === 403) return undefined;
      throw error;
    }
  };

  return {
    async readAccess(email, target, items) {
      const scope = { kind: target.kind, id: target.id };
      const { roles, userId } = await atlas.readUser(email, scope);
      const teamAccess =
        target.kind === 'org' && atlas.teamAccess ? await atlas.teamAccess(target.id, items, projects()) : [];
      const throughTeams =
        target.kind === 'project' && atlas.rolesThroughTeams
          ? await atlas.rolesThroughTeams(email, target.id)
          : [];
      const orgId = federation
        ? target.kind === 'org'
          ? target.id
          : await federation.orgOfProject(target.id)
        : undefined;
      const roleMappings =
        federation && orgId !== undefined ? await mappingsOf(federation.mappings, orgId) : undefined;
      const read = {
        roles,
        userId,
        throughTeams,
        teamAccess,
        ...(roleMappings === undefined ? {} : { roleMappings }),
      };
      if (roles.length > 0 || target.kind === 'org') return { ...read, join: null };
      if (!atlas.projectMembership) return { ...read, join: 'unsupported' };
      const status = await atlas.projectMembership.orgStatus(email, target.id);
      return { ...read, join: status === 'ACTIVE' ? 'possible' : 'not-org-member' };
    },
  };
}

/**
 * CurrentRoles for the request form: Atlas's answer within 2 s where this process may call Atlas;
 * otherwise (a bot holds no Atlas key) the roles Rolecall's ledger holds for the person now.
 */
export function createCurrentRoles(ledgers: LedgerStore, atlas: AtlasRolesApi | undefined): CurrentRoles {
  return {
    async readRoles(email, target) {
      try {
        if (atlas) {
          const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), 2_000).unref());
          const read = atlas.readUser(email, { kind: target.kind, id: target.id });
          const user = await Promise.race([read, timeout]);
          read.catch(() => undefined);
          return user === null ? null : { roles: user.roles, source: 'atlas' };
        }
        const ledger = await ledgers.read(email, target);
        const now = Date.now();
        const roles = [
          ...new Set(ledger.holders.filter((h) => h.until === null || h.until > now).map((h) => h.role)),
        ];
        return { roles, source: 'rolecall' };
      } catch {
        return null;
      }
    },
  };
}
