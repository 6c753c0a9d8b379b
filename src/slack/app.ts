import { AsyncResource } from 'node:async_hooks';
import type { RequestListener } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver } from '@slack/bolt';
import type { FetchFunction } from '@slack/web-api';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import type { Continuity } from '../continuity/continuity.js';
import { AppError } from '../errors.js';
import { ANY_ID } from '../lib/ids.js';
import type { OffboardingService } from '../offboarding/offboarding-service.js';
import { withCorrelation } from '../ops/correlation.js';
import type { Foreground } from '../ops/foreground.js';
import type { Logger } from '../ops/logger.js';
import type { SlackRequestInfo, SlackRequestRunner } from '../ops/tracing-types.js';
import type { Policy } from '../policy/policy.js';
import type { Directory } from '../requests/ports.js';
import type { Receipts } from '../requests/receipts.js';
import type { RequestService } from '../requests/request-service.js';
import type { StepConfirmationStore } from '../requests/step-confirmations.js';
import type { ReviewService } from '../reviews/review-service.js';
import { createBoltLogger } from './bolt-logger.js';
import { describeErrorForSlack } from './error-reply.js';
import { registerAccessCommand } from './handlers/access-command.js';
import { type DatabaseJobs, registerDatabaseButtons } from './handlers/database-buttons.js';
import { registerDecisionHandlers } from './handlers/decide-request.js';
import { registerHomeTab } from './handlers/home-tab.js';
import { registerOffboardingButtons } from './handlers/offboarding-buttons.js';
import { registerRequestForm } from './handlers/request-form.js';
import { registerReviewButtons } from './handlers/review-buttons.js';
import { registerWorkflowStep } from './handlers/workflow-step.js';
import type { HomePublisher } from './home.js';
import { createReplier } from './respond.js';

/** What the Slack side needs from the composition root. */
export interface SlackAppDeps {
  /** ATLAS_DRY_RUN: replies through response_url say so too. @defaultValue false */
  readonly dryRun?: boolean;
  /** The fetch of Bolt's Web API clients (counts failed calls for the metrics). @defaultValue global fetch */
  readonly slackFetch?: FetchFunction;
  readonly service: RequestService;
  readonly reviews: ReviewService;
  readonly offboarding: OffboardingService;
  /** What Slack delivered and was acknowledged, until its work is done. */
  readonly receipts: Receipts;
  /** Slack requests not answered yet (HTTP mode): work after an ack lets them go first. */
  readonly foreground?: Foreground;
  /** Explains a click on a record the store lost (and raises the alarm). */
  readonly continuity: Continuity;
  /** Who a Slack user is (users.info, cached); shared with the service. */
  readonly directory: Directory;
  readonly policy: () => Policy;
  /** Publishes Home tabs (app_home_opened). */
  readonly home: HomePublisher;
  readonly logger: Logger;
  /** Workflow Builder steps' on-behalf requests waiting for the runner's confirmation. */
  readonly stepConfirmations: StepConfirmationStore;
  /** The grantee's database steps (Show password, Add my IP address), run by the workers. */
  readonly databaseJobs: DatabaseJobs;
  /** Tracing on: runs each Slack request in a span of its own (ops/tracing.ts). @defaultValue none */
  readonly traceRequests?: SlackRequestRunner;
}

/** The request, review or offboarding id a Slack payload names (a button's value, the command text). */
function correlationIdIn(body: unknown): string | undefined {
  const payload = body as { actions?: { value?: unknown }[]; text?: unknown } | undefined;
  const text = [payload?.actions?.[0]?.value, payload?.text].find((v) => typeof v === 'string');
  return typeof text === 'string' ? ANY_ID.exec(text)?.[0]?.toUpperCase() : undefined;
}

/** What a payload is, for its span: its kind and its command, action, callback or event. */
function requestInfoOf(body: unknown): SlackRequestInfo {
  const payload = body as
    | {
        type?: unknown;
        command?: unknown;
        actions?: { action_id?: unknown }[];
        view?: { callback_id?: unknown };
        callback_id?: unknown;
        event?: { type?: unknown };
      }
    | undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const kind = text(payload?.type) ?? (payload?.command === undefined ? 'unknown' : 'slash_command');
  const action =
    text(payload?.command) ??
    text(payload?.actions?.[0]?.action_id) ??
    text(payload?.view?.callback_id) ??
    text(payload?.callback_id) ??
    text(payload?.event?.type);
  return { kind, action, requestId: correlationIdIn(body) };
}

/** How many handlers may be past their ack at once; more wait their turn (see HandlerDeps.afterAck). */
const AFTER_ACK_CONCURRENCY = 8;

