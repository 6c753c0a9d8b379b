import { describeTooWide, isTooWideForGrantee, normalizeCidr } from '../atlas/cidr.js';
import type { AtlasDatabaseAccessApi, DatabaseUserSpec } from '../atlas/database-access-api.js';
import { generatePassword } from '../database-access/credentials.js';
import { AppError } from '../errors.js';
import type { AccessRequest, DatabaseGrant } from '../requests/model.js';
import { revocationLagOf } from '../requests/revocation-lag.js';
import { endOfGrant } from '../requests/scheduled-start.js';
import { dryRunNote, lockKeyOf, type ProcessorDeps, type ProcessorOutcome } from './processor-support.js';
import type { Fence } from './user-lock.js';

/** Dependencies of {@link createDatabaseGrants}: a processor's, with the client's database calls when it has them. */
export type DatabaseGrantsDeps = ProcessorDeps;

const iso = (ms: number) => new Date(ms).toISOString();

/** How the comment of every access-list entry a grant makes starts: it names the grant. */
const entryTag = (request: AccessRequest) => `Rolecall ${request.id} `;

/** The grant's database access, or an error saying the request was never checked for it. */
function grantOf(request: AccessRequest): DatabaseGrant {
  if (request.database === null) {
    throw new AppError('INTERNAL', `${request.id} asks for database access but was never checked for it.`);
  }
  return request.database;
}

/**
 * Temporary database access (`db:LEVEL`): one database user per grant, created with Atlas's own
 * `deleteAfterDate` at the grant's end (a second clock: Atlas deletes it even if Rolecall is down),
 * deleted again by Rolecall at the end, moved by an extension, and, where the policy asks, an IP
 * access-list entry per address the grantee gives, with the same end. A password is never stored:
 * the user is created with one nobody sees, and the grantee's "Show password" sets a new one that
 * only they are shown (`revealPassword`).
 */
