import assert from "node:assert/strict";
import fc from "fast-check";
import { loadAll } from "js-yaml";
import { ApiError } from "../client/errors.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, type ResourceType, resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { manifestsFor, type ManifestsOptions, toYaml } from "./manifests.ts";
import { containerMemoryFor, DEFAULT_CACHE_SIZE } from "./memory.ts";
import { rbacFor } from "./rbac.ts";
import { allow, validatingWebhook } from "../webhook/admission.ts";
import { conversionWebhook } from "../webhook/conversion.ts";

const EchoServer = resourceType({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
});

const base: OperatorConfigInit = {
  name: "echo",
  parent: EchoServer,
  children: [
    { type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" },
    { type: k8s.core.v1.Service, updateStrategy: "Apply" },
  ],
};

const IMAGE = "ghcr.io/example/echo:1.2.3";

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value: string }[];
  ports?: { name: string; containerPort: number; protocol: string }[];
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  resources?: unknown;
  securityContext?: Record<string, unknown>;
}

interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
}

function statefulSet(objects: KubernetesObject[]): {
  object: KubernetesObject;
  spec: { replicas: number; serviceName: string; selector: { matchLabels: unknown } };
  template: { metadata: { labels: unknown; annotations?: Record<string, string> } };
  pod: PodSpec;
  container: Container;
} {
  const object = objects.find((o) => o.kind === "StatefulSet");
  assert.ok(object, "a StatefulSet");
  const spec = object.spec as {
    replicas: number;
    serviceName: string;
    selector: { matchLabels: unknown };
    template: { metadata: { labels: unknown }; spec: PodSpec };
  };
  const container = spec.template.spec.containers[0];
  assert.ok(container);
  return { object, spec, template: spec.template, pod: spec.template.spec, container };
}

function service(
  objects: KubernetesObject[],
): KubernetesObject & { spec: Record<string, unknown> } {
  const found = objects.find((o) => o.kind === "Service");
  assert.ok(found, "a Service");
  return found as KubernetesObject & { spec: Record<string, unknown> };
}

Deno.test("manifestsFor: RBAC, a headless Service and a one-replica StatefulSet", () => {
  const config = operatorConfig(base);
  const objects = manifestsFor(config, { image: IMAGE, namespace: "operators" });
  assert.deepEqual(objects.map((o) => o.kind), [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "StatefulSet",
  ]);
  assert.deepEqual(
    objects.slice(0, 5),
    rbacFor(config, { namespace: "operators", serviceAccountName: "echo" }),
  );
  const { object, spec, template, pod, container } = statefulSet(objects);
  assert.equal(object.metadata?.namespace, "operators");
  assert.equal(spec.replicas, 1);
  assert.equal(spec.serviceName, "echo");
  assert.deepEqual(spec.selector.matchLabels, template.metadata.labels);
  assert.equal(pod.serviceAccountName, "echo");
  assert.equal(container.image, IMAGE);
  assert.equal(container.env, undefined, "no ROPERATOR_NAMESPACE when not confined");

  const svc = service(objects);
  assert.equal(svc.metadata?.name, "echo");
  assert.equal(svc.spec.clusterIP, "None");
  assert.deepEqual(svc.spec.selector, template.metadata.labels);
});

Deno.test("manifestsFor: two replicas with leader election configured, else one", () => {
  const elected = operatorConfig({ ...base, leaderElection: true });
  assert.equal(statefulSet(manifestsFor(elected, { image: IMAGE })).spec.replicas, 2);
  // Only the Lease rules granted, not configured: no election at run time, so one replica.
  const granted = manifestsFor(operatorConfig(base), { image: IMAGE, leaderElection: true });
  assert.equal(statefulSet(granted).spec.replicas, 1);
});

