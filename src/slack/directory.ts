import type { WebClient } from '@slack/web-api';
import type { Person, Standing } from '../access/actions.js';
import type { Logger } from '../ops/logger.js';
import type { Directory } from '../requests/ports.js';
import { createInstallationReader, type Installation } from './install.js';

/** Options for {@link createSlackDirectory}. */
export interface DirectoryOptions {
  readonly logger: Logger;
  /**
   * How long one users.info answer is trusted, in ms.
   * @defaultValue 60_000
   */
  readonly ttlMs?: number;
  readonly now?: () => number;
  /** What the token is installed on. @defaultValue auth.test through the client, asked once */
  readonly installation?: () => Promise<Installation>;
}

interface SlackUser {
  readonly id?: string;
  readonly team_id?: string;
  readonly deleted?: boolean;
  readonly is_bot?: boolean;
  readonly is_app_user?: boolean;
  readonly is_restricted?: boolean;
  readonly is_ultra_restricted?: boolean;
  readonly is_stranger?: boolean;
  /** Set for members of an Enterprise Grid organization (api.slack.com/types/user). */
  readonly enterprise_user?: { readonly enterprise_id?: string };
  readonly profile?: { readonly email?: string };
  /** The person's time zone, e.g. `Europe/Amsterdam` (api.slack.com/types/user). */
  readonly tz?: string;
}

/**
 * The standing of a users.info user (api.slack.com/types/user) for the installation: on a workspace
 * install, people of another team are external; on an org-wide one, people outside the organization.
 */
export function standingOf(user: SlackUser, install: Installation): Standing {
  if (user.deleted) return 'deactivated';
  if (user.is_bot || user.is_app_user || user.id === 'USLACKBOT') return 'bot';
  const outside = install.orgWide
    ? install.enterpriseId === null || user.enterprise_user?.enterprise_id !== install.enterpriseId
    : user.team_id !== undefined && user.team_id !== install.teamId;
  if (user.is_stranger || outside) return 'external';
  if (user.is_restricted || user.is_ultra_restricted) return 'guest';
  return 'member';
}

/**
 * The directory over the Slack Web API; the bot's own team (or organization, when installed
 * org-wide) comes from auth.test, asked once.
 */
export function createSlackDirectory(client: WebClient, options: DirectoryOptions): Directory {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { person: Person; at: number }>();
  const installation = options.installation ?? createInstallationReader(client);

  return {
    async person(userId, payloadTeamId) {
      const cached = cache.get(userId);
      let person: Person;
      try {
        const install = await installation();
        if (cached && now() - cached.at < ttlMs) {
          person = cached.person;
        } else {
          const answer = await client.users.info({ user: userId }).catch((error: unknown) => {
            if ((error as { data?: { error?: string } }).data?.error === 'user_not_found') return undefined;
            throw error;
          });
          const user = answer?.user as SlackUser | undefined;
          // No such person, or an answer about someone else: never a member.
          if (answer === undefined) return { id: userId, standing: 'missing', email: null };
          if (!user || user.id !== userId) return { id: userId, standing: 'unknown', email: null };
          person = {
            id: userId,
            standing: standingOf(user, install),
            email: user.profile?.email?.trim().toLowerCase() || null,
            ...(user.tz ? { timeZone: user.tz } : {}),
          };
          cache.set(userId, { person, at: now() });
        }
        if (payloadTeamId === undefined) return person;
        // An org-wide install hears from every workspace of the organization; who belongs to it is
        // settled above, from the person's own user object.
        if (!install.orgWide && payloadTeamId !== install.teamId) {
          return { ...person, standing: 'external', teamId: payloadTeamId };
        }
        return { ...person, teamId: payloadTeamId };
      } catch (error) {
        options.logger.warn('could not look a person up in Slack; treating them as unknown', {
          userId,
          error,
        });
        return { id: userId, standing: 'unknown', email: null };
      }
    },
  };
}
