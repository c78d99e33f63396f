import assert from "node:assert/strict";
import { loadAll } from "js-yaml";
import { resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { manifestsFor } from "../deploy/manifests.ts";
import { rbacFor } from "../deploy/rbac.ts";
import { parentSchema, Type } from "../schema/mod.ts";
import { cliHelp, operatorMain } from "./cli.ts";

const EchoServer = resourceType({
  apiVersion: "example.roperator.dev/v1alpha1",
  kind: "EchoServer",
  plural: "echoservers",
  namespaced: true,
});

const init: OperatorConfigInit = {
  name: "echo",
  parent: EchoServer,
  children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
};

const noEnv = () => undefined;

/** Runs operatorMain with captured output; only for paths that return without connecting. */
async function main(
  args: string[],
  options: { image?: string; config?: OperatorConfigInit } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const status = await operatorMain(options.config ?? init, () => ({ children: [] }), {
    args,
    env: noEnv,
    isTerminal: false,
    stdout: (text) => stdout += text,
    stderr: (text) => stderr += text,
    ...(options.image === undefined ? {} : { image: options.image }),
  });
  return { status, stdout, stderr };
}

Deno.test("operatorMain: --help prints the help and returns 0", async () => {
  const { status, stdout, stderr } = await main(["--help"]);
  assert.equal(status, 0);
  assert.equal(stdout, cliHelp("echo"));
  assert.equal(stderr, "");
});

Deno.test("operatorMain: --print-rbac prints commented YAML and returns 0", async () => {
  const { status, stdout, stderr } = await main(["--print-rbac", "-n", "team-a"]);
  assert.equal(status, 0);
  assert.equal(stderr, "");
  assert.match(stdout, /^# RBAC for the echo operator/);
  assert.match(stdout, /^# - Role "echo" in "team-a": core configmaps \[get, list/m);
  const config = operatorConfig({ ...init, namespace: "team-a" });
  assert.deepEqual(loadAll(stdout), rbacFor(config));
});

Deno.test("operatorMain: --print-manifests needs an image", async () => {
  const missing = await main(["--print-manifests"]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--print-manifests: needs --image/);
  assert.match(missing.stderr, /Run "echo --help"/);

  const fromFlag = await main(["--print-manifests", "--image", "ghcr.io/x/echo:1", "--port=9000"]);
  assert.equal(fromFlag.status, 0);
  assert.deepEqual(
    loadAll(fromFlag.stdout),
    manifestsFor(operatorConfig({ ...init, server: { port: 9000 } }), {
      image: "ghcr.io/x/echo:1",
    }),
  );
  const fromOption = await main(["--print-manifests"], { image: "ghcr.io/x/echo:2" });
  assert.equal(fromOption.status, 0);
  assert.match(fromOption.stdout, /image: ghcr\.io\/x\/echo:2/);
});

Deno.test("operatorMain: --print-crds prints the CRD of a parent declared with parentSchema()", async () => {
  const Greeting = parentSchema({
    apiVersion: "example.roperator.dev/v1",
    kind: "Greeting",
    plural: "greetings",
    namespaced: true,
    spec: Type.Object({ message: Type.String({ minLength: 1 }) }),
  });
  let stdout = "";
  let stderr = "";
  const status = await operatorMain(
    { name: "greeter", parent: Greeting, children: [] },
    ({ parent }) => ({ status: { message: parent.spec.message }, children: [] }),
    {
      args: ["--print-crds"],
      env: noEnv,
      isTerminal: false,
      stdout: (text) => stdout += text,
      stderr: (text) => stderr += text,
    },
  );
  assert.equal(status, 0, stderr);
  assert.equal(stderr, "");
  assert.match(
    stdout,
    /^# CustomResourceDefinition of Greeting, generated from its parentSchema\(\) declaration \(greeter --print-crds\)\./,
  );
  assert.deepEqual(loadAll(stdout), [Greeting.crd()]);
});

Deno.test("operatorMain: --print-crds of a hand-written parent says why and returns 1", async () => {
  const { status, stdout, stderr } = await main(["--print-crds"]);
  assert.equal(status, 1);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    "echo: Cannot print CRDs: the parent EchoServer was declared with resourceType(), so its CRD is written by hand; declare it with parentSchema() from @roperator/core/schema to generate it\n",
  );
  const both = await main(["--print-crds", "--print-rbac"]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--print-crds: cannot be combined with --print-rbac/);
});

Deno.test("operatorMain: usage errors return 2 with a hint", async () => {
  const { status, stdout, stderr } = await main(["--log-level", "loud"]);
  assert.equal(status, 2);
  assert.equal(stdout, "");
  assert.equal(
    stderr,
    'echo: Cannot parse the command line: --log-level: must be one of trace, debug, info, warning, error, fatal, got "loud"\n' +
      'Run "echo --help" for the flags.\n',
  );
});

Deno.test("operatorMain: an invalid config returns 1", async () => {
  const { status, stderr } = await main(["--print-rbac"], {
    config: { ...init, concurrency: 0 },
  });
  assert.equal(status, 1);
  assert.match(stderr, /^echo: Cannot configure operator "echo": concurrency: /);
});

Deno.test("operatorMain: logs a fatal error as JSON and returns 1 when it cannot start", async () => {
  const root = new URL("../", import.meta.url);
  const script = `
    import { operatorMain } from ${JSON.stringify(new URL("runner/cli.ts", root).href)};
    import { k8s } from ${JSON.stringify(new URL("config/resource_types.ts", root).href)};
    Deno.exit(await operatorMain(
      { name: "demo", parent: k8s.apps.v1.Deployment },
      () => ({ children: [] }),
      { args: ["--kubeconfig", "/nonexistent/kubeconfig", "--log-format", "json"] },
    ));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  assert.equal(new TextDecoder().decode(output.stdout), "");
  const lines = stderr.trim().split("\n").map((line) => JSON.parse(line));
  const fatal = lines.find((line) => line.level === "FATAL");
  assert.ok(fatal, stderr);
  assert.equal(fatal.logger, "roperator.cli");
  assert.match(fatal.message, /^operator demo cannot start: /);
  assert.match(fatal.message, /nonexistent/);
});

/**
 * The modules `entry` loads before it runs: its static imports, recursively, by `deno info`.
 * Dynamic `import()`s and type-only imports are left out.
 */
async function staticGraph(entry: URL): Promise<Set<string>> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    roots: string[];
    modules: Array<{
      specifier: string;
      dependencies?: Array<{ code?: { specifier: string }; isDynamic?: boolean }>;
    }>;
  };
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code !== undefined && dependency.isDynamic !== true) {
        stack.push(dependency.code.specifier);
      }
    }
  }
  return seen;
}

Deno.test("operatorMain loads manifest generation (deploy/) only for --print-rbac and --print-manifests", async () => {
  const root = new URL("../", import.meta.url);
  const graph = await staticGraph(new URL("runner/cli.ts", root));
  assert.ok(graph.has(new URL("runner/run_operator.ts", root).href));
  const deploy = new URL("deploy/", root).href;
  assert.deepEqual([...graph].filter((specifier) => specifier.startsWith(deploy)), []);
  // Nor TypeBox, which only an operator that declares its parent with parentSchema() loads.
  assert.deepEqual([...graph].filter((specifier) => specifier.includes("typebox")), []);
});
