import type { Actor } from '../access/actions.js';
import { checkRequestLine } from '../access/request-line.js';
import { AppError, isAppError } from '../errors.js';
import {
  decidersOf,
  findBundle,
  type Policy,
  type PolicyBundle,
  type Principal,
  requirementsOf,
} from '../policy/policy.js';
import { checkTicketAllowed } from '../policy/ticket-check.js';
import type { BundleLine } from './parse-bundle.js';
import type { RequestLine } from './parse-command.js';
import type { RequestServiceDeps } from './service-deps.js';

/** What the request form shows once a bundle is chosen. */
export interface BundleGuide {
  readonly bundle: PolicyBundle;
  /** The longest duration every part allows (the smallest maxDuration); undefined = no limit. */
  readonly maxDurationSeconds: number | undefined;
  /** Whether every part allows a permanent grant. */
  readonly permanentAllowed: boolean;
  /** The most approvals any part needs. */
  readonly approvalsNeeded: number;
  /** Who can decide on every part alone (named in every part's approver lists), else everyone named. */
  readonly deciders: readonly Principal[];
}

/** The line of one part of a bundle, as a request of its own would read. */
function partLine(bundle: PolicyBundle, index: number, line: Omit<BundleLine, 'name'>): RequestLine {
  const part = bundle.parts[index];
  if (!part) throw new AppError('INTERNAL', `bundle ${bundle.name} has no part ${index + 1}`);
  return {
    roles: part.items,
    scope: part.target.kind,
    target: part.target.name,
    durationSeconds: line.durationSeconds,
    reason: line.reason,
    ticket: line.ticket,
  };
}

/** The bundle of the policy in force, or BUNDLE_UNKNOWN in words. */
function requireBundle(policy: Policy, name: string): PolicyBundle {
  const bundle = findBundle(policy, name);
  if (bundle) return bundle;
  throw new AppError('BUNDLE_UNKNOWN', `There is no bundle called ${name} in the policy any more.`);
}

/** What people may see of bundles: the form's guide and its field checks. */
export function createBundleViews(deps: RequestServiceDeps) {
  return {
    /**
     * Checks a bundle request against the policy without storing it (the form's field errors): every
     * part's duration and ticket; the error names the part.
     */
    checkBundleLine(line: BundleLine): PolicyBundle {
      const policy = deps.policy();
      const bundle = requireBundle(policy, line.name);
      bundle.parts.forEach((part, index) => {
        const about = `${part.items.join(', ')} on ${part.target.name}: `;
        const checked = checkRequestLine(policy, partLine(bundle, index, line));
        if (!checked.allowed) throw new AppError(checked.code, `${about}${checked.reason}`);
        try {
          checkTicketAllowed(part.target, part.items, line.ticket, { source: 'form' });
        } catch (error) {
          if (!isAppError(error)) throw error;
          throw new AppError(error.code, `${about}${error.message}`);
        }
      });
      return bundle;
    },

    /**
     * What the request form shows for a bundle; throws BUNDLE_UNKNOWN, or the refusal (naming the part)
     * when the person may not ask for some part at all.
     */
    async bundleGuide(actor: Actor, name: string): Promise<BundleGuide> {
      const policy = deps.policy();
      const bundle = requireBundle(policy, name);
      const needs = bundle.parts.map((part) => requirementsOf(part.target, part.items));
      const durations = needs.map((n) => n.maxDurationSeconds).filter((d): d is number => d !== undefined);
      const maxDurationSeconds = durations.length > 0 ? Math.min(...durations) : undefined;
      for (const [index, part] of bundle.parts.entries()) {
        // A duration is what the form asks next: it must not decide whether the person may ask.
        const draft = partLine(bundle, index, { durationSeconds: maxDurationSeconds, reason: 'form' });
        try {
          await deps.gate.require('request', actor, { draft, grantee: actor });
        } catch (error) {
          if (!isAppError(error)) throw error;
          const about = `Bundle ${bundle.name}, part ${part.items.join(', ')} on ${part.target.name}`;
          throw new AppError(error.code, `${about}: ${error.message}`, { details: error.details });
        }
      }
      return {
        bundle,
        maxDurationSeconds,
        permanentAllowed: durations.length === 0,
        approvalsNeeded: Math.max(...needs.map((n) => n.approvals)),
        deciders: decidersOf(
          policy,
          needs.flatMap((n) => n.approverLists),
        ),
      };
    },
  };
}
