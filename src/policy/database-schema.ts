import { z } from 'zod';
import { DATABASE_LEVEL } from '../lib/access-items.js';

/** A cluster name as Atlas allows it (letters, digits, hyphens; at most 64). */
const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

const databaseRole = z
  .object(
    {
      role: z
        .string({ error: 'role is the MongoDB role, e.g. read or readWrite' })
        .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'role must be a MongoDB role name such as read or readWrite')
        .describe('A MongoDB built-in or custom role: read, readWrite, dbAdmin, …'),
      db: z
        .string({ error: 'db is the database the role applies to' })
        .regex(/^[^/\\. "$]{1,64}$/, 'db must be a database name (no /, \\, ., space, " or $)')
        .describe('The database the role applies to.'),
      collection: z
        .string()
        .min(1)
        .max(120)
        .describe('Narrows the role to one collection of that database.')
        .optional(),
    },
    { error: 'each database role is a mapping with role and db' },
  )
  .strict();

const level = z
  .object(
    {
      roles: z
        .array(databaseRole, { error: 'an access level needs roles: [{role, db}]' })
        .min(1, 'an access level needs at least one role'),
      clusters: z
        .array(z.string().regex(CLUSTER_NAME, 'clusters lists cluster names of this project'), {
          error: 'an access level needs clusters: the clusters of this project it opens',
        })
        .min(1, 'an access level needs at least one cluster (no scopes would open every cluster)')
        .describe('The clusters of this project the database user may reach (its scopes).'),
    },
    { error: 'each access level is a mapping with roles and clusters' },
  )
  .strict();

/** `database:` on a project target: the access levels people may ask for, and how they sign in. */
export const databaseSchema = z
  .object(
    {
      levels: z
        .record(
          z.string().regex(DATABASE_LEVEL, 'level names are lower-case letters, digits, "_" or "-"'),
          level,
        )
        .refine((levels) => Object.keys(levels).length > 0, 'levels needs at least one access level')
        .describe('Named access levels: /atlas-access request db:LEVEL on TARGET for 2h because …'),
      auth: z
        .enum(['password', 'oidc', 'aws-iam'], { error: 'auth is password, oidc or aws-iam' })
        .describe(
          'How the grantee signs in: a generated password shown once to them (password), their workforce identity (oidc), or an AWS IAM principal (aws-iam). Identities without a secret are preferred.',
        ),
      oidcIdentityProvider: z
        .string()
        .regex(/^[a-f0-9]{20}$/, 'oidcIdentityProvider is the 20-hex id of the Atlas identity provider')
        .describe('auth: oidc: the Atlas workforce identity provider id; the user is IDP_ID/their email.')
        .optional(),
      awsIamPrincipal: z
        .string()
        .regex(
          /^arn:aws:iam::\d{12}:(user|role)\/.*\{user\}/,
          'awsIamPrincipal is an IAM ARN with {user} in it',
        )
        .describe(
          "auth: aws-iam: the ARN of the grantee's principal, {user} standing for their email's local part (arn:aws:iam::123456789012:role/{user}).",
        )
        .optional(),
      accessList: z
        .enum(['ask', 'none'], { error: 'accessList is ask or none' })
        .describe(
          "ask: Rolecall asks the grantee for their IP address and adds it to the project's IP access list for the grant (deleteAfterDate at its end); none: the access list is managed elsewhere.",
        )
        .optional(),
    },
    { error: 'database must be a mapping with levels and auth' },
  )
  .strict()
  .superRefine((d, ctx) => {
    if (d.auth === 'oidc' && d.oidcIdentityProvider === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['oidcIdentityProvider'],
        message: 'auth: oidc needs oidcIdentityProvider',
      });
    }
    if (d.auth === 'aws-iam' && d.awsIamPrincipal === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['awsIamPrincipal'],
        message: 'auth: aws-iam needs awsIamPrincipal',
      });
    }
  })
  .describe(
    'Temporary database access on this project (Atlas v2 APIs only): a database user created for each grant with deleteAfterDate at its end, so it ends even if Rolecall is down; at most 7 days.',
  );

/** `database:` as the schema hands it over. */
export type PolicyFileDatabase = z.infer<typeof databaseSchema>;
