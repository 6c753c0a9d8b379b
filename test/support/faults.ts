import type { AtlasInjection } from '../../dev/atlas-simulator.js';
import type { FlowFlavor } from './flow-flavors.js';

/**
 * A path pattern that matches until the test calls {@link Outage.end}: a simulator fault that lasts
 * until an explicit action, not until a clock time a slow run may overshoot.
 */
export class Outage extends RegExp {
  #on = true;

  override test(text: string): boolean {
    return this.#on && super.test(text);
  }

  /** Ends the fault: the calls from now on are answered as usual. */
  end(): void {
    this.#on = false;
  }
}

/**
 * Faults that only a grant's revocation meets: its one role write passes (a pass-through injection
 * consumes it), every later role write gets `fault`. Injected before the approval, so a revocation
 * can never run before its fault is in place. `outage`, when given, ends the fault on demand.
 */
export function revocationFaults(
  flavor: FlowFlavor,
  fault: Omit<AtlasInjection, 'method' | 'path'>,
  outage?: Outage,
): AtlasInjection[] {
  const { method, path } = flavor.roleWrite;
  return [
    { method, path, times: 1 },
    { times: Number.POSITIVE_INFINITY, ...fault, method, path: outage ?? path },
  ];
}

/** An {@link Outage} over the flavor's role writes. */
export function roleWriteOutage(flavor: FlowFlavor): Outage {
  return new Outage(flavor.roleWrite.path.source, flavor.roleWrite.path.flags);
}

/** A path pattern that matches nothing until armed: a fault that starts on an event, not at a time. */
export class Gate extends RegExp {
  #armed = false;

  override test(text: string): boolean {
    return this.#armed && super.test(text);
  }

  /** From now on the pattern matches as its source says. */
  arm(): void {
    this.#armed = true;
  }
}

/** A pattern that calls `onMatch` the first time it matches: how a fault learns that a call arrived. */
export class Tripwire extends RegExp {
  readonly #onMatch: () => void;

  constructor(pattern: RegExp, onMatch: () => void) {
    super(pattern.source, pattern.flags);
    this.#onMatch = onMatch;
  }

  override test(text: string): boolean {
    const matched = super.test(text);
    if (matched) this.#onMatch();
    return matched;
  }
}

/**
 * `fault`, armed by the grant's role write: every call before it (the check, the grant's own reads)
 * is answered as usual, the matching calls after it meet the fault. Injected before the approval,
 * so whatever runs after the grant (its revocation) cannot run before the fault is in place.
 */
export function afterTheGrant(
  flavor: FlowFlavor,
  fault: AtlasInjection & { readonly path: RegExp },
): AtlasInjection[] {
  const gate = new Gate(fault.path.source, fault.path.flags);
  return [
    {
      method: flavor.roleWrite.method,
      path: new Tripwire(flavor.roleWrite.path, () => gate.arm()),
      times: 1,
    },
    { ...fault, path: gate },
  ];
}
