/**
 * {@linkcode manifestsFor}: everything needed to deploy an operator (its RBAC, a StatefulSet and
 * a headless Service), and {@linkcode toYaml} to write objects as a YAML stream for
 * `kubectl apply -f -`.
 *
 * The operator runs as a StatefulSet rather than a Deployment: a Deployment rolling update
 * starts the new pod before the old one stops, so two instances would write the same objects at
 * once; a StatefulSet stops the old pod first. Without leader election it has one replica; with
 * leader election configured (`config.leaderElection`), two: only the Lease holder syncs, and the
 * other takes over when it goes.
 *
 * @module
 */
import { dump } from "js-yaml";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfig } from "../config/operator_config.ts";
import { type CacheSize, containerMemoryFor, DEFAULT_CACHE_SIZE } from "./memory.ts";
import { rbacFor } from "./rbac.ts";
import { webhookManifests } from "../webhook/settings.ts";

/** Compute resources of the operator container (quantities such as `"100m"` or `"128Mi"`). */
export interface ContainerResources {
  /** The resources the scheduler reserves, for example `{ cpu: "50m", memory: "64Mi" }`. */
  requests?: Record<string, string>;
  /** The most the container may use, for example `{ memory: "256Mi" }`. */
  limits?: Record<string, string>;
}

/** Options for {@linkcode manifestsFor}. */
export interface ManifestsOptions {
  /** The container image of the operator binary. */
  image: string;
  /** The namespace the operator runs in. Default: `config.namespace`, else `"default"`. */
  namespace?: string;
  /** The ServiceAccount the operator runs as. Default: the operator name. */
  serviceAccountName?: string;
  /** Arguments passed to the container's entrypoint. */
  args?: string[];
  /** Extra environment variables of the container (written sorted by name). */
  env?: Record<string, string>;
  /**
   * Compute resources of the container. The memory request and limit not given here follow from
   * {@linkcode ManifestsOptions.cache} by the formula of `containerMemoryFor`.
   */
  resources?: ContainerResources;
  /**
   * What the operator caches, to size its memory request and limit (`containerMemoryFor`).
   * Default: 2,000 objects of 4 KiB (`DEFAULT_CACHE_SIZE`): a 112Mi request, a 144Mi limit.
   */
  cache?: CacheSize;
  /**
   * The user id the container runs as. Default 65532 (the `nonroot` user of distroless
   * images): `runAsNonRoot` needs a numeric id when the image names its user.
   */
  runAsUser?: number;
  /** Grant the Lease permissions for leader election (see `rbacFor`). Default: as the config. */
  leaderElection?: boolean;
  /** Grant the Event permissions (see `rbacFor`). Default `false`. */
  events?: boolean;
}

/** Options for {@linkcode toYaml}. */
export interface ToYamlOptions {
  /** Lines written as `# ` comments before the first document. */
  comments?: readonly string[];
}

const NAME_LABEL = "app.kubernetes.io/name";
const COMPONENT_LABEL = "app.kubernetes.io/component";
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/i;

/** The pod labels: the app name and component, unless they clash with the operator's labels. */
function labelsFor(config: OperatorConfig): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of [[NAME_LABEL, config.name], [COMPONENT_LABEL, "operator"]]) {
    if (key !== config.trackingLabel && key !== config.ownershipLabel) labels[key!] = value!;
  }
  return labels;
}

