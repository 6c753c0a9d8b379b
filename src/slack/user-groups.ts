import type { WebClient } from '@slack/web-api';
import type { Logger } from '../ops/logger.js';
import type { GroupMembers, UnconfirmedReason, UserGroups } from '../requests/ports.js';
import { createInstallationReader, type Installation } from './install.js';

/** Options for {@link createSlackUserGroups}. */
export interface SlackUserGroupsOptions {
  readonly logger: Logger;
  /**
   * How old members may be for a decision, and how long an answer is served before Slack is asked
   * again, in ms (USER_GROUP_MAX_AGE); 0 asks Slack every time.
   * @defaultValue 60_000
   */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
  /** What the token is installed on. @defaultValue auth.test through `client`, asked once */
  readonly installation?: () => Promise<Installation>;
}

/**
 * Slack's answers meaning the group has nobody in it for Rolecall: `no_such_subteam` ("No usergroup
 * found with the given Id", https://api.slack.com/methods/usergroups.users.list) for a deleted group,
 * and for a disabled one, since Rolecall never sets `include_disabled` (which would list the members
 * a disabled group keeps).
 */
const GONE = new Set(['no_such_subteam']);

type Seen = { readonly users: ReadonlySet<string>; readonly at: number; readonly gone: boolean };
type Lookup = { readonly users: ReadonlySet<string> } | { readonly unconfirmed: UnconfirmedReason };

/** Slack's error string of a failed Web API call (`ratelimited`, `no_such_subteam`…), if any. */
function slackErrorOf(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | null)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * Slack user groups through `usergroups.users.list` (scope `usergroups:read`). An answer is served
 * for `maxAgeMs` (which keeps the Tier 2 rate limit in check); then Slack is asked again. When Slack
 * cannot answer, a decision gets the group as unconfirmed (never members older than `maxAgeMs`),
 * while a list or a view gets the members last seen. A disabled or deleted group counts as nobody.
 * On an org-wide install the group is read in the workspace the action came from (`team_id`, which
 * Slack requires with an org token); without one it is unconfirmed for a decision.
 */
export function createSlackUserGroups(client: WebClient, options: SlackUserGroupsOptions): UserGroups {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const installation = options.installation ?? createInstallationReader(client);
  const { logger } = options;
  /** By workspace and group on an org-wide install, by group otherwise. */
  const cache = new Map<string, Seen>();
  /** The members last seen of each group in any workspace: what a view without one may show. */
  const lastSeen = new Map<string, Seen>();
  /** Reads in flight, so concurrent checks of one group make one call. */
  const reading = new Map<string, Promise<Seen>>();

  const read = (key: string, id: string, teamId: string | undefined): Promise<Seen> => {
    const running = reading.get(key);
    if (running) return running;
    const call = client.usergroups.users
      .list({ usergroup: id, ...(teamId === undefined ? {} : { team_id: teamId }) })
      .then(
        (answer): Seen => ({ users: new Set(answer.users ?? []), at: now(), gone: false }),
        (error: unknown): Seen => {
          if (!GONE.has(slackErrorOf(error) ?? '')) throw error;
          return { users: new Set(), at: now(), gone: true };
        },
      )
      .then((seen) => {
        if (seen.gone && !cache.get(key)?.gone) {
          logger.warn('a user group of the policy is disabled or deleted in Slack; it counts as nobody', {
            userGroup: id,
            ...(teamId === undefined ? {} : { teamId }),
          });
        }
        cache.set(key, seen);
        if (!seen.gone) lastSeen.set(id, seen);
        return seen;
      })
      .finally(() => reading.delete(key));
    reading.set(key, call);
    return call;
  };

  const lookUp = async (
    id: string,
    fresh: boolean,
    teamId: string | undefined,
    install: Installation,
  ): Promise<Lookup> => {
    if (install.orgWide && teamId === undefined) {
      const seen = lastSeen.get(id);
      if (seen && !fresh) return { users: seen.users };
      logger.debug('org-wide install: a user group cannot be read without the workspace of an action', {
        userGroup: id,
      });
      return { unconfirmed: 'no-workspace' };
    }
    const key = install.orgWide ? `${teamId}/${id}` : id;
    const cached = cache.get(key);
    if (cached && now() - cached.at < maxAgeMs) return { users: cached.users };
    try {
      return { users: (await read(key, id, install.orgWide ? teamId : undefined)).users };
    } catch (error) {
      const context = {
        userGroup: id,
        ...(install.orgWide && teamId !== undefined ? { teamId } : {}),
        ...(cached ? { seenAt: new Date(cached.at).toISOString() } : {}),
        error,
      };
      if (cached && !fresh) {
        logger.warn('Slack did not answer for a user group; showing the members last seen', context);
        return { users: cached.users };
      }
      logger.warn(
        cached
          ? 'Slack did not answer for a user group, and the members last seen are too old to decide on; decisions that need it are refused until Slack answers'
          : 'Slack did not answer for a user group never seen before; nothing is decided on it until Slack answers',
        context,
      );
      return { unconfirmed: 'unreachable' };
    }
  };

  return {
    async members(groupIds, { fresh, teamId }): Promise<GroupMembers> {
      let install: Installation;
      try {
        install = await installation();
      } catch (error) {
        logger.warn('Slack did not answer auth.test; user groups cannot be read', { error });
        return { known: new Map(), unconfirmed: new Map(groupIds.map((id) => [id, 'unreachable'])) };
      }
      const answers = await Promise.all(
        groupIds.map(async (id) => [id, await lookUp(id, fresh, teamId, install)] as const),
      );
      const known = new Map<string, ReadonlySet<string>>();
      const unconfirmed = new Map<string, UnconfirmedReason>();
      for (const [id, answer] of answers) {
        if ('users' in answer) known.set(id, answer.users);
        else unconfirmed.set(id, answer.unconfirmed);
      }
      return { known, unconfirmed };
    },
  };
}
