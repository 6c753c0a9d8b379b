import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KNOWN_ATLAS_ERROR_CODES, mayMeanGone, toAtlasAppError } from '../../src/atlas/atlas-error.js';
import type { AppErrorCode } from '../../src/errors.js';

interface DocumentedCode {
  readonly errorCode: string;
  readonly status: number;
  readonly from: string;
}

// Every documented errorCode with its status and source (copied from reference/atlas; see "about").
const DOCUMENTED: readonly DocumentedCode[] = (
  JSON.parse(readFileSync(new URL('../fixtures/atlas/error-codes.json', import.meta.url), 'utf8')) as {
    codes: DocumentedCode[];
  }
).codes;

const AUTH = 'ATLAS_AUTH_FAILED';
const REJECTED = 'ATLAS_REJECTED';
const ACCESS_LIST = /Rolecall's IP address is not on it|IP address is not on the API key's access list/;
const ROLE = /needs the Project Owner role there/;

/** What each code must become: our code, whether a later try may work, and the words people read. */
const EXPECTED: Readonly<Record<string, readonly [AppErrorCode, boolean, RegExp]>> = {
  IP_ADDRESS_NOT_ON_ACCESS_LIST: [AUTH, false, ACCESS_LIST],
  IP_ADDRESS_NOT_ON_WHITELIST: [AUTH, false, ACCESS_LIST],
  ORG_REQUIRES_ACCESS_LIST: [AUTH, false, /organization requires .* access list/],
  ORG_REQUIRES_WHITELIST: [AUTH, false, /organization requires .* access list/],
  RESOURCE_REQUIRES_ACCESS_LIST: [AUTH, false, /reachable only from an address on the API key's access list/],
  RESOURCE_REQUIRES_WHITELIST: [AUTH, false, /reachable only from an address on the API key's access list/],
  UNAUTHORIZED: [AUTH, false, /did not accept Rolecall's credentials.*needs the Project Owner role/],
  USER_UNAUTHORIZED: [AUTH, false, ROLE],
  ACCESS_FORBIDDEN: [AUTH, false, ROLE],
  NOT_ORG_OWNER: [AUTH, false, ROLE],
  NOT_ORG_USER_ADMIN: [AUTH, false, ROLE],
  NOT_GROUP_USER_ADMIN: [AUTH, false, ROLE],
  NOT_USER_ADMIN: [AUTH, false, ROLE],
  NOT_ORG_GROUP_CREATOR: [AUTH, false, ROLE],
  CANNOT_CHANGE_GROUP_NAME: [AUTH, false, ROLE],
  NOT_IN_GROUP: [AUTH, false, /cannot reach this project .* or the project no longer exists/],
  USER_CANNOT_ACCESS_GROUP: [AUTH, false, /cannot reach this project/],
  USER_CANNOT_ACCESS_ORG: [AUTH, false, /cannot reach this organization/],
  BILLING_UNSUPPORTED: [REJECTED, false, /does not support billing roles/],
  CANNOT_ADD_GLOBAL_ROLE: [REJECTED, false, /does not support global roles/],
  NO_PAYMENT_INFORMATION_FOUND: [REJECTED, false, /payment information/],
  GROUP_NOT_FOUND: ['ATLAS_TARGET_GONE', false, /project does not exist in Atlas \(any more\)/],
  INVALID_GROUP_ID: ['ATLAS_TARGET_GONE', false, /project does not exist in Atlas/],
  GROUP_NAME_NOT_FOUND: ['ATLAS_TARGET_GONE', false, /project does not exist in Atlas/],
  ORG_NOT_FOUND: ['ATLAS_TARGET_GONE', false, /organization does not exist in Atlas \(any more\)/],
  INVALID_ORG_ID: ['ATLAS_TARGET_GONE', false, /organization does not exist in Atlas/],
  RESOURCE_NOT_FOUND: [REJECTED, false, /cannot find what updating project roles names/],
  USER_NOT_FOUND: ['ATLAS_USER_NOT_FOUND', false, /Atlas user does not exist \(any more\)/],
  INVALID_USER_ID: ['ATLAS_USER_NOT_FOUND', false, /Atlas user does not exist/],
  USERNAME_NOT_FOUND: ['ATLAS_USER_NOT_FOUND', false, /No Atlas user has this email address/],
  BAD_USERNAME_REF: ['ATLAS_USER_NOT_FOUND', false, /No Atlas user has this email address/],
  USER_NOT_IN_ORG: ['ATLAS_NOT_A_MEMBER', false, /not a member of this organization/],
  USER_NOT_IN_GROUP: ['ATLAS_NOT_A_MEMBER', false, /not a member of this project/],
  BAD_USERNAME_IN_GROUP_REF: ['ATLAS_NOT_A_MEMBER', false, /not a member of this project/],
  CANNOT_ADD_PENDING_USER: ['ATLAS_NOT_A_MEMBER', false, /has not accepted the invitation/],
  TEAM_NOT_FOUND: [REJECTED, false, /team does not exist in this Atlas organization \(any more\)/],
  INVALID_TEAM_ID: [REJECTED, false, /team does not exist/],
  TEAM_NOT_IN_ORG: [REJECTED, false, /team does not exist in this Atlas organization/],
  USER_ALREADY_IN_TEAM: [REJECTED, false, /already in this team/],
  MAX_USERS_PER_TEAM_EXCEEDED: [REJECTED, false, /team has as many users as Atlas allows/],
  MAX_TEAMS_PER_USER_EXCEEDED: [REJECTED, false, /as many teams as Atlas allows/],
  ATLAS_GROUP: [REJECTED, false, /belongs to Atlas, not Cloud Manager/],
  NOT_ATLAS_GROUP: [REJECTED, false, /ATLAS_API=cloud-manager/],
  NOT_ATLAS_ORG: [REJECTED, false, /ATLAS_API=cloud-manager/],
  CANNOT_DEMOTE_LAST_ORG_OWNER: ['ATLAS_LAST_OWNER', false, /last owner of the organization/],
  CANNOT_DELETE_LAST_ADMIN: ['ATLAS_LAST_OWNER', false, /last owner of the organization/],
  CANNOT_DEMOTE_LAST_OWNER: ['ATLAS_LAST_OWNER', false, /last owner of the project/],
  CANNOT_DELETE_LAST_OWNER: ['ATLAS_LAST_OWNER', false, /last owner of the project/],
  CANNOT_REMOVE_ALL_USER_ROLES: ['WOULD_REMOVE_ALL_ROLES', false, /must keep at least one role/],
  NO_ROLES_IN_ASSIGNMENT: ['WOULD_REMOVE_ALL_ROLES', false, /team must keep at least one project role/],
  INVALID_ROLE_FOR_ORG: [REJECTED, false, /does not accept this role for an organization/],
  INVALID_ROLE_FOR_GROUP: [REJECTED, false, /does not accept this role for a project/],
  UNSUPPORTED_ROLE: [REJECTED, false, /does not support this role/],
  INVALID_ENUM_VALUE: [REJECTED, false, /most likely a role name/],
  CANNOT_ADD_GROUP_ROLE: [REJECTED, false, /project role on an organization/],
  CANNOT_ADD_ORG_ROLE: [REJECTED, false, /organization role on a project/],
  ROLE_NEEDS_GROUP_ID: [REJECTED, false, /does not belong to that kind of scope/],
  ROLE_NEEDS_ORG_ID: [REJECTED, false, /does not belong to that kind of scope/],
  ROLE_NEEDS_NO_GROUP_ID: [REJECTED, false, /does not belong to that kind of scope/],
  ROLE_NEEDS_NO_ORG_ID: [REJECTED, false, /does not belong to that kind of scope/],
  INVALID_GROUP_ROLE_UPDATE: [REJECTED, false, /removing this user from the organization/],
  VALIDATION_ERROR: [REJECTED, false, /malformed; this is a Rolecall bug/],
  INVALID_JSON: [REJECTED, false, /malformed/],
  MALFORMED_JSON: [REJECTED, false, /malformed/],
  INVALID_ATTRIBUTE: [REJECTED, false, /malformed/],
  MISSING_ATTRIBUTE: [REJECTED, false, /malformed/],
  INVALID_VERSION_DATE: [REJECTED, false, /API version .* check ATLAS_API/],
  VERSION_GONE: [REJECTED, false, /retired .* ATLAS_API=atlas-v2-2025/],
  MAX_USERS_PER_ORG_EXCEEDED: [REJECTED, false, /organization has as many users as Atlas allows/],
  MAX_USERS_PER_GROUP_EXCEEDED: [REJECTED, false, /project has as many users as Atlas allows/],
  MAX_ORGS_PER_USER_EXCEEDED: [REJECTED, false, /as many organizations as Atlas allows/],
  MAX_GROUPS_PER_USER_EXCEEDED: [REJECTED, false, /as many projects as Atlas allows/],
  DOMAIN_NOT_IN_ALLOW_LIST: [REJECTED, false, /email domain is not on the organization's allow list/],
  USER_ALREADY_EXISTS: [REJECTED, false, /already has a user with this email address/],
  RATE_LIMITED_IP: ['ATLAS_UNAVAILABLE', true, /invitations .* try again later/],
  RATE_LIMITED: ['ATLAS_UNAVAILABLE', true, /rate limiting .* try again later/],
  RATE_LIMITED_TOKEN_BUCKET: ['ATLAS_UNAVAILABLE', true, /rate limiting .* try again later/],
  UNEXPECTED_ERROR: ['ATLAS_UNAVAILABLE', true, /busy or unavailable/],
  SERVICE_UNAVAILABLE: ['ATLAS_UNAVAILABLE', true, /busy or unavailable/],
  ATLAS_BACKUP_CANCEL_SHARD_RESTORE_JOB_NOT_ALLOWED: [
    REJECTED,
    false,
    /does not allow updating project roles/,
  ],
  CANNOT_DELETE_ORG_ACTIVE_LIVE_MIGRATION_ATLAS_ORG_LINK: [REJECTED, false, /live migration/],
  // Temporary database users and IP access-list entries.
  GROUP_USERS_LIMIT_EXCEEDED: [
    REJECTED,
    false,
    /already has as many database users as Atlas allows in one project/,
  ],
  CLUSTER_NOT_FOUND: [REJECTED, false, /no cluster of that name in this project/],
  EXPIRATION_DATE_EXCEEDS_MAX: [REJECTED, false, /at most one week from now/],
  EXPIRATION_DATE_IN_PAST: [REJECTED, false, /end date: it has already passed/],
  INVALID_IP_ADDRESS_OR_CIDR_NOTATION: [REJECTED, false, /not an IP address or CIDR block/],
  ATLAS_NETWORK_PERMISSION_ENTRY_NOT_FOUND: [REJECTED, false, /not on the project's IP access list/],
  ATLAS_WHITELIST_NOT_FOUND: [REJECTED, false, /not on the project's IP access list/],
  DATABASE_NAME_INVALID_ADMIN: [REJECTED, false, /malformed/],
  DATABASE_NAME_INVALID_EXTERNAL: [REJECTED, false, /malformed/],
};

const DETAIL =
  'IP address 203.0.113.9 is not allowed; group 5f1a2b3c4d5e6f7a8b9c0d1e, user 64b0000000000a11.';

describe('Atlas error codes, as documented today', () => {
  it('has words for every documented code, and none that is not documented', () => {
    const documented = DOCUMENTED.map((c) => c.errorCode).sort();
    expect(new Set(documented).size).toBe(documented.length);
    expect([...KNOWN_ATLAS_ERROR_CODES].sort()).toEqual(documented);
    expect(Object.keys(EXPECTED).sort()).toEqual(documented);
    expect(DOCUMENTED.every((c) => c.from.length > 0)).toBe(true);
  });

  it.each(DOCUMENTED.map((c) => [c.errorCode, c.status, c.from] as const))(
    'explains %s (%i, from %s) in words, with the right retry decision',
    (errorCode, status, _from) => {
      const [code, retryable, words] = EXPECTED[errorCode] ?? ['INTERNAL', false, /^$/];
      const error = toAtlasAppError(
        status,
        { error: status, errorCode, detail: DETAIL, reason: 'Reason', parameters: ['203.0.113.9'] },
        { operation: 'updating project roles', requiredRole: 'Project Owner' },
      );
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
      expect(error.message).toMatch(words);
      expect(error.message.endsWith(`(Atlas ${errorCode})`)).toBe(true);
      // Atlas's detail names IPs and ids: it goes to details, for approvers and logs, never the message.
      expect(error.message).not.toContain('203.0.113.9');
      expect(error.message).not.toContain('5f1a2b3c4d5e6f7a8b9c0d1e');
      expect(error.details).toMatchObject({ status, errorCode, detail: DETAIL });
    },
  );

  it.each([
    'IP_ADDRESS_NOT_ON_ACCESS_LIST',
    'IP_ADDRESS_NOT_ON_WHITELIST',
    'ORG_REQUIRES_ACCESS_LIST',
    'RESOURCE_REQUIRES_ACCESS_LIST',
  ])('explains %s as the access list, never as a role the key lacks', (errorCode) => {
    const error = toAtlasAppError(
      403,
      { error: 403, errorCode, detail: DETAIL },
      { operation: 'reading the project roles of alice@example.com', requiredRole: 'Project Read Only' },
    );
    expect(error.message).toContain('access list');
    expect(error.message).not.toContain('Project Read Only');
    expect(error.message).toContain("The key's roles are not the problem.");
  });

  it('says what it can for a code Atlas has not documented, from the status', () => {
    const call = { operation: 'updating project roles', requiredRole: 'Project Owner' };
    expect(toAtlasAppError(404, { errorCode: 'SOMETHING_NEW' }, call).message).toBe(
      'Atlas cannot find what updating project roles names: the project, organization or user may have been deleted. (Atlas SOMETHING_NEW)',
    );
    expect(toAtlasAppError(503, undefined, call)).toMatchObject({
      code: 'ATLAS_UNAVAILABLE',
      retryable: true,
    });
    expect(toAtlasAppError(403, { errorCode: 'SOMETHING_NEW' }, call).code).toBe('ATLAS_AUTH_FAILED');
  });

  it('tells which failures may mean something was deleted (to be confirmed), and which do not', () => {
    const say = (status: number, errorCode: string) =>
      mayMeanGone(toAtlasAppError(status, { errorCode }, { operation: 'x' }));
    expect(say(404, 'GROUP_NOT_FOUND')).toBe(true);
    expect(say(404, 'ORG_NOT_FOUND')).toBe(true);
    expect(say(404, 'RESOURCE_NOT_FOUND')).toBe(true);
    expect(say(404, 'USER_NOT_FOUND')).toBe(true);
    expect(say(401, 'NOT_IN_GROUP')).toBe(true);
    expect(say(403, 'IP_ADDRESS_NOT_ON_ACCESS_LIST')).toBe(false);
    expect(say(403, 'CANNOT_REMOVE_ALL_USER_ROLES')).toBe(false);
    expect(say(503, 'SERVICE_UNAVAILABLE')).toBe(false);
  });
});