/** The Bolt app and how to run it. */
export interface SlackApp {
  /** HTTP mode: serves `POST /slack/events` (signature verified); undefined in Socket Mode. */
  readonly requestListener: RequestListener | undefined;
  /** Verifies the bot token (auth.test) and, in Socket Mode, connects. */
  start(): Promise<void>;
  /** Disconnects, then waits up to `graceMs` for the work it acknowledged (the sweeper answers what is left). */
  stop(graceMs?: number): Promise<void>;
}

/** Builds the Bolt app with the receiver the configuration asks for and every handler registered. */
export function createSlackApp(config: Config['slack'], deps: SlackAppDeps): SlackApp {
  const logger = deps.logger.child({ component: 'slack' });
  const boltLogger = createBoltLogger(logger);
  const clientOptions = {
    slackApiUrl: config.apiUrl,
    retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1_000 },
    ...(deps.slackFetch ? { fetch: deps.slackFetch } : {}),
  };
  const socketMode = config.appToken !== undefined;
  const receiver = socketMode
    ? new SocketModeReceiver({
        appToken: config.appToken ?? '',
        logger: boltLogger,
        installerOptions: { clientOptions },
      })
    : new HTTPReceiver({
        signingSecret: config.signingSecret ?? '',
        endpoints: '/slack/events',
        logger: boltLogger,
        signatureVerification: true,
      });
  const app = new App({
    token: config.botToken,
    receiver,
    logger: boltLogger,
    clientOptions,
    deferInitialization: true,
    extendedErrorHandler: true,
  });

  const replier = createReplier({
    client: app.client,
    slackApiUrl: config.apiUrl,
    logger,
    dryRun: deps.dryRun ?? false,
  });
  const afterAck = pLimit(AFTER_ACK_CONCURRENCY);
  const handlerDeps = {
    ...deps,
    logger,
    replier,
    directory: deps.directory,
    // Bound, so work queued behind others keeps the correlation id of the payload it serves.
    afterAck: <T>(work: () => Promise<T>) =>
      afterAck(
        AsyncResource.bind(async () => {
          // Acks first: what follows one waits while other Slack requests wait for theirs (bounded).
          await deps.foreground?.quiet();
          return work();
        }),
      ),
  };
  // Every log line about a payload that names a request, review or offboarding carries its id;
  // with tracing on, each Slack request is a span (in the trace of the request it names).
  const traceRequests = deps.traceRequests;
  app.use(async ({ body, next }) => {
    await (traceRequests
      ? traceRequests(requestInfoOf(body), next)
      : withCorrelation(correlationIdIn(body), next));
  });
  registerAccessCommand(app, handlerDeps);
  registerDecisionHandlers(app, handlerDeps);
  registerHomeTab(app, handlerDeps);
  registerRequestForm(app, handlerDeps);
  const workflowSteps = registerWorkflowStep(app, handlerDeps);
  registerReviewButtons(app, handlerDeps);
  registerOffboardingButtons(app, handlerDeps);
  registerDatabaseButtons(app, handlerDeps);

  app.error(async ({ error, body }: { error: Error & { original?: unknown }; body?: unknown }) => {
    const text = describeErrorForSlack(error.original ?? error, logger);
    const payload = body as
      | { response_url?: unknown; user_id?: unknown; user?: { id?: unknown } }
      | undefined;
    const userId = typeof payload?.user_id === 'string' ? payload.user_id : payload?.user?.id;
    if (typeof userId === 'string') {
      const responseUrl = typeof payload?.response_url === 'string' ? payload.response_url : null;
      await replier.reply(userId, responseUrl, { text });
    }
  });

  return {
    requestListener: receiver instanceof HTTPReceiver ? receiver.requestListener : undefined,
    async start() {
      try {
        await app.init();
      } catch (cause) {
        const code = (cause as { data?: { error?: string } }).data?.error;
        throw new AppError(
          'SLACK_FAILED',
          code === undefined
            ? `Cannot reach Slack at ${config.apiUrl} to check SLACK_BOT_TOKEN: ${(cause as Error).message}`
            : `Slack rejected SLACK_BOT_TOKEN (${code}); copy the Bot User OAuth Token from the app's OAuth & Permissions page.`,
          { cause },
        );
      }
      if (socketMode) await app.start();
      workflowSteps.start();
    },
    async stop(graceMs = 25_000) {
      await workflowSteps.stop();
      if (socketMode) await app.stop();
      // What was acknowledged finishes before Redis closes (the HTTP listener is closed by now).
      for (
        let waited = 0;
        afterAck.activeCount + afterAck.pendingCount > 0 && waited < graceMs;
        waited += 20
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (afterAck.activeCount + afterAck.pendingCount > 0) {
        logger.warn('stopping with acknowledged Slack work still running', {
          running: afterAck.activeCount,
          waiting: afterAck.pendingCount,
        });
      }
    },
  };
}