Deno.test("manifestsFor: probes and the metrics port with the server on", () => {
  const objects = manifestsFor(operatorConfig({ ...base, server: { port: 9090 } }), {
    image: IMAGE,
  });
  const { container, template } = statefulSet(objects);
  assert.deepEqual(container.ports, [{ name: "metrics", containerPort: 9090, protocol: "TCP" }]);
  assert.deepEqual(container.livenessProbe?.httpGet, { path: "/health", port: "metrics" });
  assert.deepEqual(container.readinessProbe?.httpGet, { path: "/ready", port: "metrics" });
  assert.equal(template.metadata.annotations?.["prometheus.io/port"], "9090");
  assert.deepEqual(service(objects).spec.ports, [
    { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" },
  ]);
});

Deno.test("manifestsFor: no probes and no ports with the server off", () => {
  const objects = manifestsFor(operatorConfig({ ...base, server: false }), { image: IMAGE });
  const { container, template } = statefulSet(objects);
  assert.equal(container.ports, undefined);
  assert.equal(container.livenessProbe, undefined);
  assert.equal(container.readinessProbe, undefined);
  assert.equal(template.metadata.annotations, undefined);
  assert.equal(service(objects).spec.ports, undefined);
  assert.equal(service(objects).spec.clusterIP, "None");
});

Deno.test("manifestsFor: metrics only means no probes; health only means an http port", () => {
  const metricsOnly = statefulSet(
    manifestsFor(operatorConfig({ ...base, server: { health: false } }), { image: IMAGE }),
  );
  assert.equal(metricsOnly.container.ports?.[0]?.name, "metrics");
  assert.equal(metricsOnly.container.livenessProbe, undefined);
  const healthOnly = statefulSet(
    manifestsFor(operatorConfig({ ...base, server: { metrics: false } }), { image: IMAGE }),
  );
  assert.equal(healthOnly.container.ports?.[0]?.name, "http");
  assert.deepEqual(healthOnly.container.livenessProbe?.httpGet, { path: "/health", port: "http" });
  assert.equal(healthOnly.template.metadata.annotations, undefined);
});

Deno.test("manifestsFor: a non-root, locked-down security context", () => {
  const { pod, container } = statefulSet(manifestsFor(operatorConfig(base), { image: IMAGE }));
  assert.deepEqual(container.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 65532,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  });
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
  const custom = statefulSet(
    manifestsFor(operatorConfig(base), { image: IMAGE, runAsUser: 1000 }),
  );
  assert.equal(custom.container.securityContext?.runAsUser, 1000);
  assert.throws(
    () => manifestsFor(operatorConfig(base), { image: IMAGE, runAsUser: 0 }),
    /runAsUser must be a positive integer/,
  );
});

Deno.test("manifestsFor: ROPERATOR_NAMESPACE when confined, args, env and resources", () => {
  const objects = manifestsFor(operatorConfig({ ...base, namespace: "team-a" }), {
    image: IMAGE,
    args: ["--log-format", "json"],
    env: { ZED: "last", ALPHA: "first" },
    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    serviceAccountName: "echo-sa",
  });
  const { object, pod, container } = statefulSet(objects);
  assert.equal(object.metadata?.namespace, "team-a");
  assert.equal(pod.serviceAccountName, "echo-sa");
  assert.deepEqual(container.args, ["--log-format", "json"]);
  assert.deepEqual(container.env, [
    { name: "ROPERATOR_NAMESPACE", value: "team-a" },
    { name: "ALPHA", value: "first" },
    { name: "ZED", value: "last" },
  ]);
  assert.deepEqual(container.resources, {
    requests: { cpu: "50m", memory: "64Mi" },
    limits: { memory: "256Mi" },
  });
  assert.deepEqual(objects.map((o) => o.kind).slice(0, 3), [
    "ServiceAccount",
    "Role",
    "RoleBinding",
  ]);
});

Deno.test("manifestsFor: rejects what cannot work", () => {
  const config = operatorConfig(base);
  assert.throws(
    () => manifestsFor(config, { image: "" }),
    (error: unknown) =>
      error instanceof TypeError &&
      error.message ===
        'Cannot build manifests for operator "echo": image must be a non-empty image reference',
  );
  assert.throws(
    () => manifestsFor(operatorConfig({ ...base, server: { port: 0 } }), { image: IMAGE }),
    /server\.port is 0/,
  );
  assert.throws(
    () =>
      manifestsFor(operatorConfig({ ...base, server: { hostname: "127.0.0.1" } }), {
        image: IMAGE,
      }),
    /server\.hostname is "127\.0\.0\.1", a loopback address/,
  );
  assert.throws(
    () => manifestsFor(config, { image: IMAGE, env: { "NOT VALID": "x" } }),
    /"NOT VALID" is not a valid environment variable name/,
  );
  assert.throws(
    () =>
      manifestsFor(operatorConfig({ ...base, namespace: "team-a" }), {
        image: IMAGE,
        env: { ROPERATOR_NAMESPACE: "other" },
      }),
    /ROPERATOR_NAMESPACE is set from config\.namespace/,
  );
});

Deno.test("toYaml: a YAML stream that parses back into the same objects", () => {
  const objects = manifestsFor(operatorConfig({ ...base, namespace: "team-a" }), {
    image: IMAGE,
    env: { FLAG: "on", MODE: "0755", EMPTY: "" },
    leaderElection: true,
    events: true,
  });
  const yaml = toYaml(objects);
  assert.equal(yaml.split(/^---$/m).length, objects.length);
  assert.deepEqual(loadAll(yaml), objects);
  // Strings YAML 1.1 reads as booleans or octal numbers are quoted.
  assert.match(yaml, /value: 'on'/);
  assert.match(yaml, /value: '0755'/);
});

