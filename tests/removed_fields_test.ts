// Removing a field from a desired child reaches the cluster, with each writing strategy, and a
// child whose fields the API server defaults is not rewritten at every sync.
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, type UpdateStrategy } from "../config/operator_config.ts";
import type { WriteKind } from "../runner/operator_metrics.ts";
import { type OperatorHandle, startOperator } from "../runner/run_operator.ts";
import { DESIRED_HASH_ANNOTATION } from "../runner/diff.ts";
import { createNamespace, eventually } from "./helpers.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "FieldsParent",
  plural: "fieldsparents",
  namespaced: true,
});

type Shape = "full" | "reduced";
type ParentObject = KubernetesObject & { spec?: { shape?: Shape } };
type Strings = Record<string, string>;

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

const IMAGE = "registry.k8s.io/pause:3.10";

/**
 * The children of a parent: the `full` shape has one more of each (a ConfigMap key, a label, an
 * annotation, a Secret key, an env var, a named container port) than the `reduced` one. The Pod
 * is the same in both: it is there for the fields the API server defaults.
 */
function childrenFor(shape: Shape): KubernetesObject[] {
  const full = shape === "full";
  const more = (extra: Strings): Strings => full ? extra : {};
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "config",
        labels: { keep: "yes", ...more({ drop: "yes" }) },
        annotations: { "example.com/keep": "yes", ...more({ "example.com/drop": "yes" }) },
      },
      data: { keep: "yes", ...more({ drop: "yes" }) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "secret" },
      stringData: { keep: "yes", ...more({ drop: "yes" }) },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "app" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "app" } },
        template: {
          metadata: { labels: { app: "app" } },
          spec: {
            containers: [{
              name: "app",
              image: IMAGE,
              env: [
                { name: "KEEP", value: "yes" },
                ...(full ? [{ name: "DROP", value: "yes" }] : []),
              ],
              ports: [
                { name: "http", containerPort: 8080 },
                ...(full ? [{ name: "metrics", containerPort: 9090 }] : []),
              ],
            }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "pod" },
      spec: { containers: [{ name: "app", image: IMAGE }] },
    },
  ];
}

const WRITES: WriteKind[] = ["create", "update", "apply", "delete"];

function writes(op: OperatorHandle): Record<WriteKind, number> {
  return Object.fromEntries(WRITES.map((kind) => [kind, op.metrics.writes(kind)])) as Record<
    WriteKind,
    number
  >;
}

/**
 * Waits for `count` more successful syncs of the parent and returns the writes counted over them.
 * A first wait of two syncs lets the sync that made the last write finish counting it.
 */
async function writesOverSyncs(
  op: OperatorHandle,
  parent: string,
  count: number,
): Promise<Record<string, number>> {
  const syncs = () => op.metrics.syncs(parent, "success");
  const settle = syncs() + 2;
  await eventually("two more syncs", () => Promise.resolve(syncs() >= settle));
  const before = writes(op);
  const until = syncs() + count;
  await eventually(`${count} more syncs`, () => Promise.resolve(syncs() >= until));
  return delta(before, writes(op));
}

function delta(
  before: Record<WriteKind, number>,
  after: Record<WriteKind, number>,
): Record<string, number> {
  return Object.fromEntries(WRITES.map((kind) => [kind, after[kind] - before[kind]]));
}

const NO_WRITES = { create: 0, update: 0, apply: 0, delete: 0 };

function decode(data: unknown): Strings {
  return Object.fromEntries(
    Object.entries((data ?? {}) as Strings).map(([key, value]) => [key, atob(value)]),
  );
}

interface Observed {
  configData: Strings;
  configLabels: Strings;
  configAnnotations: Strings;
  secretData: Strings;
  env: string[];
  ports: string[];
}

async function observe(ns: string): Promise<Observed | undefined> {
  const config = await new ResourceClient(admin, k8s.core.v1.ConfigMap, ns).find("config");
  const secret = await new ResourceClient(admin, k8s.core.v1.Secret, ns).find("secret");
  const app = await new ResourceClient(admin, k8s.apps.v1.Deployment, ns).find("app");
  if (!config || !secret || !app) return undefined;
  const container = (app.spec as {
    template: { spec: { containers: { env?: { name: string }[]; ports?: { name: string }[] }[] } };
  }).template.spec.containers[0]!;
  const { [DESIRED_HASH_ANNOTATION]: _hash, ...annotations } = config.metadata?.annotations ?? {};
  const labels = { ...config.metadata?.labels };
  delete labels["app.kubernetes.io/instance"];
  delete labels["app.kubernetes.io/managed-by"];
  return {
    configData: config.data as Strings,
    configLabels: labels,
    configAnnotations: annotations,
    secretData: decode(secret.data),
    env: (container.env ?? []).map((e) => e.name),
    ports: (container.ports ?? []).map((p) => p.name),
  };
}

