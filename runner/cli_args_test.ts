import assert from "node:assert/strict";
import { resourceType } from "../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../config/operator_config.ts";
import { k8s } from "../config/resource_types.ts";
import {
  applyCliOptions,
  cliHelp,
  type CliOptions,
  CliUsageError,
  parseCliArgs,
} from "./cli_args.ts";

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
    printCrds: false,
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
      printCrds: false,
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
