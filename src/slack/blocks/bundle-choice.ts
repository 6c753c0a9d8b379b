import type { Policy } from '../../policy/policy.js';
import { truncate } from '../mrkdwn.js';

/** What the target menu's value is for a bundle: `bundle:NAME`, as people type it. */
export const BUNDLE_CHOICE = 'bundle:';

/** Whether a target menu value is a bundle (`bundle:NAME`). */
export function isBundleChoice(value: string | undefined): value is string {
  return value?.startsWith(BUNDLE_CHOICE) ?? false;
}

/** The policy's bundles as target menu options (`bundle:NAME`), at most 100. */
export function bundleOptions(
  policy: Policy,
): { text: { type: 'plain_text'; text: string }; value: string }[] {
  return (policy.bundles ?? []).slice(0, 100).map((bundle) => {
    const value = `${BUNDLE_CHOICE}${bundle.name}`;
    return { text: { type: 'plain_text', text: truncate(value, 75) }, value };
  });
}
