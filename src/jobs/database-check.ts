import type { AtlasDatabaseAccessApi } from '../atlas/database-access-api.js';
import { awsIamUsername, databaseUsername, oidcUsername } from '../database-access/credentials.js';
import { AppError } from '../errors.js';
import type { LedgerStore } from '../grants/ledger-store.js';
import { isDatabaseItem, levelOfItem } from '../lib/access-items.js';
import { type Policy, targetOf } from '../policy/policy.js';
import type { AccessRequest, DatabaseGrant } from '../requests/model.js';

/** Atlas's limit of database users per project (createGroupDatabaseUser: "at most 100"). */
export const DATABASE_USERS_PER_PROJECT = 100;

/** What {@link checkDatabaseRequest} reads. */
export interface DatabaseCheckDeps {
  readonly policy: () => Policy;
  readonly ledgers: LedgerStore;
  /** Absent where the Atlas API has no database users (anything but the v2 flavors). */
  readonly database?: AtlasDatabaseAccessApi | undefined;
  readonly now: () => number;
}

/**
 * The Atlas half of checking a `db:LEVEL` request, in a worker: the level as the policy defines it
 * now, an Atlas API that has database users, no other active database grant of the grantee on the
 * project (extend that one instead), room under Atlas's 100 users per project, and for an identity
 * without a secret (OIDC, AWS IAM) no database user of that name made outside Rolecall. Returns what
 * approvers will approve: the database user and what it may do.
 * @throws AppError in words for the requester; retryable when Atlas could not be read.
 */
export async function checkDatabaseRequest(
  request: AccessRequest,
  deps: DatabaseCheckDeps,
): Promise<DatabaseGrant> {
  const item = request.roles.find(isDatabaseItem) ?? '';
  const level = levelOfItem(item) ?? '';
  const target = targetOf(deps.policy(), request.target);
  const offer = target?.database;
  const defined = offer?.levels[level];
  if (!offer || !defined) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `${item} is not database access ${request.target.name} offers${
        offer
          ? `; it offers ${Object.keys(offer.levels)
              .map((l) => `db:${l}`)
              .join(', ')}`
          : ''
      }.`,
    );
  }
  if (!deps.database) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `Database access needs the Atlas Admin API v2 (ATLAS_API=atlas-v2-2025 or atlas-v2); this Rolecall uses another, so ${item} cannot be granted on ${request.target.name}.`,
    );
  }
  const ledger = await deps.ledgers.read(request.granteeEmail, request.target);
  const now = deps.now();
  const active = ledger.holders.find(
    (h) => isDatabaseItem(h.role) && h.requestId !== request.id && (h.until === null || h.until > now),
  );
  if (active) {
    throw new AppError(
      'NOTHING_TO_GRANT',
      `${request.granteeEmail} already has database access on ${request.target.name} (${active.role}, ${active.requestId}${active.until ? ` until ${new Date(active.until).toISOString()}` : ''}); extend that one instead (/atlas-access extend ${active.requestId} for …).`,
    );
  }
  const username =
    offer.auth === 'oidc'
      ? oidcUsername(offer.oidcIdentityProvider ?? '', request.granteeEmail)
      : offer.auth === 'aws-iam'
        ? awsIamUsername(offer.awsIamPrincipal ?? '', request.granteeEmail)
        : databaseUsername(request.granteeEmail, level, request.id);
  const users = await deps.database.listUsers(request.target.id);
  if (users.length >= DATABASE_USERS_PER_PROJECT) {
    throw new AppError(
      'ROLE_NOT_ALLOWED',
      `${request.target.name} already has ${users.length} database users, Atlas's limit per project (${DATABASE_USERS_PER_PROJECT}), so Rolecall cannot add one for ${item}. Ask a project owner to remove unused database users, then ask again.`,
    );
  }
  if (offer.auth !== 'password' && users.some((u) => u.username === username)) {
    throw new AppError(
      'NOTHING_TO_GRANT',
      `${request.granteeEmail} already has the database user ${username} on ${request.target.name}, made outside Rolecall; it is left alone.`,
    );
  }
  return {
    level,
    roles: defined.roles,
    clusters: defined.clusters,
    auth: offer.auth,
    username,
    accessList: offer.accessList,
    addresses: request.database?.addresses ?? [],
  };
}
