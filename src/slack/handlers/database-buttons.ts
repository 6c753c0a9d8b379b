import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { ModalView } from '@slack/types';
import type { Actor } from '../../access/actions.js';
import { describeTooWide, isTooWideForGrantee, normalizeCidr } from '../../atlas/cidr.js';
import { AppError, isAppError } from '../../errors.js';
import { parseId } from '../../lib/ids.js';
import type { AccessRequest, DatabaseGrant } from '../../requests/model.js';
import { DATABASE_ACTIONS } from '../blocks/database-access.js';
import {
  ADDRESS_FIELD,
  ADDRESS_MODAL,
  buildAddressModal,
  buildDatabaseNoticeModal,
  buildPasswordRefusedModal,
  buildPasswordWaitModal,
} from '../blocks/database-modals.js';
import { labelDryRun } from '../dry-run-label.js';
import { describeClickError, describeErrorForSlack } from '../error-reply.js';
import type { HandlerDeps } from './handler-deps.js';
import { handleClick } from './received.js';

/** Database access work the bot hands to the workers (adapter: jobs/database-processor.ts `createDatabaseJobs`). */
export interface DatabaseJobs {
  /** A new password on the grant's database user, shown in the grantee's open modal `viewId`. */
  reveal(requestId: string, userId: string, viewId: string): Promise<void>;
  /** The grantee's address (a checked IP address or CIDR block) on the project's IP access list. */
  address(requestId: string, userId: string, address: string): Promise<void>;
}

/** What the database handlers need beyond every handler's dependencies. */
export interface DatabaseHandlerDeps extends HandlerDeps {
  readonly databaseJobs: DatabaseJobs;
}

/** What the modal's input says when it is not an address. */
export const NOT_AN_ADDRESS = 'Type an IP address or CIDR block, e.g. 203.0.113.7 or 203.0.113.0/24.';

/**
 * The grantee's own `db:` grant, or an AppError in words: someone else (even one who may see the
 * request), a request that is not database access, one that is over, or a step its policy does not
 * offer (`password` for Show password, `ask` for Add my IP address). The worker checks again.
 */
async function grantOfGrantee(
  deps: HandlerDeps,
  id: string,
  actor: Actor,
  step: 'password' | 'address',
): Promise<{ request: AccessRequest; grant: DatabaseGrant }> {
  const { request } = await deps.service.status(id, actor);
  if (request.granteeId !== actor.id) {
    throw new AppError('NOT_ALLOWED', `Only the person ${id} grants database access to can do this.`);
  }
  const grant = request.database;
  if (grant === null) throw new AppError('NOT_ALLOWED', `${id} is not database access.`);
  const active = request.state === 'applied' && request.endedEarly === null;
  const waiting = ['submitted', 'pending', 'approved'].includes(request.state);
  if (!active && !(step === 'address' && waiting)) {
    throw new AppError('REQUEST_STATE_CONFLICT', `${id} is not active any more; ask for access again.`);
  }
  if (step === 'password' && grant.auth !== 'password') {
    throw new AppError('NOT_ALLOWED', `${id} signs in as ${grant.username}, with no password.`);
  }
  if (step === 'address' && grant.accessList !== 'ask') {
    throw new AppError('NOT_ALLOWED', `${request.target.name}'s IP access list is not managed by Rolecall.`);
  }
  return { request, grant };
}

/**
 * "Show password" and "Add my IP address" on a `db:` grant's DM, and the address modal. Thin: ack,
 * check the value, resolve the person, let only the grantee through, open a modal, queue the work
 * for a worker (the bot holds no Atlas credential), answer. No password ever passes through here.
 */
export function registerDatabaseButtons(app: App, deps: DatabaseHandlerDeps): void {
  const { logger, directory } = deps;
  // A view sent as an ack's answer never passes the Web API client, so it is labelled here.
  const notice = (title: string, words: string): ModalView => {
    const view = buildDatabaseNoticeModal(title, words);
    return deps.dryRun ? (labelDryRun({ view }).view as ModalView) : view;
  };
  const click = (actionId: string, label: string) => (action: ButtonAction) => ({
    actionId,
    target: parseId('AR', action.value),
    what: (id: string) => `${label} on ${id}`,
    notOurs: ':warning: That button does not point at a Rolecall request.',
    opensModal: true,
  });

  app.action<BlockAction<ButtonAction>>(DATABASE_ACTIONS.showPassword, ({ ack, body, action, client }) =>
    handleClick(
      deps,
      { ack: () => ack(), body, ...click(DATABASE_ACTIONS.showPassword, 'Show password')(action) },
      async (id, actor) => {
        const { grant } = await grantOfGrantee(deps, id, actor, 'password');
        const opened = await client.views.open({
          trigger_id: body.trigger_id,
          view: buildPasswordWaitModal(id, grant.username),
        });
        const viewId = opened.view?.id;
        if (viewId === undefined) {
          throw new AppError(
            'SLACK_FAILED',
            'Slack opened no window for the password; press the button again.',
          );
        }
        try {
          await deps.databaseJobs.reveal(id, actor.id, viewId);
        } catch (error) {
          await client.views.update({
            view_id: viewId,
            view: buildPasswordRefusedModal(id, describeErrorForSlack(error, logger)),
          });
        }
        return undefined;
      },
    ),
  );

  app.action<BlockAction<ButtonAction>>(DATABASE_ACTIONS.addAddress, ({ ack, body, action, client }) =>
    handleClick(
      deps,
      { ack: () => ack(), body, ...click(DATABASE_ACTIONS.addAddress, 'Add my IP address')(action) },
      async (id, actor) => {
        const { request } = await grantOfGrantee(deps, id, actor, 'address');
        await client.views.open({
          trigger_id: body.trigger_id,
          view: buildAddressModal(id, request.target.name),
        });
        return undefined;
      },
    ),
  );

  app.view(ADDRESS_MODAL, async ({ ack, view, body }) => {
    const typed = view.state.values[ADDRESS_FIELD]?.value?.value ?? '';
    const cidr = normalizeCidr(typed);
    if (cidr === undefined) {
      await ack({ response_action: 'errors', errors: { [ADDRESS_FIELD]: NOT_AN_ADDRESS } });
      return;
    }
    if (isTooWideForGrantee(cidr)) {
      await ack({ response_action: 'errors', errors: { [ADDRESS_FIELD]: describeTooWide(cidr) } });
      return;
    }
    try {
      const id = parseId('AR', view.private_metadata);
      if (id === undefined) {
        throw new AppError('REQUEST_NOT_FOUND', 'This form does not point at a Rolecall request.');
      }
      const actor = await directory.person(body.user.id, body.team?.id ?? body.user.team_id);
      await grantOfGrantee(deps, id, actor, 'address');
      await deps.databaseJobs.address(id, actor.id, cidr);
      await ack({
        response_action: 'update',
        view: notice(
          'Adding your address',
          `:hourglass_flowing_sand: Adding ${cidr} to the IP access list for ${id}. Rolecall tells you in a direct message once it is there.`,
        ),
      });
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({
        response_action: 'update',
        view: notice(
          'Not added',
          await describeClickError(
            error,
            { continuity: deps.continuity, actorId: body.user.id, action: 'db-address' },
            logger,
          ),
        ),
      });
    }
  });
}
