import { offersOf, resolveBundleEntry } from './bundle-schema.js';
import type { Policy, PolicyBundle, PolicyBundlePart, PolicyTarget } from './policy.js';

/**
 * The file's `bundles:` as the policy holds them: each entry resolved to its target (checked already by
 * the schema), grouped into one part per target in the order the file first names it.
 */
export function resolveBundles(
  bundles: Readonly<Record<string, readonly string[]>>,
  targets: readonly PolicyTarget[],
): PolicyBundle[] {
  const offers = offersOf(
    targets.map((t) => ({
      name: t.name,
      ...(t.kind === 'org' ? { org: t.id } : { project: t.id }),
      roles: t.roles,
    })),
  );
  return Object.entries(bundles).map(([name, entries]) => {
    const parts = new Map<number, string[]>();
    for (const entry of entries) {
      const resolved = resolveBundleEntry(entry, offers);
      if (!resolved.ok) continue;
      const items = parts.get(resolved.target) ?? [];
      if (!items.includes(resolved.item)) items.push(resolved.item);
      parts.set(resolved.target, items);
    }
    return {
      name,
      parts: [...parts].map(
        ([index, items]): PolicyBundlePart => ({ target: targets[index] as PolicyTarget, items }),
      ),
    };
  });
}

/** A policy read from the file, with its `bundles:` resolved against its targets. */
export function withBundles(
  bundles: Readonly<Record<string, readonly string[]>> | undefined,
  reading: { readonly ok: true; readonly policy: Policy },
): { readonly ok: true; readonly policy: Policy } {
  return {
    ...reading,
    policy: { ...reading.policy, bundles: resolveBundles(bundles ?? {}, reading.policy.targets) },
  };
}
