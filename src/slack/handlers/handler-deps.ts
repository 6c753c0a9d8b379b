import type { Continuity } from '../../continuity/continuity.js';
import type { OffboardingService } from '../../offboarding/offboarding-service.js';
import type { Logger } from '../../ops/logger.js';
import type { Policy } from '../../policy/policy.js';
import type { Directory } from '../../requests/ports.js';
import type { Receipts } from '../../requests/receipts.js';
import type { RequestService } from '../../requests/request-service.js';
import type { StepConfirmationStore } from '../../requests/step-confirmations.js';
import type { ReviewService } from '../../reviews/review-service.js';
import type { Replier } from '../respond.js';

/** Dependencies shared by the Slack handlers: ack, parse, resolve the actor, call the service, reply. */
export interface HandlerDeps {
  /** ATLAS_DRY_RUN: views answered in an ack (not through the Web API) are labelled here. */
  readonly dryRun?: boolean;
  readonly service: RequestService;
  /** Access reviews: start, decide lines, status. */
  readonly reviews: ReviewService;
  /** Offboarding: ask, approve or deny. */
  readonly offboarding: OffboardingService;
  readonly policy: () => Policy;
  readonly directory: Directory;
  /** Tells a click on a record the store lost from one that was never there (continuity/). */
  readonly continuity: Continuity;
  readonly replier: Replier;
  /** What Slack delivered and was acknowledged, until its work is done (nothing acknowledged is lost). */
  readonly receipts: Receipts;
  readonly logger: Logger;
  /** Workflow Builder steps' on-behalf requests waiting for the person who ran the workflow to confirm them. */
  readonly stepConfirmations: StepConfirmationStore;
  /**
   * Runs the work that follows an ack (Slack lookups, Redis, replies) a few at a time, so a burst of
   * requests is acked first and worked through after: acks stay fast under load.
   */
  readonly afterAck: <T>(work: () => Promise<T>) => Promise<T>;
}
