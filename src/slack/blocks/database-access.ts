import type { KnownBlock } from '@slack/types';
import { isDatabaseItem } from '../../lib/access-items.js';
import type { DatabaseOffer } from '../../policy/policy.js';
import type { AccessRequest, DatabaseGrant } from '../../requests/model.js';
import { escapeMrkdwn, slackDate, truncate } from '../mrkdwn.js';

/** Action ids of the grantee's buttons on a `db:` grant (their DM; value = the request id). */
export const DATABASE_ACTIONS = {
  /** Sets a new password on the grant's database user and shows it once, in a modal. */
  showPassword: 'db_password_show',
  /** Opens the modal that asks for an IP address or CIDR block for the project's access list. */
  addAddress: 'db_address_add',
} as const;

/** "`read` on `orders`" / "`read` on `orders.invoices`": one MongoDB role on its database (and collection). */
function describeRole(role: DatabaseGrant['roles'][number]): string {
  const where = role.collection === undefined ? role.db : `${role.db}.${role.collection}`;
  return `\`${escapeMrkdwn(role.role)}\` on \`${escapeMrkdwn(where)}\``;
}

/** How the grantee signs in, in words, for the approvers. */
function describeSignIn(grant: DatabaseGrant): string {
  switch (grant.auth) {
    case 'password':
      return 'a password Rolecall sets when they ask and shows once, to them only (never stored)';
    case 'oidc':
      return `their OIDC identity \`${escapeMrkdwn(grant.username)}\` (no password)`;
    case 'aws-iam':
      return `their AWS IAM principal \`${escapeMrkdwn(grant.username)}\` (no password)`;
  }
}

/**
 * What a `db:LEVEL` request grants, for its approval message: the level, each role on its database
 * (and collection), the clusters, how the grantee signs in, the access list, and that Atlas deletes
 * the database user itself at the end. Null for any other request, or before it was checked.
 */
export function buildDatabaseApprovalBlock(request: AccessRequest): KnownBlock | null {
  const grant = request.database;
  if (grant === null) return null;
  const lines = [
    `:file_cabinet: *Database access* \`db:${escapeMrkdwn(grant.level)}\`: database user \`${escapeMrkdwn(grant.username)}\``,
    `• *Roles*: ${grant.roles.map(describeRole).join(', ')}`,
    `• *Clusters*: ${grant.clusters.map((c) => `\`${escapeMrkdwn(c)}\``).join(', ')}`,
    `• *Signs in with*: ${describeSignIn(grant)}`,
    ...(grant.accessList === 'ask'
      ? [
          `• *IP access list*: the address they give${grant.addresses.length > 0 ? ` (so far ${grant.addresses.map((a) => `\`${escapeMrkdwn(a)}\``).join(', ')})` : ''}, until the grant ends`,
        ]
      : []),
    ':hourglass: Atlas deletes the database user itself at the end of the grant (its deleteAfterDate), even if Rolecall is down.',
  ];
  return {
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000), verbatim: true },
  };
}

/**
 * The "applied" notice of a `db:` grant: the database user it made, where, and when Atlas deletes it.
 * `by` is who approved it, already formatted.
 */
export function describeDatabaseApplied(request: AccessRequest, grant: DatabaseGrant, by: string): string {
  const end = request.grant?.revokeAt;
  const ends = end == null ? '' : ` Atlas deletes it itself ${slackDate(end)}, when the access ends.`;
  return `:white_check_mark: ${request.id} approved by ${by} and applied: database user \`${escapeMrkdwn(grant.username)}\` (\`db:${escapeMrkdwn(grant.level)}\`: ${grant.roles.map(describeRole).join(', ')}) on *${escapeMrkdwn(request.target.name)}*, clusters ${grant.clusters.map((c) => `\`${escapeMrkdwn(c)}\``).join(', ')}.${ends}`;
}

/**
 * The grantee's own steps in the DM of an applied `db:` grant: how to sign in and the buttons
 * "Show password" (password users) and "Add my IP address" (access list `ask`); [] for anything else.
 */
export function buildDatabaseGrantBlocks(request: AccessRequest): KnownBlock[] {
  const grant = request.database;
  if (grant === null || request.state !== 'applied' || request.endedEarly !== null) return [];
  // A dry run made no database user: there is nothing to sign in as, no password to set.
  if (request.grant?.dryRun !== undefined) return [];
  const lines: string[] = [
    grant.auth === 'password'
      ? `:key: Sign in as \`${escapeMrkdwn(grant.username)}\`. Press *Show password* to get its password: Rolecall sets a new one and shows it once, to you only; pressing it again replaces it.`
      : `:key: Sign in as \`${escapeMrkdwn(grant.username)}\` with your ${grant.auth === 'oidc' ? 'OIDC identity' : 'AWS IAM principal'}; there is no password.`,
  ];
  if (grant.accessList === 'ask') {
    lines.push(
      `:globe_with_meridians: Press *Add my IP address* to put the address you connect from on the IP access list of *${escapeMrkdwn(request.target.name)}* until the access ends.`,
    );
  }
  const buttons = [
    ...(grant.auth === 'password'
      ? [
          {
            type: 'button' as const,
            action_id: DATABASE_ACTIONS.showPassword,
            text: { type: 'plain_text' as const, text: 'Show password' },
            style: 'primary' as const,
            value: request.id,
          },
        ]
      : []),
    ...(grant.accessList === 'ask'
      ? [
          {
            type: 'button' as const,
            action_id: DATABASE_ACTIONS.addAddress,
            text: { type: 'plain_text' as const, text: 'Add my IP address' },
            value: request.id,
          },
        ]
      : []),
  ];
  return [
    { type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), 3000) } },
    ...(buttons.length > 0
      ? [{ type: 'actions' as const, block_id: `db:${request.id}`, elements: buttons }]
      : []),
  ];
}

/**
 * The request form's word on database access that asks for an address (access list `ask`), once a
 * `db:` level is chosen (or the target offers nothing else): where to give it. Null otherwise.
 */
export function buildDatabaseFormHint(
  offer: DatabaseOffer | undefined,
  chosenRoles: readonly string[],
): KnownBlock | null {
  if (offer === undefined || offer.accessList !== 'ask' || !chosenRoles.some(isDatabaseItem)) return null;
  return {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: ":globe_with_meridians: Database access here needs the address you connect from on the project's IP access list: once the access is applied, press *Add my IP address* in the message Rolecall sends you (it stays until the access ends).",
      },
    ],
  };
}
