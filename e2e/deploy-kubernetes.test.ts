/**
 * docs/deploy/kubernetes/kuvasz-streamer.yaml, checked without a cluster:
 * every document against the schema of its kind (kubernetes-models), and
 * what the documents must agree on with each other and with the streamer.
 * The ConfigMap's configuration loads with the streamer's own loader in the
 * environment the Deployment gives the container; the probes get the answers
 * the kubelet needs from the streamer's own HTTP server, on the port the
 * configuration listens on. Each check is shown to fail on a broken copy.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IConfigMap, IContainer, ISecret, IService, IVolume } from 'kubernetes-models/v1';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseCli } from '../apps/streamer/src/cli/args.js';
import { type Config, parseConfig } from '../apps/streamer/src/config/load.js';
import { Redactor } from '../apps/streamer/src/config/secrets.js';
import { ConfigError } from '../apps/streamer/src/errors.js';
import { startHttpServer } from '../apps/streamer/src/observability/http-server.js';
import { createLogger } from '../apps/streamer/src/observability/logger.js';
import { createMetrics } from '../apps/streamer/src/observability/metrics.js';
import { manifestProblems } from './kubernetes-schema.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const FILE = path.join(ROOT, 'docs', 'deploy', 'kubernetes', 'kuvasz-streamer.yaml');
const TEXT = fs.readFileSync(FILE, 'utf8');
const DOCKERFILE = fs.readFileSync(path.join(ROOT, 'docs', 'deploy', 'Dockerfile'), 'utf8');
/** What the downward API's metadata.name gives a pod of the Deployment. */
const POD_NAME = 'kuvasz-streamer-6b9f7c8d5-x2x4q';

interface Manifests {
  configMap: IConfigMap;
  secret: ISecret;
  deployment: IDeployment;
  pdb: IPodDisruptionBudget;
  service: IService;
}

/** Every problem of the file's text; none for a good file. */
async function problemsOf(text: string): Promise<string[]> {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return ['no YAML documents'];
  const values: unknown[] = [];
  for (const doc of docs) {
    problems.push(...doc.errors.map((e) => `YAML: ${e.message}`));
    const value: unknown = doc.toJS();
    if (value === null) continue;
    problems.push(...manifestProblems(value));
    values.push(value);
  }
  const one = <T>(kind: string): T | undefined => {
    const found = values.filter((v) => (v as { kind?: unknown }).kind === kind);
    if (found.length !== 1) problems.push(`expected one ${kind}, found ${found.length}`);
    return found[0] as T | undefined;
  };
  const m = {
    configMap: one<IConfigMap>('ConfigMap'),
    secret: one<ISecret>('Secret'),
    deployment: one<IDeployment>('Deployment'),
    pdb: one<IPodDisruptionBudget>('PodDisruptionBudget'),
    service: one<IService>('Service'),
  };
  if (problems.length > 0) return problems;
  return crossProblems(m as Manifests);
}

