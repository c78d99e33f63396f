/**
 * The command line of an operator binary, parsed: {@linkcode parseCliArgs} reads the flags,
 * {@linkcode applyCliOptions} applies them to the configuration, {@linkcode cliHelp} describes
 * them. Nothing here runs the operator; `operatorMain` in `cli.ts` does.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { KubernetesObject } from "../client/resource_type.ts";
import type { OperatorConfigInit } from "../config/operator_config.ts";

/** The log levels `--log-level` accepts, lowest first. */
const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
const LOG_FORMATS = ["json", "pretty"] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The parsed command line of an operator binary. */
export interface CliOptions {
  /** `--namespace`, else `ROPERATOR_NAMESPACE`: confine the operator to this namespace. */
  namespace?: string;
  /** `--kubeconfig`: use this kubeconfig file instead of the in-cluster config. */
  kubeconfig?: string;
  /** `--context`: use this kubeconfig context. */
  context?: string;
  /** `--log-level`: the lowest level logged. Default `"info"`. */
  logLevel: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  /**
   * `--log-format`: one JSON object per line, or human-readable text. Default: `"pretty"` when
   * stderr is a terminal, else `"json"`.
   */
  logFormat: "json" | "pretty";
  /** `--port`: the port of the health and metrics server. */
  port?: number;
  /** `--print-rbac`: print the RBAC objects as YAML and exit. */
  printRbac: boolean;
  /** `--print-manifests`: print the RBAC objects, Service and StatefulSet as YAML and exit. */
  printManifests: boolean;
  /** `--print-crds`: print the parent's generated CRD as YAML and exit. */
  printCrds: boolean;
  /** `--image`: the container image for `--print-manifests`. */
  image?: string;
  /** `--help` or `-h`: print the help and exit. */
  help: boolean;
}

/** Options for {@linkcode parseCliArgs}. */
export interface ParseCliArgsOptions {
  /**
   * Reads an environment variable. Default `Deno.env.get`, without prompting: a variable the
   * process may not read counts as unset.
   */
  env?: (name: string) => string | undefined;
  /** Whether logs go to a terminal, for the default `--log-format`. Default: stderr's. */
  isTerminal?: boolean;
}

/** Options for {@linkcode CliUsageError}. */
export interface CliUsageErrorOptions extends ErrorOptions {
  /** The flag at fault, such as `--port`, or the environment variable. */
  flag?: string;
}

/**
 * A command line that cannot be used: an unknown flag, a missing or bad value. The message has
 * the form `Cannot parse the command line: <flag>: <detail>`.
 *
 * @example
 * ```ts
 * import { CliUsageError, parseCliArgs } from "./cli_args.ts";
 * try {
 *   parseCliArgs(["--port", "http"]);
 * } catch (error) {
 *   if (error instanceof CliUsageError) console.error(error.flag); // "--port"
 * }
 * ```
 */
export class CliUsageError extends TypeError {
  /** The flag at fault, such as `--port`, or the environment variable. */
  readonly flag: string | undefined;

  /**
   * Creates the error.
   *
   * @param message the whole message, `Cannot parse the command line: <flag>: <detail>`
   * @param options the flag at fault and the underlying cause
   */
  constructor(message: string, options?: CliUsageErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliUsageError";
    this.flag = options?.flag;
  }
}

function usageError(flag: string, detail: string): CliUsageError {
  return new CliUsageError(`Cannot parse the command line: ${flag}: ${detail}`, { flag });
}

/** `Deno.env.get` that never prompts: a variable the process may not read counts as unset. */
function quietEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

function checkNamespace(value: string, flag: string): string {
  if (value.length > 63 || !DNS_LABEL.test(value)) {
    throw usageError(
      flag,
      `"${value}" is not a valid namespace name (1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit)`,
    );
  }
  return value;
}

const STRING_FLAGS = [
  "namespace",
  "kubeconfig",
  "context",
  "log-level",
  "log-format",
  "port",
  "image",
] as const;
const BOOLEAN_FLAGS = ["print-rbac", "print-manifests", "print-crds", "help"] as const;

/**
 * Parses the command line of an operator binary.
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "./cli_args.ts";
 * const cli = parseCliArgs(["--namespace", "team-a", "--log-level=debug"], { isTerminal: false });
 * cli.namespace; // "team-a"
 * cli.logFormat; // "json"
 * ```
 *
 * @param args the arguments, without the program name (usually `Deno.args`)
 * @param options the environment and whether logs go to a terminal
 * @returns the options, with defaults filled in
 * @throws {CliUsageError} naming the flag, for an unknown flag, a flag without its value, a bad
 * value, a positional argument, `--image` without `--print-manifests`, or both print flags
 */
