import assert from "node:assert/strict";
import { loadAll } from "js-yaml";
import { resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import { manifestsFor } from "../deploy/manifests.ts";
import { rbacFor } from "../deploy/rbac.ts";
import {
  applyCliOptions,
  cliHelp,
  type CliOptions,
  CliUsageError,
  operatorMain,
  parseCliArgs,
} from "./cli.ts";

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

function parse(args: string[], env: Record<string, string> = {}): CliOptions {
  return parseCliArgs(args, { env: (name) => env[name], isTerminal: false });
}

function assertUsageError(args: string[], flag: string, pattern: RegExp): void {
  assert.throws(
    () => parse(args),
    (error: unknown) => {
      assert.ok(error instanceof CliUsageError, `not a CliUsageError: ${error}`);
      assert.ok(error instanceof TypeError);
      assert.equal(error.name, "CliUsageError");
      assert.equal(error.flag, flag);
      assert.ok(
        error.message.startsWith(`Cannot parse the command line: ${flag}: `),
        error.message,
      );
      assert.match(error.message, pattern);
      return true;
    },
  );
}

Deno.test("parseCliArgs: defaults", () => {
  assert.deepEqual(parse([]), {
    logLevel: "info",
    logFormat: "json",
    printRbac: false,
    printManifests: false,
    help: false,
  });
  assert.equal(parseCliArgs([], { env: noEnv, isTerminal: true }).logFormat, "pretty");
});

Deno.test("parseCliArgs: every flag", () => {
  assert.deepEqual(
    parse([
      "--namespace",
      "team-a",
      "--kubeconfig",
      "/home/me/.kube/dev",
      "--context",
      "kind-dev",
      "--log-level",
      "debug",
      "--log-format",
      "pretty",
      "--port",
      "9090",
      "--print-manifests",
      "--image",
      "ghcr.io/example/echo:1.0.0",
      "--help",
    ]),
    {
      namespace: "team-a",
      kubeconfig: "/home/me/.kube/dev",
      context: "kind-dev",
      logLevel: "debug",
      logFormat: "pretty",
      port: 9090,
      printRbac: false,
      printManifests: true,
      image: "ghcr.io/example/echo:1.0.0",
      help: true,
    },
  );
  assert.equal(parse(["--print-rbac"]).printRbac, true);
  assert.equal(parse(["-h"]).help, true);
  assert.equal(parse(["-n", "team-b"]).namespace, "team-b");
  assert.equal(parse(["--namespace=team-c"]).namespace, "team-c");
  assert.equal(parse(["--port=0"]).port, 0);
  assert.equal(parse(["--log-format=json"], {}).logFormat, "json");
  for (const level of ["trace", "debug", "info", "warning", "error", "fatal"]) {
    assert.equal(parse([`--log-level=${level}`]).logLevel, level);
  }
  assert.equal(parse(["--log-level", "warn"]).logLevel, "warning");
  // The last occurrence wins.
  assert.equal(parse(["--port", "1", "--port", "2"]).port, 2);
});

Deno.test("parseCliArgs: ROPERATOR_NAMESPACE when --namespace is absent", () => {
  assert.equal(parse([], { ROPERATOR_NAMESPACE: "from-env" }).namespace, "from-env");
  assert.equal(
    parse(["--namespace", "from-flag"], { ROPERATOR_NAMESPACE: "from-env" }).namespace,
    "from-flag",
  );
  assert.equal(parse([], { ROPERATOR_NAMESPACE: "" }).namespace, undefined);
  assert.throws(
    () => parse([], { ROPERATOR_NAMESPACE: "Bad_Name" }),
    (error: unknown) =>
      error instanceof CliUsageError && error.flag === "ROPERATOR_NAMESPACE" &&
      error.message.includes('"Bad_Name" is not a valid namespace name'),
  );
});

Deno.test("parseCliArgs: unknown flags and bad values name the flag", () => {
  assertUsageError(["--verbose"], "--verbose", /unknown flag/);
  assertUsageError(["-x"], "-x", /unknown flag/);
  assertUsageError(["--no-help"], "--no-help", /unknown flag/);
  assertUsageError(["--log-level", "verbose"], "--log-level", /must be one of trace, debug/);
  assertUsageError(["--log-level=INFO"], "--log-level", /got "INFO"/);
  assertUsageError(["--log-format", "xml"], "--log-format", /must be json or pretty/);
  assertUsageError(["--port", "http"], "--port", /integer from 0 to 65535, got "http"/);
  assertUsageError(["--port", "65536"], "--port", /got "65536"/);
  assertUsageError(["--port=-1"], "--port", /got "-1"/);
  assertUsageError(["--port", "80.5"], "--port", /got "80.5"/);
  assertUsageError(["--port"], "--port", /needs a value/);
  assertUsageError(["--namespace", "--port", "1"], "--namespace", /needs a value/);
  assertUsageError(["--kubeconfig="], "--kubeconfig", /needs a value/);
  assertUsageError(["--namespace", "Team_A"], "--namespace", /not a valid namespace name/);
  assertUsageError(["--help=yes"], "--help", /takes no value/);
  assertUsageError(["run"], "run", /unexpected argument/);
  assertUsageError(["--", "run"], "run", /unexpected argument/);
  assertUsageError(["--image", "x"], "--image", /only applies to --print-manifests/);
  assertUsageError(
    ["--print-rbac", "--print-manifests"],
    "--print-rbac",
    /cannot be combined with --print-manifests/,
  );
});

Deno.test("cliHelp: mentions the program and every flag", () => {
  const help = cliHelp("echo-operator");
  assert.ok(help.startsWith("Usage: echo-operator [flags]\n"));
  for (
    const flag of [
      "--namespace",
      "-n,",
      "ROPERATOR_NAMESPACE",
      "--kubeconfig",
      "--context",
      "--log-level",
      "--log-format",
      "--port",
      "--print-rbac",
      "--print-manifests",
      "--image",
      "--help",
      "-h,",
    ]
  ) {
    assert.ok(help.includes(flag), `help lacks ${flag}`);
  }
  for (const line of help.split("\n")) assert.ok(line.length <= 100, line);
});

Deno.test("applyCliOptions: namespace and port override the config", () => {
  const config: OperatorConfigInit = {
    ...init,
    namespace: "configured",
    server: { port: 8080, hostname: "127.0.0.1" },
  };
  const applied = applyCliOptions(config, parse(["--namespace", "team-a", "--port", "9090"]));
  assert.equal(applied.namespace, "team-a");
  assert.deepEqual(applied.server, { port: 9090, hostname: "127.0.0.1" });
  assert.equal(config.namespace, "configured", "the config is not modified");
  assert.deepEqual(config.server, { port: 8080, hostname: "127.0.0.1" });

  assert.deepEqual(applyCliOptions(init, parse([])), init);
  assert.deepEqual(applyCliOptions(init, parse(["--port", "1234"])).server, { port: 1234 });
  assert.equal(
    applyCliOptions(init, parse([], { ROPERATOR_NAMESPACE: "from-env" })).namespace,
    "from-env",
  );
  const resolved = operatorConfig(applyCliOptions(init, parse(["-n", "x", "--port", "81"])));
  assert.equal(resolved.namespace, "x");
  assert.equal(resolved.server?.port, 81);
});

Deno.test("applyCliOptions: --port with the server turned off is a usage error", () => {
  assert.throws(
    () => applyCliOptions({ ...init, server: false }, parse(["--port", "9090"])),
    (error: unknown) => error instanceof CliUsageError && error.flag === "--port",
  );
});

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
  assert.match(fatal.message, /^operator "demo" cannot start: /);
  assert.match(fatal.message, /nonexistent/);
});