Deno.test("toYaml: apiVersion, kind and metadata first, then the other keys in order", () => {
  const yaml = toYaml([
    {
      data: { b: "2", a: "1" },
      metadata: { labels: { x: "y" }, namespace: "ns", name: "cm" },
      kind: "ConfigMap",
      apiVersion: "v1",
      skipped: undefined,
    },
    { kind: "Namespace", apiVersion: "v1", metadata: { name: "ns" } },
  ]);
  assert.equal(
    yaml,
    [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata:",
      "  name: cm",
      "  namespace: ns",
      "  labels:",
      "    x: 'y'",
      "data:",
      "  b: '2'",
      "  a: '1'",
      "---",
      "apiVersion: v1",
      "kind: Namespace",
      "metadata:",
      "  name: ns",
      "",
    ].join("\n"),
  );
});

Deno.test("toYaml: comments first, shared objects inlined, nothing for nothing", () => {
  const labels = { app: "x" };
  const yaml = toYaml(
    [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", labels }, data: labels }],
    { comments: ["why:", "", "because"] },
  );
  assert.ok(yaml.startsWith("# why:\n#\n# because\napiVersion: v1\n"));
  assert.ok(!yaml.includes("&"), "no anchors");
  assert.equal(toYaml([]), "");
});

Deno.test("toYaml: deterministic", () => {
  const make = () =>
    toYaml(manifestsFor(operatorConfig(base), { image: IMAGE, env: { B: "1", A: "2" } }));
  assert.equal(make(), make());
});

Deno.test("manifestsFor: the API server accepts the objects, and the pod passes the restricted Pod Security level", async () => {
  const cp = await testControlPlane();
  const admin = new KubeClient(cp.clientConfig);
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const name = `manifests-${suffix}`;
  const namespaces = new ResourceClient(admin, k8s.core.v1.Namespace);
  const clusterRoles = new ResourceClient(admin, k8s.rbac.v1.ClusterRole as ResourceType);
  const clusterRoleBindings = new ResourceClient(
    admin,
    k8s.rbac.v1.ClusterRoleBinding as ResourceType,
  );
  try {
    await namespaces.create({
      metadata: { name, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    });
    const objects = manifestsFor(
      operatorConfig({ ...base, name, parent: k8s.apps.v1.Deployment }),
      {
        image: IMAGE,
        namespace: name,
        leaderElection: true,
        args: ["--log-level", "debug"],
        env: { EXTRA: "1" },
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
      },
    );
    const typeOf: Record<string, ResourceType> = {
      ServiceAccount: k8s.core.v1.ServiceAccount as ResourceType,
      ClusterRole: k8s.rbac.v1.ClusterRole as ResourceType,
      ClusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding as ResourceType,
      Role: k8s.rbac.v1.Role as ResourceType,
      RoleBinding: k8s.rbac.v1.RoleBinding as ResourceType,
      Service: k8s.core.v1.Service as ResourceType,
      StatefulSet: k8s.apps.v1.StatefulSet as ResourceType,
    };
    // Parsed back from YAML, as kubectl would send them.
    for (const object of loadAll(toYaml(objects)) as KubernetesObject[]) {
      const type = typeOf[object.kind!];
      assert.ok(type, object.kind);
      await new ResourceClient(admin, type).create(object);
    }

    // The pod template as a pod, in a namespace that enforces the restricted level.
    const { template, pod: spec } = statefulSet(objects);
    const pods = new ResourceClient(admin, k8s.core.v1.Pod as ResourceType, name);
    const pod = (spec: PodSpec): KubernetesObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "operator-0", labels: template.metadata.labels as Record<string, string> },
      spec,
    });
    await pods.create(pod(spec), { dryRun: "All" });
    // The check is real: the same pod without the container's security context is refused.
    const container = spec.containers[0]!;
    const loose = { ...spec, containers: [{ ...container, securityContext: {} }] };
    await assert.rejects(
      () => pods.create(pod(loose), { dryRun: "All" }),
      (error: unknown) => error instanceof ApiError && /restricted/.test(error.message),
    );
  } finally {
    await clusterRoles.delete(name).catch(() => {});
    await clusterRoleBindings.delete(name).catch(() => {});
    await namespaces.delete(name).catch(() => {});
    admin.close();
    await cp.stop();
  }
});

