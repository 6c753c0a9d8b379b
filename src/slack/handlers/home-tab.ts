import type { App } from '@slack/bolt';
import type { HomePublisher } from '../home.js';
import type { HandlerDeps } from './handler-deps.js';

/**
 * The Home tab: `app_home_opened` (Events API, tab `home`) publishes the person's Home and remembers
 * them as a viewer, so later changes refresh it. Its buttons are the channel's (same action ids and
 * handlers), so they re-check authorization on every click.
 */
export function registerHomeTab(app: App, deps: HandlerDeps & { readonly home: HomePublisher }): void {
  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await deps.afterAck(async () => {
      try {
        await deps.home.publish(event.user, { opened: true });
      } catch (error) {
        // Nobody waits on this reply; the next change or opening tries again.
        deps.logger.warn('could not publish the home tab', { userId: event.user, error });
      }
    });
  });
}