export function parseCliArgs(args: string[], options: ParseCliArgsOptions = {}): CliOptions {
  const { tokens } = parseArgs({
    args,
    options: {
      namespace: { type: "string", short: "n" },
      kubeconfig: { type: "string" },
      context: { type: "string" },
      "log-level": { type: "string" },
      "log-format": { type: "string" },
      port: { type: "string" },
      image: { type: "string" },
      "print-rbac": { type: "boolean" },
      "print-manifests": { type: "boolean" },
      "print-crds": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const strings = new Map<string, string>();
  const booleans = new Set<string>();
  for (const token of tokens) {
    if (token.kind === "positional") {
      throw usageError(token.value, "unexpected argument (flags start with --)");
    }
    if (token.kind === "option-terminator") continue;
    const flag = token.rawName;
    if ((STRING_FLAGS as readonly string[]).includes(token.name)) {
      const value = token.value;
      if (value === undefined || value === "" || (!token.inlineValue && value.startsWith("-"))) {
        throw usageError(flag, "needs a value");
      }
      strings.set(token.name, value);
    } else if ((BOOLEAN_FLAGS as readonly string[]).includes(token.name)) {
      if (token.value !== undefined) throw usageError(flag, "takes no value");
      booleans.add(token.name);
    } else {
      throw usageError(flag, "unknown flag");
    }
  }

  const cli: CliOptions = {
    logLevel: "info",
    logFormat: (options.isTerminal ?? Deno.stderr.isTerminal()) ? "pretty" : "json",
    printRbac: booleans.has("print-rbac"),
    printManifests: booleans.has("print-manifests"),
    printCrds: booleans.has("print-crds"),
    help: booleans.has("help"),
  };

  const namespace = strings.get("namespace");
  if (namespace !== undefined) {
    cli.namespace = checkNamespace(namespace, "--namespace");
  } else {
    const fromEnv = (options.env ?? quietEnv)("ROPERATOR_NAMESPACE");
    if (fromEnv !== undefined && fromEnv !== "") {
      cli.namespace = checkNamespace(fromEnv, "ROPERATOR_NAMESPACE");
    }
  }
  const kubeconfig = strings.get("kubeconfig");
  if (kubeconfig !== undefined) cli.kubeconfig = kubeconfig;
  const context = strings.get("context");
  if (context !== undefined) cli.context = context;

  const logLevel = strings.get("log-level");
  if (logLevel !== undefined) {
    const level = logLevel === "warn" ? "warning" : logLevel;
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw usageError(
        "--log-level",
        `must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`,
      );
    }
    cli.logLevel = level as CliOptions["logLevel"];
  }
  const logFormat = strings.get("log-format");
  if (logFormat !== undefined) {
    if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
      throw usageError("--log-format", `must be json or pretty, got "${logFormat}"`);
    }
    cli.logFormat = logFormat as CliOptions["logFormat"];
  }

  const port = strings.get("port");
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
      throw usageError("--port", `must be an integer from 0 to 65535, got "${port}"`);
    }
    cli.port = Number(port);
  }

  const image = strings.get("image");
  if (image !== undefined) {
    if (!cli.printManifests) throw usageError("--image", "only applies to --print-manifests");
    cli.image = image;
  }
  if (cli.printRbac && cli.printManifests) {
    throw usageError(
      "--print-rbac",
      "cannot be combined with --print-manifests (which includes the RBAC objects)",
    );
  }
  if (cli.printCrds && (cli.printRbac || cli.printManifests)) {
    throw usageError(
      "--print-crds",
      `cannot be combined with ${cli.printRbac ? "--print-rbac" : "--print-manifests"}`,
    );
  }
  return cli;
}

/**
 * The help text of an operator binary.
 *
 * @param name the program name, shown in the usage line
 * @returns the help text, ending with a newline
 */
export function cliHelp(name: string): string {
  return `Usage: ${name} [flags]

Runs the ${name} Kubernetes operator until SIGTERM or SIGINT. In a pod it uses the pod's
service account; elsewhere the kubeconfig (KUBECONFIG or ~/.kube/config).

Flags:
  -n, --namespace <name>     Watch only this namespace (default: every namespace;
                             env ROPERATOR_NAMESPACE when the flag is absent)
      --kubeconfig <path>    Use this kubeconfig file, not the in-cluster config
      --context <name>       Use this kubeconfig context
      --log-level <level>    trace, debug, info, warning, error or fatal (default: info)
      --log-format <format>  json (one object per line) or pretty (default: pretty when
                             stderr is a terminal, else json)
      --port <port>          Port of the health and metrics HTTP server (0: any free port)
      --print-rbac           Print the ServiceAccount, roles and bindings the operator needs
                             as YAML, with why each rule is needed, and exit
      --print-manifests      Print the RBAC objects, a headless Service and a one-replica
                             StatefulSet as YAML, and exit (needs --image)
      --image <image>        The container image for --print-manifests
      --print-crds           Print the parent's CustomResourceDefinition, generated from its
                             parentSchema() declaration, as YAML, and exit
  -h, --help                 Print this help and exit

Exit status: 0 after --help or printing, 1 when the operator fails, 2 on a usage error.
`;
}

/**
 * Applies the command line to a configuration: `--namespace` (or `ROPERATOR_NAMESPACE`) and
 * `--port` override the configured values. The configuration is not modified.
 *
 * @example
 * ```ts
 * import { applyCliOptions, parseCliArgs } from "./cli_args.ts";
 * import { k8s } from "../config/resource_types.ts";
 * const init = applyCliOptions(
 *   { name: "demo", parent: k8s.apps.v1.Deployment, server: { port: 8080 } },
 *   parseCliArgs(["--port", "9090"], { env: () => undefined }),
 * );
 * init.server; // { port: 9090 }
 * ```
 *
 * @param config the configuration as written by the program
 * @param cli the parsed command line
 * @returns a copy of the configuration with the overrides applied
 * @throws {CliUsageError} for `--port` when the configuration turns the HTTP server off
 */
export function applyCliOptions<P extends KubernetesObject>(
  config: OperatorConfigInit<P>,
  cli: CliOptions,
): OperatorConfigInit<P> {
  const result: OperatorConfigInit<P> = { ...config };
  if (cli.namespace !== undefined) result.namespace = cli.namespace;
  if (cli.port !== undefined) {
    if (config.server === false) {
      throw usageError(
        "--port",
        "this operator runs no HTTP server (its config has server: false)",
      );
    }
    result.server = { ...config.server, port: cli.port };
  }
  return result;
}
