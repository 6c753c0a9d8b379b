// The `--atlas-api` option every benchmark that runs the app takes: which Atlas API flavor (ATLAS_API)
// the app calls. Unset, it is the product's default, so a figure is for what people run unless a run
// says otherwise; each benchmark prints the flavor in its heading.
import { ATLAS_API_FLAVORS, type AtlasApiFlavor, DEFAULT_ATLAS_API } from '../src/atlas/atlas-options.js';

/** The parseArgs entry for `--atlas-api`, so every benchmark spells and defaults it the same way. */
export const ATLAS_API_OPTION = {
  'atlas-api': { type: 'string', default: DEFAULT_ATLAS_API },
} as const;

/** Checks an `--atlas-api` value against the flavors config.ts accepts; a typo fails before the run. */
export function readAtlasFlavor(value: string | undefined): AtlasApiFlavor {
  const flavor = ATLAS_API_FLAVORS.find((f) => f === (value ?? DEFAULT_ATLAS_API));
  if (!flavor) throw new Error(`--atlas-api must be one of ${ATLAS_API_FLAVORS.join(', ')}`);
  return flavor;
}

/** How a heading names the flavor: `atlas-v2-2025 (the default)`, or just the name. */
export function describeFlavor(flavor: AtlasApiFlavor): string {
  return flavor === DEFAULT_ATLAS_API ? `${flavor} (the default)` : flavor;
}
