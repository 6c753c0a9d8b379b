import { describe, expect, it } from 'vitest';
import type { DatabaseOffer } from '../../src/policy/policy.js';
import type { DatabaseGrant } from '../../src/requests/model.js';
import {
  buildDatabaseApprovalBlock,
  buildDatabaseFormHint,
  buildDatabaseGrantBlocks,
} from '../../src/slack/blocks/database-access.js';
import {
  buildAddressModal,
  buildPasswordModal,
  buildPasswordRefusedModal,
  buildPasswordWaitModal,
} from '../../src/slack/blocks/database-modals.js';
import { expectValidMessageBlocks, expectValidModal } from '../support/block-kit.js';
import { accessRequest } from '../support/request-fixture.js';

const GRANT: DatabaseGrant = {
  level: 'orders-read',
  roles: [{ role: 'read', db: 'orders' }],
  clusters: ['orders-cluster'],
  auth: 'password',
  username: 'rc-alice-orders-read-x',
  accessList: 'ask',
  addresses: [],
};

const request = (database: DatabaseGrant, applied = true) =>
  accessRequest({
    id: 'AR-2Q8ZK4M',
    state: applied ? 'applied' : 'pending',
    requesterId: 'U0ALICE',
    granteeId: 'U0ALICE',
    granteeEmail: 'alice@example.com',
    target: { kind: 'project', id: '5f1a2b3c4d5e6f7a8b9c0d1e', name: 'payments-<prod>' },
    roles: [`db:${database.level}`],
    database,
    ...(applied
      ? {
          grant: {
            rolesAfter: [],
            appliedAt: 1_000,
            revokeAt: 3_601_000,
            held: [`db:${database.level}`],
            joined: [],
            outside: [],
            addedToProject: false,
          },
        }
      : {}),
  });

describe('buildDatabaseApprovalBlock', () => {
  it('says how an OIDC or AWS IAM grantee signs in, without a password, when the auth is an identity', () => {
    const oidc = buildDatabaseApprovalBlock(
      request({ ...GRANT, auth: 'oidc', username: '0123456789abcdef0123/alice@example.com' }, false),
    );
    const iam = buildDatabaseApprovalBlock(
      request({ ...GRANT, auth: 'aws-iam', username: 'arn:aws:iam::123456789012:role/alice' }, false),
    );
    expectValidMessageBlocks([oidc, iam]);
    expect(JSON.stringify(oidc)).toContain('their OIDC identity `0123456789abcdef0123/alice@example.com`');
    expect(JSON.stringify(iam)).toContain('their AWS IAM principal `arn:aws:iam::123456789012:role/alice`');
  });

  it('gives nothing when the request is not database access', () => {
    expect(buildDatabaseApprovalBlock({ ...request(GRANT), database: null })).toBeNull();
  });
});

describe('buildDatabaseGrantBlocks', () => {
  it('offers only the buttons the policy gives when the grant is applied', () => {
    const both = buildDatabaseGrantBlocks(request(GRANT));
    const neither = buildDatabaseGrantBlocks(request({ ...GRANT, auth: 'oidc', accessList: 'none' }));
    expectValidMessageBlocks(both);
    expectValidMessageBlocks(neither);
    const ids = (blocks: unknown) =>
      [...JSON.stringify(blocks).matchAll(/"action_id":"([a-z_]+)"/g)].map((m) => m[1]);
    expect(ids(both)).toEqual(['db_password_show', 'db_address_add']);
    expect(ids(neither)).toEqual([]);
    expect(buildDatabaseGrantBlocks(request(GRANT, false))).toEqual([]);
  });
});

describe('buildDatabaseFormHint', () => {
  const offer: DatabaseOffer = { levels: {}, auth: 'password', accessList: 'ask' };

  it('points at Add my IP address when a db: level is chosen on a target that asks for addresses', () => {
    expect(JSON.stringify(buildDatabaseFormHint(offer, ['db:orders-read']))).toContain('*Add my IP address*');
    expect(buildDatabaseFormHint(offer, ['GROUP_READ_ONLY'])).toBeNull();
    expect(buildDatabaseFormHint({ ...offer, accessList: 'none' }, ['db:orders-read'])).toBeNull();
  });
});

describe('database modals', () => {
  it('fit Slack’s modal schema, and the target name in the address hint stays plain text', () => {
    const modals = [
      buildPasswordWaitModal('AR-2Q8ZK4M', 'rc-alice'),
      buildPasswordModal({
        requestId: 'AR-2Q8ZK4M',
        username: 'rc-alice',
        password: 'Ab3'.repeat(10),
        endsAt: 1,
      }),
      buildPasswordRefusedModal('AR-2Q8ZK4M', ':information_source: AR-2Q8ZK4M is not active any more.'),
      buildAddressModal('AR-2Q8ZK4M', 'payments-<prod>'),
    ];
    for (const modal of modals) expectValidModal(modal);
    expect(JSON.stringify(modals[3])).toContain('IP access list of payments-<prod> until AR-2Q8ZK4M ends');
  });
});
