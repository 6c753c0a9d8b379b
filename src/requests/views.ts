import type { Actor, Person } from '../access/actions.js';
import { authorize } from '../access/authorize.js';
import { checkRequestLine } from '../access/request-line.js';
import { AppError } from '../errors.js';
import { isDatabaseItem } from '../lib/access-items.js';
import {
  decidersOf,
  findTarget,
  type PolicyTarget,
  type Principal,
  type Requirements,
  requirementsOf,
} from '../policy/policy.js';
import { type HomeData, listToDecide, readHome } from './home.js';
import type { AccessRequest, RequestAuditEntry } from './model.js';
import type { RequestLine } from './parse-command.js';
import type { ShownRoles } from './ports.js';
import type { RequestServiceDeps } from './service-deps.js';
import { isFinal } from './state-machine.js';

/** What the request form shows once a target (and roles) are chosen. */
export interface RequestGuide {
  readonly target: PolicyTarget;
  /** May the person ask here for someone else (`onBehalf`)? */
  readonly mayAskForOthers: boolean;
  /** What the chosen roles need (all of the target's roles when none are chosen yet). */
  readonly requirements: Requirements;
  /** Who can decide on all the chosen roles. */
  readonly deciders: readonly Principal[];
  readonly currentRoles: ShownRoles | null;
}

/** A person's view of the requests that concern them. */
export interface RequestOverview {
  /** Their own requests that are not finished yet. */
  readonly mine: readonly AccessRequest[];
  /** Pending requests on targets they approve, made by others. */
  readonly toDecide: readonly AccessRequest[];
}

/** What people may see of requests: the form's guide, a request's status and details, their lists. */
export function createViews(deps: RequestServiceDeps) {
  const { store, gate } = deps;
  const now = deps.now ?? Date.now;

  return {
    /** Checks a request line against the policy without storing it (form field errors). */
    checkLine(line: RequestLine): PolicyTarget {
      const checked = checkRequestLine(deps.policy(), line);
      if (!checked.allowed) throw new AppError(checked.code, checked.reason);
      return checked.target;
    },

    /**
     * What the request form shows for a target and the roles chosen so far; throws TARGET_UNKNOWN, or
     * the refusal when the person may not ask there at all.
     */
    async guide(actor: Person, targetName: string, roles: readonly string[]): Promise<RequestGuide> {
      const policy = deps.policy();
      const target = findTarget(policy, targetName);
      if (!target) {
        throw new AppError('TARGET_UNKNOWN', `There is no target called ${targetName} any more.`);
      }
      const chosen = roles.filter((role) => target.roles.includes(role));
      const asked = chosen.length > 0 ? chosen : target.roles;
      // Database access is asked alone, one level at a time: whether the person may ask here at all
      // is checked on one item then (the submission says what is wrong with a mix, on its field).
      const checked = asked.some(isDatabaseItem) && asked.length > 1 ? asked.slice(0, 1) : asked;
      const draft: RequestLine = {
        roles: checked,
        scope: target.kind,
        target: target.name,
        // A duration is what the form asks next: it must not decide whether the person may ask.
        durationSeconds: requirementsOf(target, checked).maxDurationSeconds,
        reason: 'form',
      };
      const { members } = await gate.require('request', actor, { draft, grantee: actor });
      // Before roles are chosen: the longest any role allows, and the target's approvers.
      const perRole = target.roles.map((role) => requirementsOf(target, [role]).maxDurationSeconds);
      const requirements =
        chosen.length > 0
          ? requirementsOf(target, chosen)
          : {
              ...requirementsOf(target, []),
              approverLists: [target.approvers],
              maxDurationSeconds: perRole.includes(undefined)
                ? undefined
                : Math.max(...perRole.filter((d): d is number => d !== undefined)),
            };
      return {
        target,
        mayAskForOthers:
          actor.standing === 'member' && members.includes(target.onBehalf ?? target.approvers, actor.id),
        requirements,
        deciders: decidersOf(policy, requirements.approverLists),
        currentRoles: actor.email === null ? null : await deps.currentRoles.readRoles(actor.email, target),
      };
    },

    /** The request and its audit trail, for someone it concerns. */
    async status(id: string, actor: Actor): Promise<{ request: AccessRequest; audit: RequestAuditEntry[] }> {
      const request = await store.require(id);
      await gate.require('status', actor, { request });
      return { request, audit: await store.audit(id) };
    },

    /**
     * The request, for someone allowed to see the grantee's current roles (the grantee, an approver);
     * `approver` says whether they may also see Atlas's own detail of a failure.
     */
    async viewDetails(id: string, actor: Actor): Promise<{ request: AccessRequest; approver: boolean }> {
      const request = await store.require(id);
      const { policy, members } = await gate.require('view-roles', actor, { request });
      const approver = authorize('view-details', actor, { request }, policy, members).allowed;
      return { request, approver };
    },

    /** A person's own open requests, and those waiting for their decision. */
    async overview(actor: Actor): Promise<RequestOverview> {
      const { policy, members } = await gate.require('list', actor, null);
      const mine = (await store.listByRequester(actor.id, 50)).filter(
        (r) => !isFinal(r.state) && !(r.state === 'applied' && r.grant?.revokeAt === null),
      );
      return { mine, toDecide: await listToDecide(store, actor, policy, members) };
    },

    /** What Rolecall's Home tab shows the person (their grants, requests, what waits for them). */
    async home(actor: Actor): Promise<HomeData> {
      await gate.require('list', actor, null);
      return readHome({ store, gate, now }, actor);
    },
  };
}
