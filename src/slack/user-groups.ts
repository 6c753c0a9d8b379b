import type { WebClient } from '@slack/web-api';
import type { Logger } from '../ops/logger.js';
import type { UserGroups } from '../requests/policy-gate.js';

/** Options for {@link createSlackUserGroups}. */
export interface SlackUserGroupsOptions {
  readonly logger: Logger;
  /**
   * How long an answer from Slack is trusted when no decision hangs on it, in ms.
   * @defaultValue 60_000
   */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * Slack user groups through `usergroups.users.list` (scope `usergroups:read`), cached for at most
 * `ttlMs`. A decision asks again. When Slack cannot be reached, the last members seen are used and the
 * log says so; a group never seen is left out, which means nobody (fail closed).
 */
export function createSlackUserGroups(client: WebClient, options: SlackUserGroupsOptions): UserGroups {
  const ttlMs = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { users: ReadonlySet<string>; at: number }>();

  const fetchGroup = async (id: string, fresh: boolean): Promise<ReadonlySet<string> | undefined> => {
    const cached = cache.get(id);
    if (cached && !fresh && now() - cached.at < ttlMs) return cached.users;
    try {
      const answer = await client.usergroups.users.list({ usergroup: id });
      const users = new Set(answer.users ?? []);
      cache.set(id, { users, at: now() });
      return users;
    } catch (error) {
      if (cached) {
        options.logger.warn('Slack did not answer for a user group; using the members last seen', {
          userGroup: id,
          seenAt: new Date(cached.at).toISOString(),
          error,
        });
        return cached.users;
      }
      options.logger.warn('Slack did not answer for a user group never seen before; it counts as nobody', {
        userGroup: id,
        error,
      });
      return undefined;
    }
  };

  return {
    async members(groupIds, { fresh }) {
      const answers = await Promise.all(
        groupIds.map(async (id) => [id, await fetchGroup(id, fresh)] as const),
      );
      const out = new Map<string, ReadonlySet<string>>();
      for (const [id, users] of answers) if (users) out.set(id, users);
      return out;
    },
  };
}