Deno.test("manifestsFor: with webhooks, the webhook port, its Service, the configurations and the CRD conversion stanza", () => {
  const convert = conversionWebhook<{ v1alpha1: KubernetesObject; v1: KubernetesObject }>({
    type: EchoServer,
    converters: { v1alpha1: { v1: (o) => o }, v1: { v1alpha1: (o) => o } },
  });
  const objects = manifestsFor(
    operatorConfig({
      ...base,
      webhooks: {
        hooks: [validatingWebhook({ type: EchoServer, handler: () => allow() }), convert],
      },
    }),
    { image: IMAGE, namespace: "ops" },
  );
  const { container, template } = statefulSet(objects);
  assert.deepEqual(container.ports?.find((p) => p.name === "webhook"), {
    name: "webhook",
    containerPort: 9443,
    protocol: "TCP",
  });
  const webhookService = objects.find((o) => o.metadata?.name === "echo-webhook")!;
  assert.deepEqual(webhookService.spec, {
    selector: template.metadata.labels,
    ports: [{ name: "webhook", port: 443, targetPort: 9443, protocol: "TCP" }],
  });
  assert.deepEqual(objects.slice(-3).map((o) => `${o.kind}/${o.metadata?.name}`), [
    "Service/echo-webhook",
    "ValidatingWebhookConfiguration/echo-validating",
    `CustomResourceDefinition/${convert.name}`,
  ]);
  const validating = objects.at(-2)!.webhooks as { clientConfig: unknown }[];
  assert.deepEqual(validating[0]!.clientConfig, {
    service: {
      namespace: "ops",
      name: "echo-webhook",
      port: 443,
      path: "/validate/validate.echoservers.example.roperator.dev",
    },
  });
  assert.throws(
    () =>
      manifestsFor(
        operatorConfig({
          ...base,
          webhooks: { hooks: [convert], hostname: "127.0.0.1" },
        }),
        { image: IMAGE },
      ),
    /webhooks\.hostname is "127\.0\.0\.1"/,
  );
});
Deno.test("manifestsFor: the memory request and limit follow containerMemoryFor", () => {
  const memoryOf = (options: Partial<ManifestsOptions>) =>
    statefulSet(manifestsFor(operatorConfig(base), { image: IMAGE, ...options })).container
      .resources;
  // Default: 2,000 objects of 4 KiB.
  const fallback = containerMemoryFor(DEFAULT_CACHE_SIZE);
  assert.deepEqual(memoryOf({}), {
    requests: { memory: fallback.request },
    limits: { memory: fallback.limit },
  });
  assert.deepEqual(fallback, {
    request: "112Mi",
    limit: "144Mi",
    requestBytes: 112 * 1048576,
    limitBytes: 144 * 1048576,
  });
  // Sized for the cache: 10,000 objects of 1 KiB; 20 objects of 500 kB.
  assert.deepEqual(memoryOf({ cache: { objects: 10_000, objectBytes: 1024 } }), {
    requests: { memory: "128Mi" },
    limits: { memory: "160Mi" },
  });
  assert.deepEqual(memoryOf({ cache: { objects: 20, objectBytes: 500_000 } }), {
    requests: { memory: "112Mi" },
    limits: { memory: "208Mi" },
  });
  // What is given explicitly wins, key by key.
  assert.deepEqual(
    memoryOf({
      cache: { objects: 10_000, objectBytes: 1024 },
      resources: { requests: { cpu: "50m" }, limits: { memory: "1Gi" } },
    }),
    { requests: { memory: "128Mi", cpu: "50m" }, limits: { memory: "1Gi" } },
  );
});

Deno.test("containerMemoryFor: grows with the objects and their size, the limit never below the request", () => {
  fc.assert(
    fc.property(
      fc.nat(1_000_000),
      fc.nat(2_000_000),
      fc.integer({ min: 1, max: 5000 }),
      (objects, objectBytes, pageSize) => {
        const m = containerMemoryFor({ objects, objectBytes, pageSize });
        const more = containerMemoryFor({ objects: objects + 100, objectBytes, pageSize });
        const larger = containerMemoryFor({ objects, objectBytes: objectBytes + 1024, pageSize });
        return m.limitBytes >= m.requestBytes && m.requestBytes >= 72 * 1048576 &&
          m.requestBytes % (16 * 1048576) === 0 &&
          more.requestBytes >= m.requestBytes && more.limitBytes >= m.limitBytes &&
          larger.requestBytes >= m.requestBytes && larger.limitBytes >= m.limitBytes;
      },
    ),
  );
  assert.throws(() => containerMemoryFor({ objects: -1, objectBytes: 1 }), RangeError);
  assert.throws(() => containerMemoryFor({ objects: 1, objectBytes: 1, pageSize: 0 }), RangeError);
});
