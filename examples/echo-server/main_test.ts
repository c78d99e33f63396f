// The operator binary's inputs, as a user deploys them: the same entry point `deno task compile`
// builds, run with `deno run` and the same permission flags (deploy/permissions.ts), with a token
// of the ServiceAccount that the generated RBAC binds. Proves the least-privilege RBAC suffices,
// that removing a rule fails with a clear 403, and that SIGTERM ends the process cleanly.
import assert from "node:assert/strict";
import { k8s, type KubernetesObject, operatorConfig } from "@roperator/core";
import { KubeClient, ResourceClient } from "@roperator/core/client";
import { permissionFlags, rbacFor } from "@roperator/core/deploy";
import {
  type ControlPlane,
  deployServiceAccount,
  installCustomResourceDefinitions,
  testControlPlane,
} from "@roperator/core/testkit";
import { configInit, EchoServerType } from "./operator.ts";

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [EchoServerType.crd()]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Deployed {
  namespace: string;
  token: string;
  kubeconfigPath: string;
}

/** Creates a namespace, applies the generated RBAC (optionally edited) and mints its token. */
async function deploy(edit?: (objects: KubernetesObject[]) => void): Promise<Deployed> {
  const namespace = `echo-bin-${Date.now().toString(36)}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: namespace } });
  const objects = rbacFor(operatorConfig({ ...configInit, namespace }), { namespace });
  edit?.(objects);
  const { token, kubeconfigPath } = await deployServiceAccount(cp, objects);
  return { namespace, token, kubeconfigPath };
}

/** Runs main.ts exactly as the compiled binary would be (same permission flags). */
function runOperator(deployed: Deployed, port: number) {
  const main = new URL("./main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...permissionFlags({ kubeconfigPaths: [deployed.kubeconfigPath] }),
      main,
      "--kubeconfig",
      deployed.kubeconfigPath,
      "--namespace",
      deployed.namespace,
      "--port",
      String(port),
      "--log-format",
      "json",
      "--log-level",
      "debug",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let logs = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (logs += chunk) }),
  );
  const out = child.stdout.pipeTo(new WritableStream());
  return {
    child,
    logs: () => logs,
    async stop(): Promise<Deno.CommandStatus> {
      child.kill("SIGTERM");
      const status = await child.status;
      await reading;
      await out;
      return status;
    },
  };
}

Deno.test("the operator entry point converges under its generated RBAC and exits 0 on SIGTERM", async () => {
  const deployed = await deploy();
  const port = freePort();
  const operator = runOperator(deployed, port);
  try {
    await waitFor("/ready", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
      return res.ok;
    });
    const parents = new ResourceClient(admin, EchoServerType, deployed.namespace);
    // `image` has a default in the schema, but the TypeScript type of a parent is what the
    // handler reads (defaults applied), so an object written from TypeScript gives it.
    await parents.create({
      metadata: { name: "bin" },
      spec: { serviceName: "bin-svc", image: "hashicorp/http-echo:1.0" },
    });
    const pods = new ResourceClient(admin, k8s.core.v1.Pod, deployed.namespace);
    const services = new ResourceClient(admin, k8s.core.v1.Service, deployed.namespace);
    await waitFor("the Pod", () => pods.find("bin-echo"));
    await waitFor("the Service", () => services.find("bin-svc"));
    await waitFor("the status", async () => (await parents.get("bin")).status?.phase === "Pending");
  } finally {
    const started = performance.now();
    const status = await operator.stop();
    const seconds = (performance.now() - started) / 1000;
    assert.equal(status.code, 0, `exit code after SIGTERM; logs:\n${operator.logs().slice(-2000)}`);
    assert.ok(seconds < 10, `exited within 10 s (took ${seconds.toFixed(1)} s)`);
    assert.ok(!operator.logs().includes(deployed.token), "the token never appears in the logs");
    assert.ok(
      operator.logs().includes('"level":"DEBUG"'),
      "debug logs were on (the check means something)",
    );
  }
});

Deno.test("without one RBAC rule the operator reports a clear 403 naming the verb and resource", async () => {
  // Remove "create" from the rule that grants the Pod children.
  const deployed = await deploy((objects) => {
    for (const object of objects) {
      for (const rule of (object.rules as Array<{ resources: string[]; verbs: string[] }>) ?? []) {
        if (rule.resources.includes("pods")) rule.verbs = rule.verbs.filter((v) => v !== "create");
      }
    }
  });
  const port = freePort();
  const operator = runOperator(deployed, port);
  try {
    await waitFor("/ready", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
      return res.ok;
    });
    await new ResourceClient(admin, EchoServerType, deployed.namespace).create({
      metadata: { name: "denied" },
      spec: { serviceName: "denied-svc", image: "hashicorp/http-echo:1.0" },
    });
    const line = await waitFor("a 403 in the logs", () =>
      Promise.resolve(
        operator.logs().split("\n").find((l) =>
          l.includes("403 Forbidden") && l.includes("cannot create resource")
        ),
      ));
    const record = JSON.parse(line) as {
      level: string;
      properties: { parent: string; error: string };
    };
    assert.equal(record.level, "ERROR");
    assert.match(record.properties.parent, /\/denied$/, "the log names the parent");
    assert.match(
      record.properties.error,
      /cannot write Pod ".+\/denied-echo": Cannot POST \/api\/v1\/namespaces\/.+\/pods.*: 403 Forbidden: pods is forbidden: User "system:serviceaccount:[^"]+" cannot create resource "pods"/,
    );
  } finally {
    const status = await operator.stop();
    assert.equal(status.code, 0);
    assert.ok(!operator.logs().includes(deployed.token), "the token never appears in the logs");
  }
});