/** What the documents must agree on, once each is valid for its kind. */
async function crossProblems(m: Manifests): Promise<string[]> {
  const problems: string[] = [];
  const spec = m.deployment.spec;
  const pod = spec?.template.spec;
  const container = pod?.containers[0];
  if (!spec || !pod || !container || pod.containers.length !== 1)
    return ['the Deployment needs one container'];
  const labels = spec.template.metadata?.labels ?? {};
  const selects = (name: string, sel: Record<string, string> | undefined) => {
    const entries = Object.entries(sel ?? {});
    if (entries.length === 0 || entries.some(([k, v]) => labels[k] !== v))
      problems.push(`${name}'s selector does not select the Deployment's pods`);
  };
  selects('the Deployment', spec.selector.matchLabels);
  selects('the PodDisruptionBudget', m.pdb.spec?.selector?.matchLabels);
  selects('the Service', m.service.spec?.selector);

  if ((spec.replicas ?? 1) < 2) problems.push('a fleet of fewer than 2 replicas');
  const rolling = spec.strategy?.rollingUpdate;
  if (spec.strategy?.type !== 'RollingUpdate' || rolling?.maxUnavailable !== 1)
    problems.push('the rolling update should replace one pod at a time (maxUnavailable: 1)');
  if (m.pdb.spec?.maxUnavailable !== 1) problems.push('the PodDisruptionBudget: maxUnavailable 1');

  // The container runs `run` with the ConfigMap's file.
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(DOCKERFILE)?.[1];
  if (!entrypoint || !/kuvasz-streamer\.mjs"\]$/.test(entrypoint) || container.command)
    problems.push("the container's args must follow the image's ENTRYPOINT (the CLI)");
  const cli = parseCli(container.args ?? []);
  if (cli.command !== 'run' || !cli.config)
    return [...problems, 'args: expected run --config <file>'];
  const configText = configFileText(m, pod.volumes ?? [], container, cli.config);
  if (typeof configText !== 'string') return [...problems, configText.problem];

  const env = containerEnv(m, container);
  if ('problem' in env) return [...problems, env.problem];
  let cfg: Config;
  try {
    cfg = parseConfig(configText, `ConfigMap ${m.configMap.metadata?.name}`, { env: env.vars });
  } catch (err: unknown) {
    if (!(err instanceof ConfigError)) throw err;
    return [...problems, ...err.issues.map((i) => `configuration: ${i.path}: ${i.message}`)];
  }
  if (!cfg.fleet) problems.push('configuration: fleet is not enabled');
  else if (cfg.fleet.instanceId !== POD_NAME)
    problems.push(`configuration: the instance id is ${cfg.fleet.instanceId}, not the pod's name`);

  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const deadline = cfg.apply.shutdownTimeoutMs / 1000;
  if (grace < deadline + 10)
    problems.push(
      `terminationGracePeriodSeconds (${grace}) leaves less than 10 s above apply.shutdown_timeout_ms (${deadline} s)`,
    );

  const sc = { ...pod.securityContext, ...container.securityContext };
  if (sc.runAsNonRoot !== true || !(sc.runAsUser && sc.runAsUser > 0))
    problems.push(
      'runAsNonRoot with a numeric runAsUser (the image names its user, which the kubelet cannot check)',
    );
  if (container.securityContext?.readOnlyRootFilesystem !== true)
    problems.push('the root filesystem should be read-only');
  if (container.securityContext?.allowPrivilegeEscalation !== false)
    problems.push('allowPrivilegeEscalation should be false');
  const tmp = container.volumeMounts?.find((v) => v.mountPath === '/tmp');
  if (!tmp || tmp.readOnly || !pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir)
    problems.push('a writable emptyDir at /tmp: large transactions spill there');
  const res = container.resources;
  if (!res?.requests?.cpu || !res.requests.memory || !res.limits?.memory)
    problems.push('resources: cpu and memory requests, a memory limit');

  problems.push(...(await probeProblems(cfg, container)));
  const target = m.service.spec?.ports?.[0]?.targetPort;
  if (portOf(container, target) !== cfg.http?.port)
    problems.push(`the Service's targetPort (${target}) is not the port the streamer listens on`);
  return problems;
}

/** The file `--config` names: a key of the ConfigMap, mounted where it is read. */
function configFileText(
  m: Manifests,
  volumes: IVolume[],
  container: IContainer,
  file: string,
): string | { problem: string } {
  const mount = container.volumeMounts?.find((v) => file.startsWith(`${v.mountPath}/`));
  const volume = volumes.find((v) => v.name === mount?.name);
  if (!mount || volume?.configMap?.name !== m.configMap.metadata?.name)
    return { problem: `--config ${file} is not in a volume of the ConfigMap` };
  const text = m.configMap.data?.[file.slice(mount.mountPath.length + 1)];
  return text ?? { problem: `--config ${file}: the ConfigMap has no such key` };
}

/** The container's environment as the kubelet makes it: the Secret's keys, then `env`. */
function containerEnv(
  m: Manifests,
  container: IContainer,
): { vars: Record<string, string> } | { problem: string } {
  const vars: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.secretRef?.name !== m.secret.metadata?.name)
      return { problem: `envFrom names ${JSON.stringify(from)}, not the Secret` };
    Object.assign(vars, m.secret.stringData);
  }
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) vars[e.name] = e.value;
    else if (field === 'metadata.name') vars[e.name] = POD_NAME;
    else return { problem: `env ${e.name}: only values and metadata.name are modelled here` };
  }
  return { vars };
}

