import type { AtlasRolesApi } from '../atlas/roles-api.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import type { AccessReader, CurrentRoles } from '../requests/ports.js';

/** The request workflow's AccessReader over the Atlas client: roles, and whether the person may join. */
export function createAtlasAccessReader(atlas: AtlasRolesApi): AccessReader {
  return {
    async readAccess(email, target) {
      const { roles, userId } = await atlas.readUser(email, { kind: target.kind, id: target.id });
      if (roles.length > 0 || target.kind === 'org') return { roles, userId, join: null };
      if (!atlas.projectMembership) return { roles, userId, join: 'unsupported' };
      const status = await atlas.projectMembership.orgStatus(email, target.id);
      return { roles, userId, join: status === 'ACTIVE' ? 'possible' : 'not-org-member' };
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