function expected(shape: Shape): Observed {
  return shape === "full"
    ? {
      configData: { keep: "yes", drop: "yes" },
      configLabels: { keep: "yes", drop: "yes" },
      configAnnotations: { "example.com/keep": "yes", "example.com/drop": "yes" },
      secretData: { keep: "yes", drop: "yes" },
      env: ["KEEP", "DROP"],
      ports: ["http", "metrics"],
    }
    : {
      configData: { keep: "yes" },
      configLabels: { keep: "yes" },
      configAnnotations: { "example.com/keep": "yes" },
      secretData: { keep: "yes" },
      env: ["KEEP"],
      ports: ["http"],
    };
}

async function waitForShape(ns: string, shape: Shape): Promise<void> {
  let last: Observed | undefined;
  try {
    await eventually(`the ${shape} children`, async () => {
      last = await observe(ns);
      try {
        assert.deepEqual(last, expected(shape));
        return true;
      } catch {
        return false;
      }
    });
  } catch (error) {
    throw new Error(
      `${error instanceof Error ? error.message : error}; the cluster holds ${
        JSON.stringify(last)
      }`,
    );
  }
}

/**
 * Checks that the API server defaulted fields of the Pod and the Deployment the handler does not
 * set, and added default tolerations to the Pod. (The test control plane runs without the
 * ServiceAccount admission plugin, so no token volume is injected, and without the Deployment
 * controller, so no status is written: runner/diff_test.ts covers extra named items.)
 */
async function assertDefaulted(ns: string): Promise<void> {
  type PodSpec = {
    containers: { imagePullPolicy?: string; terminationMessagePath?: string }[];
    tolerations?: unknown[];
  };
  const pod = await eventually(
    "the Pod",
    () => new ResourceClient(admin, k8s.core.v1.Pod, ns).find("pod"),
  );
  const spec = pod.spec as PodSpec;
  assert.ok(spec.containers[0]?.imagePullPolicy, "imagePullPolicy is defaulted");
  assert.ok(spec.containers[0]?.terminationMessagePath, "terminationMessagePath is defaulted");
  assert.ok((spec.tolerations ?? []).length > 0, "default tolerations are added");
  const app = await new ResourceClient(admin, k8s.apps.v1.Deployment, ns).get("app");
  const appSpec = app.spec as {
    strategy?: { type?: string };
    template: { spec: PodSpec & { dnsPolicy?: string } };
  };
  assert.equal(appSpec.strategy?.type, "RollingUpdate", "the Deployment strategy is defaulted");
  assert.ok(appSpec.template.spec.containers[0]?.imagePullPolicy, "so is imagePullPolicy");
  assert.equal(appSpec.template.spec.dnsPolicy, "ClusterFirst", "and dnsPolicy");
}

async function withOperator(
  ns: string,
  updateStrategy: UpdateStrategy,
  body: (op: OperatorHandle) => Promise<void>,
): Promise<void> {
  const config = operatorConfig({
    name: "fields-operator",
    parent: Parent,
    children: [k8s.core.v1.ConfigMap, k8s.core.v1.Secret, k8s.apps.v1.Deployment, k8s.core.v1.Pod]
      .map((type) => ({ type, updateStrategy })),
    namespace: ns,
    server: false,
  });
  const op = await startOperator(config, ({ parent }) => ({
    children: childrenFor((parent as ParentObject).spec?.shape ?? "full"),
    resyncAfterMs: 200,
  }), { clientConfig: cp.clientConfig });
  try {
    await op.ready;
    await body(op);
  } finally {
    await op.stop();
  }
}

/** The type and name of each child. */
const CHILDREN = [
  [k8s.core.v1.ConfigMap, "config"],
  [k8s.core.v1.Secret, "secret"],
  [k8s.apps.v1.Deployment, "app"],
  [k8s.core.v1.Pod, "pod"],
] as const;