/** A probe's or Service's port (a number, or the name of a container port) as a number. */
function portOf(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/**
 * Each probe against the streamer's HTTP server: readiness succeeds when the
 * streamer is ready and fails when not; liveness succeeds either way (a pod
 * in an initial copy is not ready, and must not be restarted for it). The
 * kubelet counts 200 to 399 as success.
 */
async function probeProblems(cfg: Config, container: IContainer): Promise<string[]> {
  const problems: string[] = [];
  if (!cfg.http) return ['configuration: no http.listen, nothing to probe'];
  if (!['0.0.0.0', '::'].includes(cfg.http.host))
    problems.push(
      `configuration: http.listen ${cfg.http.host}: the kubelet probes the pod's address; listen on 0.0.0.0`,
    );
  let ready = true;
  const log = createLogger({ level: 'silent', redactor: new Redactor() });
  const server = await startHttpServer(
    { host: '127.0.0.1', port: 0 },
    {
      metrics: createMetrics(),
      status: () => ({ generatedAt: '', sources: [], fleet: null }),
      ready: () => ready,
    },
    log,
  );
  try {
    const probes = [
      ['readinessProbe', container.readinessProbe, [true, false]],
      ['livenessProbe', container.livenessProbe, [true, true]],
    ] as const;
    for (const [name, probe, expected] of probes) {
      const get = probe?.httpGet;
      if (!get) {
        problems.push(`${name}: expected an httpGet probe`);
        continue;
      }
      if (portOf(container, get.port) !== cfg.http.port)
        problems.push(`${name}: port ${get.port} is not http.listen's port ${cfg.http.port}`);
      if ((get.scheme ?? 'HTTP') !== 'HTTP') problems.push(`${name}: the server speaks plain HTTP`);
      for (const [i, whenReady] of [true, false].entries()) {
        ready = whenReady;
        const status = (await fetch(`${server.url}${get.path ?? '/'}`)).status;
        const ok = status >= 200 && status < 400;
        if (ok !== expected[i])
          problems.push(
            `${name}: GET ${get.path} answers ${status} when the streamer is ${whenReady ? '' : 'not '}ready`,
          );
      }
    }
  } finally {
    await server.close();
  }
  return problems;
}

describe('the Kubernetes example', () => {
  test('every document is valid for its kind, and they agree with each other and the streamer', async () => {
    expect(await problemsOf(TEXT)).toEqual([]);
  });

  test('the ConfigMap is the configuration the Secret and the pod name complete', () => {
    const configMap = parseAllDocuments(TEXT)
      .map((d) => d.toJS() as { kind?: string; data?: Record<string, string> })
      .find((d) => d?.kind === 'ConfigMap');
    const text = configMap?.data?.['kuvasz-streamer.yaml'] ?? '';
    const cfg = parseConfig(text, 'configmap', {
      env: {
        KUVASZ_DESTINATION_URL: 'postgres://kuvasz:pw-dest@warehouse/warehouse?sslmode=require',
        ORDERS_EU_PASSWORD: 'pw-eu',
        ORDERS_US_PASSWORD: 'pw-us',
        BILLING_PASSWORD: 'pw-billing',
        KUVASZ_FLEET_INSTANCE_ID: POD_NAME,
      },
    });
    expect(cfg.fleet).toEqual({
      instanceId: POD_NAME,
      leaseSeconds: 10,
      renewSeconds: 2,
      takePerRound: 4,
    });
    expect(cfg.destination.url).toMatch(/^postgres:\/\/kuvasz:pw-dest@warehouse\/warehouse\?/);
    expect(cfg.sources.map((s) => `${s.database}/${s.sid}`)).toEqual([
      'orders/eu',
      'orders/us',
      'billing/billing',
    ]);
    expect(cfg.sources.map((s) => /:(pw-[a-z]+)@/.exec(s.url)?.[1])).toEqual([
      'pw-eu',
      'pw-us',
      'pw-billing',
    ]);
    expect(cfg.http).toEqual({ host: '0.0.0.0', port: 8080 });
  });

  // Each a broken copy of the file, and what must be said of it.
  test.each([
    ['a misspelt field', 'readinessProbe:', 'readinesProbe:', /readinesProbe: unknown field/],
    [
      'a value of the wrong type',
      'replicas: 3',
      'replicas: three',
      /spec\/replicas must be integer/,
    ],
    [
      'a readiness probe on a path the server does not have',
      'path: /readyz',
      'path: /ready',
      /readinessProbe: GET \/ready answers 404 when the streamer is ready/,
    ],
    [
      'a readiness probe that is always ready',
      'path: /readyz',
      'path: /healthz',
      /readinessProbe: GET \/healthz answers 200 when the streamer is not ready/,
    ],
    [
      'a liveness probe that restarts a pod during an initial copy',
      'path: /healthz',
      'path: /readyz',
      /livenessProbe: GET \/readyz answers 503 when the streamer is not ready/,
    ],
    [
      'a container port that is not the one the streamer listens on',
      'containerPort: 8080',
      'containerPort: 8081',
      /readinessProbe: port http is not http\.listen's port 8080/,
    ],
    [
      'a listener on loopback',
      'listen: "0.0.0.0:8080"',
      'listen: "127.0.0.1:8080"',
      /http\.listen 127\.0\.0\.1: the kubelet probes the pod's address/,
    ],
    [
      'a secret the configuration needs, missing',
      '  BILLING_PASSWORD: "CHANGE-ME"\n',
      '',
      /environment variable BILLING_PASSWORD is not set/,
    ],
    ['the fleet disabled', '  enabled: true\n', '  enabled: false\n', /fleet is not enabled/],
    [
      'no instance id from the pod',
      'name: KUVASZ_FLEET_INSTANCE_ID',
      'name: KUVASZ_INSTANCE_ID',
      /the instance id is .*, not the pod's name/,
    ],
    [
      'a grace period shorter than the shutdown deadline',
      'terminationGracePeriodSeconds: 45',
      'terminationGracePeriodSeconds: 30',
      /terminationGracePeriodSeconds \(30\) leaves less than 10 s/,
    ],
    ['no numeric user', '        runAsUser: 1000\n', '', /runAsNonRoot with a numeric runAsUser/],
    ['no writable /tmp', 'mountPath: /tmp', 'mountPath: /var/tmp', /a writable emptyDir at \/tmp/],
    [
      'a rolling update that replaces two at once',
      'maxUnavailable: 1\n      maxSurge: 0',
      'maxUnavailable: 2\n      maxSurge: 0',
      /one pod at a time/,
    ],
    [
      'a PodDisruptionBudget that selects nothing',
      '  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: kuvasz-streamer',
      '  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: kuvasz',
      /the PodDisruptionBudget's selector does not select/,
    ],
    ['a kind without a schema here', 'kind: Service', 'kind: Ingress', /v1\/Ingress .*no schema/],
  ])('refused: %s', async (_name, from, to, expected) => {
    expect(TEXT).toContain(from);
    const problems = await problemsOf(TEXT.replace(from, to));
    expect(problems.join('\n')).toMatch(expected);
  });
});
