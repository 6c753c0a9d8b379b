// npm run chart:render [-- -f my-values.yaml --set worker.keda.enabled=true --out rolecall.yaml]:
// the Helm chart in deploy/helm/rolecall through `helm lint --strict` and `helm template` (the real
// helm, see scripts/helm-chart.ts), every object validated against its Kubernetes or CRD schema.
// Prints the manifests (or writes them to --out) and, on stderr, one line per object; exits 1 when
// helm fails or an object is invalid.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { HELM_VERSION, lintChart, parseManifests, renderChartText, validateObject } from './helm-chart.js';

const { values } = parseArgs({
  options: {
    values: { type: 'string', short: 'f', multiple: true, default: [] },
    set: { type: 'string', multiple: true, default: [] },
    release: { type: 'string', default: 'rolecall' },
    namespace: { type: 'string', default: 'rolecall' },
    out: { type: 'string' },
  },
  strict: true,
});
const options = {
  valuesFiles: values.values,
  set: values.set,
  release: values.release,
  namespace: values.namespace,
};

try {
  const lint = await lintChart(options);
  process.stderr.write(`helm ${HELM_VERSION} lint --strict: ${lint.trim().split('\n').at(-1) ?? ''}\n`);
  const text = await renderChartText(options);
  const objects = parseManifests(text);
  const problems = objects.flatMap(validateObject);
  for (const object of objects) {
    process.stderr.write(`  ${object.kind} ${object.metadata.name}\n`);
  }
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  if (problems.length > 0) {
    process.stderr.write(`${problems.length} object(s) do not match their schema:\n`);
    for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    process.exit(1);
  }
  process.stderr.write(`${objects.length} objects, all valid against their schemas\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