/**
 * The manifests that deploy an operator: the objects of `rbacFor` (ServiceAccount, roles and
 * bindings), a headless Service and a StatefulSet with one replica, or two with leader election
 * configured.
 *
 * The pod:
 *
 * - runs as a non-root user with a read-only root filesystem (an `emptyDir` is mounted on
 *   `/tmp`), no privilege escalation, every capability dropped and the `RuntimeDefault` seccomp
 *   profile;
 * - with the HTTP server on (`config.server`), exposes its port as `metrics` (`http` when metrics
 *   are off), with a liveness probe on `/health` and a readiness probe on `/ready` when health
 *   endpoints are served, and Prometheus scrape annotations when metrics are;
 * - gets `ROPERATOR_NAMESPACE` when the operator is confined to a namespace, which the CLI reads
 *   as `--namespace`;
 * - with `webhooks`, exposes the webhook port as `webhook`, and the webhook objects follow the
 *   StatefulSet: the webhook Service, the webhook configurations (their `caBundle` filled in by
 *   the operator, or cert-manager), each CRD's `spec.conversion` as a partial CRD, and with
 *   cert-manager its Issuer and Certificate.
 *
 * @example
 * ```ts
 * import { manifestsFor, toYaml } from "./manifests.ts";
 * import { operatorConfig } from "../config/operator_config.ts";
 * import { k8s } from "../config/resource_types.ts";
 *
 * const config = operatorConfig({
 *   name: "demo",
 *   parent: k8s.apps.v1.Deployment,
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }],
 * });
 * const yaml = toYaml(manifestsFor(config, { image: "ghcr.io/example/demo:1.0.0" }));
 * ```
 *
 * @param config the resolved operator configuration
 * @param options the image, namespace, ServiceAccount, arguments, environment and resources
 * @returns the RBAC objects, the Service and the StatefulSet, in a stable order
 * @throws {TypeError} when the image is empty, an environment variable name is invalid, the
 * server port is 0 or its hostname a loopback address (it could not be probed), or a name is
 * invalid
 */
export function manifestsFor(
  config: OperatorConfig,
  options: ManifestsOptions,
): KubernetesObject[] {
  const fail = (detail: string): never => {
    throw new TypeError(`Cannot build manifests for operator "${config.name}": ${detail}`);
  };
  if (typeof options.image !== "string" || options.image.trim() === "") {
    fail("image must be a non-empty image reference");
  }
  const namespace = options.namespace ?? config.namespace ?? "default";
  const serviceAccountName = options.serviceAccountName ?? config.name;
  const rbac = rbacFor(config, {
    namespace,
    serviceAccountName,
    ...(options.leaderElection === undefined ? {} : { leaderElection: options.leaderElection }),
    ...(options.events === undefined ? {} : { events: options.events }),
  });
  const server = config.server;
  if (server?.port === 0) fail("server.port is 0 (a free port), which cannot be probed");
  if (server !== undefined && LOOPBACK.test(server.hostname)) {
    fail(
      `server.hostname is "${server.hostname}", a loopback address the kubelet's probes and Prometheus cannot reach (use "0.0.0.0")`,
    );
  }
  const webhooks = config.webhooks;
  if (webhooks && !webhooks.url) {
    if (webhooks.port === 0) {
      fail("webhooks.port is 0 (a free port), which a Service cannot target");
    }
    if (LOOPBACK.test(webhooks.hostname)) {
      fail(
        `webhooks.hostname is "${webhooks.hostname}", a loopback address the API server cannot reach through the Service (use "0.0.0.0")`,
      );
    }
  }
  const runAsUser = options.runAsUser ?? 65532;
  if (!Number.isSafeInteger(runAsUser) || runAsUser < 1) {
    fail(`runAsUser must be a positive integer (not root), got ${runAsUser}`);
  }

  const labels = labelsFor(config);
  const metadata = { name: config.name, namespace, labels };
  const portName = server?.metrics ? "metrics" : "http";

  const env: { name: string; value: string }[] = [];
  if (config.namespace !== undefined) {
    env.push({ name: "ROPERATOR_NAMESPACE", value: config.namespace });
  }
  for (const name of Object.keys(options.env ?? {}).sort()) {
    if (!ENV_NAME.test(name)) fail(`env: "${name}" is not a valid environment variable name`);
    if (name === "ROPERATOR_NAMESPACE" && config.namespace !== undefined) {
      fail('env: ROPERATOR_NAMESPACE is set from config.namespace; set "namespace" instead');
    }
    env.push({ name, value: options.env![name]! });
  }

  const container: Record<string, unknown> = { name: "operator", image: options.image };
  if (options.args !== undefined && options.args.length > 0) container.args = [...options.args];
  if (env.length > 0) container.env = env;
  if (server) {
    container.ports = [{ name: portName, containerPort: server.port, protocol: "TCP" }];
    if (server.health) {
      container.livenessProbe = {
        httpGet: { path: "/health", port: portName },
        initialDelaySeconds: 5,
        periodSeconds: 10,
        timeoutSeconds: 2,
        failureThreshold: 3,
      };
      container.readinessProbe = {
        httpGet: { path: "/ready", port: portName },
        periodSeconds: 5,
        timeoutSeconds: 2,
        failureThreshold: 3,
      };
    }
  }
  if (webhooks) {
    container.ports = [
      ...(container.ports as unknown[] ?? []),
      { name: "webhook", containerPort: webhooks.port, protocol: "TCP" },
    ];
  }
  const memory = containerMemoryFor(options.cache ?? DEFAULT_CACHE_SIZE);
  container.resources = {
    requests: { memory: memory.request, ...options.resources?.requests },
    limits: { memory: memory.limit, ...options.resources?.limits },
  };
  container.securityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
  container.volumeMounts = [{ name: "tmp", mountPath: "/tmp" }];

  const podMetadata: Record<string, unknown> = { labels: { ...labels } };
  if (server?.metrics) {
    podMetadata.annotations = {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(server.port),
      "prometheus.io/path": "/metrics",
    };
  }

  const service: KubernetesObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { ...metadata, labels: { ...labels } },
    spec: {
      clusterIP: "None",
      selector: { ...labels },
      ...(server
        ? { ports: [{ name: portName, port: server.port, targetPort: portName, protocol: "TCP" }] }
        : {}),
    },
  };

  const statefulSet: KubernetesObject = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { ...metadata, labels: { ...labels } },
    spec: {
      // Without leader election one replica, never more: two instances would write the same
      // objects at once. With it, two: the follower keeps its caches warm and takes over within
      // the lease duration when the leader's pod goes.
      replicas: config.leaderElection === undefined ? 1 : 2,
      serviceName: config.name,
      selector: { matchLabels: { ...labels } },
      template: {
        metadata: podMetadata,
        spec: {
          serviceAccountName,
          securityContext: {
            runAsNonRoot: true,
            runAsUser,
            seccompProfile: { type: "RuntimeDefault" },
          },
          terminationGracePeriodSeconds: 30,
          containers: [container],
          volumes: [{ name: "tmp", emptyDir: {} }],
        },
      },
    },
  };
  const webhookObjects = webhooks
    ? webhookManifests(webhooks, { operatorName: config.name, namespace, labels, selector: labels })
    : [];
  return [...rbac, service, statefulSet, ...webhookObjects];
}

