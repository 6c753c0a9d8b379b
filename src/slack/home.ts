import { createHash } from 'node:crypto';
import type { WebClient } from '@slack/web-api';
import type { Actor } from '../access/actions.js';
import { AppError } from '../errors.js';
import type { RedisClient } from '../lib/redis-client.js';
import type { RedisKeys } from '../lib/redis-keys.js';
import type { Logger } from '../ops/logger.js';
import type { HomeData } from '../requests/home.js';
import type { Directory } from '../requests/ports.js';
import { buildHomeView } from './blocks/home-view.js';

/** Publishes a person's Home tab. */
export interface HomePublisher {
  /**
   * Builds and publishes the Home tab for `userId` (views.publish). Skips the call when the view is
   * the one last published (a hash per person, kept a day). `opened`: the person is looking now, so
   * they are remembered as a viewer to refresh on later changes, and the view is always sent.
   */
  publish(
    userId: string,
    options?: { readonly opened?: boolean },
  ): Promise<'published' | 'unchanged' | 'skipped'>;
}

/** Dependencies of {@link createHomePublisher}. */
export interface HomePublisherDeps {
  readonly client: WebClient;
  readonly redis: RedisClient;
  readonly keys: RedisKeys;
  readonly directory: Directory;
  /** Reads what the Home shows a person (requests/home.ts). */
  readonly read: (actor: Actor) => Promise<HomeData>;
  readonly logger: Logger;
}

/** How long someone counts as a Home viewer after opening it, in ms: 7 days. */
export const VIEWER_MS = 7 * 24 * 3600 * 1000;

/** The Home tab over views.publish, for the bot (tab opened) and the workers (something changed). */
export function createHomePublisher(deps: HomePublisherDeps): HomePublisher {
  return {
    async publish(userId, options = {}) {
      const actor = await deps.directory.person(userId);
      // Slack could not be asked: try again later, keep them as a viewer.
      if (actor.standing === 'unknown') {
        throw new AppError('SLACK_FAILED', `Slack did not say who ${userId} is; the Home tab waits.`, {
          retryable: true,
        });
      }
      // Deactivated, bots, other workspaces, gone: nothing to show, and nothing to keep for them.
      if (actor.standing !== 'member' && actor.standing !== 'guest') {
        await deps.redis.zrem(deps.keys.homeViewers, userId);
        return 'skipped';
      }
      const view = buildHomeView(await deps.read(actor), userId);
      const json = JSON.stringify(view);
      const hash = createHash('sha256').update(json).digest('hex').slice(0, 16);
      const key = deps.keys.homeView(userId);
      if (options.opened) {
        await deps.redis.zadd(deps.keys.homeViewers, Date.now(), userId);
      } else if ((await deps.redis.get(key)) === hash) {
        return 'unchanged';
      }
      await deps.client.views.publish({ user_id: userId, view });
      await deps.redis.set(key, hash, 'PX', 24 * 3600 * 1000);
      deps.logger.debug('home tab published', { userId, blocks: view.blocks.length });
      return 'published';
    },
  };
}