/** The children of a parent, by kind, with their uid and desired-hash annotation. */
async function stamps(ns: string): Promise<Record<string, { uid?: string; hash?: string }>> {
  const out: Record<string, { uid?: string; hash?: string }> = {};
  for (const [type, name] of CHILDREN) {
    const object = await new ResourceClient<KubernetesObject>(admin, type, ns).get(name);
    out[object.kind!] = {
      ...(object.metadata?.uid ? { uid: object.metadata.uid } : {}),
      ...(object.metadata?.annotations?.[DESIRED_HASH_ANNOTATION]
        ? { hash: object.metadata.annotations[DESIRED_HASH_ANNOTATION] }
        : {}),
    };
  }
  return out;
}

/**
 * Removes the desired-hash annotation from every child, as if an older version of the library
 * had written them.
 */
async function unstamp(ns: string): Promise<void> {
  const path = `/metadata/annotations/${DESIRED_HASH_ANNOTATION.replace("/", "~1")}`;
  for (const [type, name] of CHILDREN) {
    await new ResourceClient<KubernetesObject>(admin, type, ns).patch(name, [
      { op: "remove", path },
    ], { type: "json" });
  }
}

for (const strategy of ["Replace", "Recreate", "Apply"] as const) {
  Deno.test(`${strategy}: removed keys, labels, annotations, env vars and ports reach the cluster; resyncs write nothing`, async () => {
    const ns = await createNamespace(admin, `rm-${strategy.toLowerCase()}`);
    const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
    await withOperator(ns, strategy, async (op) => {
      await parents.create({ metadata: { name: "p" }, spec: { shape: "full" } });
      await waitForShape(ns, "full");
      await assertDefaulted(ns);
      // The fields the API server defaulted on the Pod and the Deployment are not the handler's:
      // nothing is written.
      assert.deepEqual(await writesOverSyncs(op, `${ns}/p`, 5), NO_WRITES, "steady state");

      const before = writes(op);
      await parents.patch("p", { spec: { shape: "reduced" } });
      await waitForShape(ns, "reduced");
      await assertDefaulted(ns);
      // One write for each of the three changed children; the Pod, unchanged, is left alone.
      await writesOverSyncs(op, `${ns}/p`, 0);
      assert.deepEqual(
        delta(before, writes(op)),
        {
          Replace: { ...NO_WRITES, update: 3 },
          Recreate: { ...NO_WRITES, delete: 3, create: 3 },
          Apply: { ...NO_WRITES, apply: 3 },
        }[strategy],
      );
      assert.deepEqual(await writesOverSyncs(op, `${ns}/p`, 5), NO_WRITES, "after the removal");
    });
  });

  Deno.test(`${strategy}: children written without the desired-hash annotation get it with one write each, and are not recreated`, async () => {
    const ns = await createNamespace(admin, `legacy-${strategy.toLowerCase()}`);
    const parents = new ResourceClient<ParentObject>(admin, Parent, ns);
    await withOperator(ns, strategy, async (op) => {
      await parents.create({ metadata: { name: "p" }, spec: { shape: "full" } });
      await waitForShape(ns, "full");
      assert.deepEqual(await writesOverSyncs(op, `${ns}/p`, 3), NO_WRITES, "steady state");
      const stamped = await stamps(ns);
      for (const [kind, { hash }] of Object.entries(stamped)) {
        assert.match(hash ?? "", /^[0-9a-f]{64}$/, `${kind} carries the desired hash`);
      }
      const before = writes(op);
      await unstamp(ns);
      await eventually(
        "every child stamped again",
        async () => JSON.stringify(await stamps(ns)) === JSON.stringify(stamped),
      );
      // The same objects (uids), stamped again with one write each: an apply with Apply, a
      // patch of the annotation alone (counted as an update) with Replace and Recreate.
      await writesOverSyncs(op, `${ns}/p`, 0);
      assert.deepEqual(
        delta(before, writes(op)),
        strategy === "Apply" ? { ...NO_WRITES, apply: 4 } : { ...NO_WRITES, update: 4 },
      );
      assert.deepEqual(await writesOverSyncs(op, `${ns}/p`, 5), NO_WRITES, "after the stamps");
    });
  });
}