export function createDatabaseGrants(deps: DatabaseGrantsDeps) {
  const { store, lifecycle, logger } = deps;
  const now = deps.now ?? Date.now;
  /** The client's database calls; an API without them (not Atlas v2) refuses in words. */
  const api = (request: AccessRequest): AtlasDatabaseAccessApi => {
    if (!deps.database) throw noDatabaseApi(request);
    return deps.database;
  };

  const specOf = (request: AccessRequest, grant: DatabaseGrant, end: number): DatabaseUserSpec => ({
    username: grant.username,
    auth: grant.auth,
    roles: grant.roles.map((r) => ({
      roleName: r.role,
      databaseName: r.db,
      ...(r.collection === undefined ? {} : { collectionName: r.collection }),
    })),
    clusters: grant.clusters,
    deleteAfter: end,
    description: `Rolecall ${request.id} (${grant.level}) until ${iso(end)}`,
    // Never kept: the grantee sets and sees their own with "Show password".
    ...(grant.auth === 'password' ? { password: generatePassword() } : {}),
  });

  const addAddresses = async (request: AccessRequest, addresses: readonly string[], end: number) => {
    for (const cidrBlock of addresses) {
      await api(request).addAccessListEntry(request.target.id, {
        cidrBlock,
        deleteAfter: end,
        comment: `${entryTag(request)}until ${iso(end)}`,
      });
    }
  };

  /**
   * The grant's addresses whose entry this grant made (its comment names the request). An entry that
   * was there before (someone's permanent office range, another grant's) was left alone when it was
   * given, so it is never removed or made temporary on this grant's behalf either.
   */
  const ownAddresses = async (request: AccessRequest, addresses: readonly string[]) => {
    const own: string[] = [];
    for (const cidr of addresses) {
      const entry = await api(request).readAccessListEntry(request.target.id, cidr);
      if (entry?.comment?.startsWith(entryTag(request))) own.push(cidr);
    }
    return own;
  };

  /** The apply step of a `db:` request, under the person's lock. */
  const apply = async (request: AccessRequest, fence: Fence): Promise<ProcessorOutcome> => {
    const grant = grantOf(request);
    const item = request.roles[0] ?? `db:${grant.level}`;
    const appliedAt = now();
    const end = endOfGrant(request, appliedAt) ?? appliedAt;
    const first = request.plan === null;
    // The plan is stored before the write, so a retry knows the database user may be its own.
    const saved = await lifecycle.planned(
      request.id,
      { atlasUserId: '', rolesBefore: [], added: [item], addsToProject: false },
      first,
      true,
    );
    if (saved !== null && !saved.ok) return { skipped: saved.current.state };
    await fence.check();
    const created = await api(request).createUser(request.target.id, specOf(request, grant, end));
    if (!created.created) {
      // A user named after the grantee's identity that Rolecall did not make: theirs, left alone.
      if (first && created.afterLostAnswer !== true && grant.auth !== 'password') {
        throw new AppError(
          'NOTHING_TO_GRANT',
          `${request.granteeEmail} already has the database user ${grant.username} on ${request.target.name}, made outside Rolecall; it is left alone. Ask a project owner, or remove it first.`,
        );
      }
      // This grant's own, from a try whose answer was lost: it ends when this grant ends.
      await api(request).updateUser(request.target.id, grant.auth, grant.username, { deleteAfter: end });
    }
    await addAddresses(request, grant.addresses, end);
    const where = grant.addresses.length > 0 ? `; ${grant.addresses.join(', ')} on the IP access list` : '';
    // ATLAS_DRY_RUN: the writes not sent (the password in them redacted), as a role grant records them.
    const dryRun = deps.dryRunLog?.take(request.id);
    const done = await lifecycle.applied(
      request,
      {
        actor: 'system',
        detail: `created database user ${grant.username} (${grant.level}: ${grant.roles.map((r) => `${r.role} on ${r.db}`).join(', ')}; clusters ${grant.clusters.join(', ')}), which Atlas deletes at ${iso(end)}${where}${dryRun ? ` ${dryRunNote(dryRun)}` : ''}`,
        patch: {
          grant: {
            ...(dryRun ? { dryRun } : {}),
            rolesAfter: [],
            appliedAt,
            revokeAt: end,
            held: [item],
            joined: [],
            outside: [],
            addedToProject: false,
          },
        },
        ledger: {
          email: request.granteeEmail,
          target: request.target,
          ops: [{ op: 'hold', role: item, requestId: request.id, until: end }],
          ending: { requestId: request.id, at: end },
        },
      },
      end,
    );
    if (!done.ok) return { skipped: done.current.state };
    logger.info('database access applied', { requestId: request.id, level: grant.level, revokeAt: end });
    return { done: 'applied' };
  };

  /** The revoke step of a `db:` grant: the database user and its access-list entries go. */
  const revoke = async (
    request: AccessRequest,
    after: (revoked: AccessRequest) => Promise<void>,
  ): Promise<ProcessorOutcome> => {
    const grant = grantOf(request);
    const item = request.roles[0] ?? `db:${grant.level}`;
    // A retried attempt reports only its own writes, not a failed attempt's as well.
    deps.dryRunLog?.take(request.id);
    // Stored before the delete: a retry that finds the user gone knows an earlier try may have deleted it.
    const retried = request.revokePlan !== null;
    if (!retried) {
      const saved = await lifecycle.revokePlanned(request.id, { remove: [item], leaveProject: false });
      if (!saved.ok) return { skipped: saved.current.state };
    }
    const deleted = await api(request).deleteUser(request.target.id, grant.auth, grant.username);
    const gone = deleted.deleted
      ? `deleted database user ${grant.username}`
      : retried
        ? `database user ${grant.username} was gone on this try (deleted by an earlier try whose answer was lost, or by Atlas at its deleteAfterDate)`
        : `database user ${grant.username} was already gone (Atlas deletes it at its deleteAfterDate)`;
    const own = await ownAddresses(request, grant.addresses);
    for (const cidr of own) await api(request).removeAccessListEntry(request.target.id, cidr);
    const revokedAt = now();
    const lag = revocationLagOf(request, revokedAt);
    const dryRun = deps.dryRunLog?.take(request.id);
    const done = await lifecycle.revoked(request.id, {
      actor: request.endedEarly?.by ?? 'system',
      detail: `${gone}${own.length > 0 ? `; removed ${own.join(', ')} from the IP access list` : ''}${lag === undefined ? '' : `; ${lag.toFixed(2)} s after its end`}${dryRun ? ` ${dryRunNote(dryRun)}` : ''}`,
      patch: {
        revocation: {
          removed: deleted.deleted ? [item] : [],
          kept: [],
          gone: deleted.deleted ? [] : [item],
          rolesAfter: [],
          revokedAt,
          leftProject: false,
        },
      },
      ledger: {
        email: request.granteeEmail,
        target: request.target,
        ops: [{ op: 'release', role: item, requestId: request.id }],
        ending: { requestId: request.id, at: null },
      },
    });
    if (!done.ok) return { skipped: done.current.state };
    await after(done.request);
    logger.info('database access revoked', { requestId: request.id, deleted: deleted.deleted });
    return { done: 'revoked' };
  };

  /** Moves Atlas's own end (deleteAfterDate) of an extended grant's database user and addresses. */
  const extend = async (grantRequest: AccessRequest, to: number): Promise<void> => {
    const grant = grantOf(grantRequest);
    await api(grantRequest).updateUser(grantRequest.target.id, grant.auth, grant.username, {
      deleteAfter: to,
    });
    // An entry's end cannot be changed in place: the grant's own are removed and added again with the
    // new one. An address of the grant missing from the list is added again too: a try that removed
    // it and then failed to add it back (its job is retried) must not leave the grantee without it.
    const again: string[] = [];
    for (const cidr of grant.addresses) {
      const entry = await api(grantRequest).readAccessListEntry(grantRequest.target.id, cidr);
      if (entry === null) {
        again.push(cidr);
      } else if (entry.comment?.startsWith(entryTag(grantRequest))) {
        await api(grantRequest).removeAccessListEntry(grantRequest.target.id, cidr);
        again.push(cidr);
      }
    }
    await addAddresses(grantRequest, again, to);
  };

  /** A grant the grantee may act on now: theirs, applied and not ended. */
  const activeGrantOf = async (requestId: string, userId: string) => {
    const request = await store.require(requestId);
    if (request.granteeId !== userId) {
      throw new AppError(
        'NOT_ALLOWED',
        `Only the person ${requestId} grants database access to can do this.`,
      );
    }
    const grant = request.database;
    if (grant === null) throw new AppError('NOT_ALLOWED', `${requestId} is not database access.`);
    return { request, grant };
  };

  /**
   * Sets a new password on the grant's database user and returns it, for the grantee alone to see
   * once (the caller shows it in a modal only they have open). Rolecall keeps it nowhere; the audit
   * records that it was shown. Each call replaces the previous password.
   */
  const revealPassword = async (
    requestId: string,
    userId: string,
  ): Promise<{ readonly username: string; readonly password: string; readonly endsAt: number | null }> => {
    const { request, grant } = await activeGrantOf(requestId, userId);
    if (grant.auth !== 'password') {
      throw new AppError('NOT_ALLOWED', `${requestId} signs in as ${grant.username}, with no password.`);
    }
    if (request.state !== 'applied' || request.endedEarly !== null) {
      throw new AppError(
        'REQUEST_STATE_CONFLICT',
        `${requestId} is not active any more; ask for access again.`,
      );
    }
    const password = generatePassword();
    await deps.lock.run(lockKeyOf(deps.atlas, request.target, request.granteeEmail), async (fence) => {
      await fence.check();
      await api(request).updateUser(request.target.id, 'password', grant.username, { password });
    });
    const noted = await lifecycle.databaseNoted(requestId, {
      whileIn: ['applied'],
      actor: userId,
      detail: `a new password for database user ${grant.username} was set and shown once to the grantee (never stored)`,
    });
    if (!noted.ok) logger.warn('could not audit a password shown', { requestId });
    return { username: grant.username, password, endsAt: request.grant?.revokeAt ?? null };
  };

  /**
   * Puts the grantee's address on the project's IP access list for the grant, with its end as the
   * entry's deleteAfterDate; before the grant is applied it is kept for the apply step to add.
   */
  const addAddress = async (requestId: string, userId: string, address: string): Promise<AccessRequest> => {
    const { request, grant } = await activeGrantOf(requestId, userId);
    if (grant.accessList !== 'ask') {
      throw new AppError(
        'NOT_ALLOWED',
        `${request.target.name}'s IP access list is not managed by Rolecall.`,
      );
    }
    const cidr = normalizeCidr(address);
    if (cidr === undefined) {
      throw new AppError(
        'COMMAND_INVALID',
        `"${address.slice(0, 60)}" is not an IP address or CIDR block (e.g. 203.0.113.7 or 203.0.113.0/24).`,
      );
    }
    if (isTooWideForGrantee(cidr)) throw new AppError('COMMAND_INVALID', describeTooWide(cidr));
    if (grant.addresses.includes(cidr)) return request;
    return deps.lock.run(lockKeyOf(deps.atlas, request.target, request.granteeEmail), async (fence) => {
      const current = await store.require(requestId);
      const end = current.grant?.revokeAt ?? null;
      const active = current.state === 'applied' && current.endedEarly === null && end !== null;
      const waiting = ['submitted', 'pending', 'approved'].includes(current.state);
      if (!active && !waiting) {
        throw new AppError(
          'REQUEST_STATE_CONFLICT',
          `${requestId} is not active any more; ask for access again.`,
        );
      }
      if (active && end !== null) {
        await fence.check();
        await addAddresses(current, [cidr], end);
      }
      const noted = await lifecycle.databaseNoted(requestId, {
        whileIn: active ? ['applied'] : ['submitted', 'pending', 'approved'],
        actor: userId,
        detail: active
          ? `${cidr} added to the IP access list until ${iso(end ?? 0)}`
          : `${cidr} given for the IP access list; added when the grant is applied`,
        patch: { database: { ...grant, addresses: [...grant.addresses, cidr] } },
      });
      if (!noted.ok)
        throw new AppError('REQUEST_STATE_CONFLICT', `${requestId} changed meanwhile; try again.`);
      return noted.request;
    });
  };

  return { apply, revoke, extend, revealPassword, addAddress };
}

/** Database access on an Atlas API without database users (the policy or ATLAS_API changed since). */
export function noDatabaseApi(request: AccessRequest): AppError {
  return new AppError(
    'ATLAS_REJECTED',
    `${request.id} is database access, which needs the Atlas Admin API v2 (ATLAS_API=atlas-v2-2025 or atlas-v2); this Rolecall uses another.`,
  );
}

/** The database grant engine (see {@link createDatabaseGrants}). */
export type DatabaseGrants = ReturnType<typeof createDatabaseGrants>;
