/** One part of a bundle request: a request of its own, for the bundle's items on one target. */
export interface BundlePartRef {
  /** The part's request id. */
  readonly id: string;
  /** The target's policy name when the bundle was asked for. */
  readonly target: string;
  readonly items: readonly string[];
}

/**
 * The bundle a request was filed with (`request bundle:NAME …`): every part is a request of its own,
 * one per target, decided together, applied one by one, ended together.
 */
export interface BundleRef {
  /** The bundle's name in the policy. */
  readonly name: string;
  /** Every part, this one included, in the policy's order. */
  readonly parts: readonly BundlePartRef[];
}
