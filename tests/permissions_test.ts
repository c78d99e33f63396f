// The echo-server entry point under the narrowest Deno permissions (deploy/permissions.ts), and
// with one of them missing: each missing permission is explained in one line that names the
// flag to add, with no stack trace.
import assert from "node:assert/strict";
import { load as parseYaml } from "js-yaml";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { OPERATOR_ENV_VARS, permissionFlags, SERVICE_ACCOUNT_DIR } from "../deploy/permissions.ts";

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  const crd = parseYaml(
    await Deno.readTextFile(new URL("../examples/echo-server/crd.yaml", import.meta.url)),
  ) as KubernetesObject;
  await installCustomResourceDefinitions(admin, [crd]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

const main = new URL("../examples/echo-server/main.ts", import.meta.url).pathname;
const apiHost = () => new URL(cp.server).host;

interface Run {
  code: number;
  stderr: string;
}

/** Runs the entry point with these flags until it exits, or stops it after `untilMs`. */
async function runWith(
  flags: string[],
  args: string[],
  options: { env?: Record<string, string>; untilReady?: number } = {},
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, main, ...args],
    env: options.env ?? {},
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reading = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (chunk) => void (stderr += chunk) }),
  );
  if (options.untilReady !== undefined) {
    const deadline = Date.now() + 60_000;
    let ready = false;
    while (!ready && Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${options.untilReady}/ready`);
        await res.body?.cancel();
        ready = res.ok;
      } catch { /* not listening yet */ }
      if (!ready) await new Promise((r) => setTimeout(r, 200));
    }
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await reading;
  return { code: status.code, stderr };
}

/** The one fatal line: no other error lines and no stack trace. */
function fatalLine(run: Run): string {
  const lines = run.stderr.split("\n").filter((l) => l.trim() !== "");
  const fatal = lines.filter((l) => /\[(FTL|ERR)\]/.test(l));
  assert.equal(fatal.length, 1, `one fatal line; stderr:\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
  assert.equal(run.code, 1);
  return fatal[0]!;
}

Deno.test("the entry point runs under the narrowest permissions", async () => {
  const port = freePort();
  const run = await runWith(
    permissionFlags({ kubeconfigPaths: [cp.kubeconfigPath] }),
    ["--kubeconfig", cp.kubeconfigPath, "--port", String(port), "--log-format", "pretty"],
    { untilReady: port },
  );
  assert.equal(run.code, 0, `exit code after SIGTERM; stderr:\n${run.stderr}`);
  assert.match(run.stderr, /ready: caches synced/);
  assert.doesNotMatch(run.stderr, /\[(FTL|ERR|WRN)\]/, "no warning or error");
});

Deno.test("a kubeconfig it may not read: one line naming --allow-read=<path>", async () => {
  const run = await runWith(
    permissionFlags().filter((f) => !f.startsWith("--allow-read")).concat(
      `--allow-read=${SERVICE_ACCOUNT_DIR}`,
    ),
    ["--kubeconfig", cp.kubeconfigPath, "--log-format", "pretty"],
  );
  const line = fatalLine(run);
  assert.ok(
    line.includes(`Cannot load kubeconfig "${cp.kubeconfigPath}"`) &&
      line.includes(`run with --allow-read=${cp.kubeconfigPath}`),
    line,
  );
});

Deno.test("an API server it may not connect to: one line naming --allow-net=<host:port>", async () => {
  const run = await runWith(
    permissionFlags({ kubeconfigPaths: [cp.kubeconfigPath], netHosts: ["127.0.0.2:1"] }),
    ["--kubeconfig", cp.kubeconfigPath, "--log-format", "pretty"],
  );
  const line = fatalLine(run);
  assert.ok(
    line.includes(
      `cannot connect to the API server ${cp.server}: run with --allow-net=${apiHost()}`,
    ),
    line,
  );
});

Deno.test("a port it may not listen on: one line naming --allow-net=<address:port>", async () => {
  const port = freePort();
  const run = await runWith(
    permissionFlags({ kubeconfigPaths: [cp.kubeconfigPath], netHosts: [apiHost()] }),
    ["--kubeconfig", cp.kubeconfigPath, "--port", String(port), "--log-format", "pretty"],
  );
  const line = fatalLine(run);
  assert.ok(
    line.includes(`cannot listen on 0.0.0.0:${port}: run with --allow-net=0.0.0.0:${port}`),
    line,
  );
});

Deno.test("an environment variable it may not read: one line naming --allow-env=<name>", async () => {
  const run = await runWith(
    [
      "--allow-net",
      `--allow-env=${OPERATOR_ENV_VARS.filter((v) => v !== "KUBECONFIG").join(",")}`,
      `--allow-read=${cp.kubeconfigPath}`,
    ],
    ["--log-format", "pretty"],
    { env: { KUBECONFIG: cp.kubeconfigPath } },
  );
  const line = fatalLine(run);
  assert.ok(line.includes("run with --allow-env=KUBECONFIG"), line);
});

Deno.test("the JSON log line of a missing permission carries no stack trace", async () => {
  const run = await runWith(
    permissionFlags({ kubeconfigPaths: [cp.kubeconfigPath], netHosts: ["127.0.0.2:1"] }),
    ["--kubeconfig", cp.kubeconfigPath, "--log-format", "json"],
  );
  assert.equal(run.code, 1);
  const records = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) =>
    JSON.parse(l) as { level: string; message: string; properties: Record<string, unknown> }
  );
  const fatal = records.filter((r) => r.level === "FATAL");
  assert.equal(fatal.length, 1, run.stderr);
  assert.match(fatal[0]!.message, /run with --allow-net=/);
  assert.equal(fatal[0]!.properties.error, undefined, "no error object with a stack");
});