const TOP_LEVEL_ORDER = ["apiVersion", "kind", "metadata"];
const METADATA_ORDER = ["name", "generateName", "namespace", "labels", "annotations"];

/** Copies a value with the keys of `object` in the conventional order, dropping `undefined`. */
function ordered(value: unknown, first: readonly string[], depth: number): unknown {
  if (Array.isArray(value)) return value.map((item) => ordered(item, [], depth + 1));
  if (typeof value !== "object" || value === null) return value;
  const source = value as Record<string, unknown>;
  const keys = [
    ...first.filter((key) => Object.hasOwn(source, key)),
    ...Object.keys(source).filter((key) => !first.includes(key)),
  ];
  const result: Record<string, unknown> = {};
  for (const key of keys) {
    if (source[key] === undefined) continue;
    const order = depth === 0 && key === "metadata" ? METADATA_ORDER : [];
    result[key] = ordered(source[key], order, depth + 1);
  }
  return result;
}

/**
 * Writes objects as a multi-document YAML stream (documents separated by `---`), each with
 * `apiVersion`, `kind` and `metadata` first (and `name`, `namespace`, `labels`, `annotations`
 * first in `metadata`), the other keys in their order; `undefined` values are dropped. Strings
 * that YAML 1.1 would read as something else (`yes`, `on`, `0755`) are quoted.
 *
 * @example
 * ```ts
 * import { toYaml } from "./manifests.ts";
 * toYaml([{ kind: "ConfigMap", apiVersion: "v1", metadata: { name: "a" }, data: { x: "on" } }]);
 * // "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: 'on'\n"
 * ```
 *
 * @param objects the objects, written in the order given
 * @param options comment lines to put first
 * @returns the YAML stream, ending with a newline (empty for no objects and no comments)
 */
export function toYaml(objects: readonly KubernetesObject[], options: ToYamlOptions = {}): string {
  const comments = (options.comments ?? [])
    .flatMap((comment) => comment.split("\n"))
    .map((line) => line === "" ? "#\n" : `# ${line}\n`)
    .join("");
  const documents = objects.map((object) =>
    dump(ordered(object, TOP_LEVEL_ORDER, 0), { noRefs: true, lineWidth: -1 })
  );
  return comments + documents.join("---\n");
}
