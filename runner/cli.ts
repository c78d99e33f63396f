/**
 * The command line of operator binaries: {@linkcode operatorMain} parses the arguments, prints
 * help, RBAC or manifests, or configures logging and runs the operator.
 *
 * ```ts ignore
 * Deno.exit(await operatorMain(config, handler));
 * ```
 *
 * Flags: `--namespace` (or `ROPERATOR_NAMESPACE`), `--kubeconfig`, `--context`, `--log-level`,
 * `--log-format`, `--port`, `--print-rbac`, `--print-manifests`, `--image` and `--help`. Exit
 * codes: 0 after help or printing, 1 when the operator fails, 2 on a usage error.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ansiColorFormatter,
  configure,
  getConfig,
  getConsoleSink,
  getLogger,
  getTextFormatter,
  jsonLinesFormatter,
  type LogLevel,
  type TextFormatter,
} from "@logtape/logtape";
import type { ClientConfig } from "../client/client_config.ts";
import { fromKubeconfig } from "../client/kubeconfig.ts";
import { loadClientConfig } from "../client/load_client_config.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import {
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
} from "../config/operator_config.ts";
import { manifestsFor, toYaml } from "../deploy/manifests.ts";
import { explainRules, rbacFor } from "../deploy/rbac.ts";
import type { Handler } from "../handler/handler.ts";
import { ClientConfigError } from "../client/config_error.ts";
import { OperatorFatalError, runOperator } from "./run_operator.ts";

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
 * import { CliUsageError, parseCliArgs } from "./cli.ts";
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
const BOOLEAN_FLAGS = ["print-rbac", "print-manifests", "help"] as const;

/**
 * Parses the command line of an operator binary.
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "./cli.ts";
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
 * import { applyCliOptions, parseCliArgs } from "./cli.ts";
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
export function applyCliOptions(config: OperatorConfigInit, cli: CliOptions): OperatorConfigInit {
  const result: OperatorConfigInit = { ...config };
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

/** Options for {@linkcode operatorMain}. */
export interface OperatorMainOptions {
  /** The command-line arguments. Default `Deno.args`. */
  args?: string[];
  /** The default image for `--print-manifests` (`--image` overrides it). */
  image?: string;
  /** Reads an environment variable (for `ROPERATOR_NAMESPACE`). Default: `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Whether stderr is a terminal, for the default log format. Default: stderr's. */
  isTerminal?: boolean;
  /** Writes to standard output (help, YAML). Default: `Deno.stdout`. */
  stdout?: (text: string) => void;
  /** Writes to standard error (usage and configuration errors). Default: `Deno.stderr`. */
  stderr?: (text: string) => void;
}

function writer(file: { writeSync(p: Uint8Array): number }): (text: string) => void {
  return (text) => {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The error as a log property, for unexpected errors only: the message of a configuration or
 * fatal operator error (a missing permission, a missing CRD) says it all, without a stack trace.
 */
function errorProperty(error: unknown): { error?: unknown } {
  return error instanceof ClientConfigError || error instanceof OperatorFatalError ? {} : { error };
}

/**
 * Sets up LogTape for the operator process, unless the program configured it already: one
 * console sink writing every record to stderr, as JSON Lines or as text (coloured on a
 * terminal), from `level` up.
 */
async function configureLogging(cli: CliOptions, isTerminal: boolean): Promise<void> {
  if (getConfig() !== null) return;
  const formatter: TextFormatter = cli.logFormat === "json"
    ? jsonLinesFormatter
    : isTerminal
    ? ansiColorFormatter
    : getTextFormatter();
  const level: LogLevel = cli.logLevel;
  await configure({
    sinks: {
      console: getConsoleSink({
        formatter,
        // Everything to stderr, in order; stdout stays for --print-* output.
        levelMap: {
          trace: "error",
          debug: "error",
          info: "error",
          warning: "error",
          error: "error",
          fatal: "error",
        },
      }),
    },
    loggers: [
      { category: [], sinks: ["console"], lowestLevel: level },
      {
        category: ["logtape", "meta"],
        sinks: ["console"],
        parentSinks: "override",
        lowestLevel: "warning",
      },
    ],
  });
}

/**
 * The `main` of an operator binary: parses the command line (see {@linkcode cliHelp}), then
 *
 * - with `--help`, prints the help and returns 0;
 * - with `--print-rbac`, prints the RBAC objects as YAML (with a comment per rule saying why it
 *   is needed) and returns 0;
 * - with `--print-manifests`, prints the RBAC objects, Service and StatefulSet as YAML and
 *   returns 0;
 * - otherwise configures LogTape (unless the program did), loads the client config (from
 *   `--kubeconfig`/`--context`, else in-cluster or the default kubeconfig) and runs the operator
 *   until SIGTERM or SIGINT, after which it shuts down gracefully and returns 0. A fatal error is
 *   logged and 1 returned.
 *
 * A usage error prints the message and a hint to `--help` and returns 2; an invalid
 * configuration prints the error and returns 1.
 *
 * @example
 * ```ts ignore
 * import { operatorConfig, operatorMain } from "@roperator/core";
 * Deno.exit(await operatorMain(config, handler));
 * ```
 *
 * @param init the operator configuration as written by the program; the command line overrides
 * its namespace and port
 * @param handler the sync (and finalize) handler
 * @param options the arguments (default `Deno.args`), the default image for
 * `--print-manifests`, and the environment and output streams (for tests)
 * @returns the process exit status
 */
export async function operatorMain<P extends KubernetesObject = KubernetesObject>(
  init: OperatorConfigInit,
  handler: Handler<P>,
  options: OperatorMainOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? writer(Deno.stdout);
  const stderr = options.stderr ?? writer(Deno.stderr);
  const program = typeof init?.name === "string" && init.name !== "" ? init.name : "operator";
  const isTerminal = options.isTerminal ?? Deno.stderr.isTerminal();

  let cli: CliOptions;
  let config: OperatorConfig;
  try {
    cli = parseCliArgs(options.args ?? Deno.args, {
      isTerminal,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    if (cli.help) {
      stdout(cliHelp(program));
      return 0;
    }
    config = operatorConfig(applyCliOptions(init, cli));
  } catch (error) {
    if (error instanceof CliUsageError) {
      stderr(`${program}: ${error.message}\nRun "${program} --help" for the flags.\n`);
      return 2;
    }
    stderr(`${program}: ${messageOf(error)}\n`);
    return 1;
  }

  if (cli.printRbac || cli.printManifests) {
    try {
      if (cli.printRbac) {
        stdout(toYaml(rbacFor(config), {
          comments: [`RBAC for the ${config.name} operator. Why each rule is needed:`].concat(
            explainRules(config).map((line) => `- ${line}`),
          ),
        }));
        return 0;
      }
      const image = cli.image ?? options.image;
      if (image === undefined) {
        stderr(
          `${program}: Cannot parse the command line: --print-manifests: needs --image\nRun "${program} --help" for the flags.\n`,
        );
        return 2;
      }
      stdout(toYaml(manifestsFor(config, { image }), {
        comments: [`Deployment of the ${config.name} operator.`],
      }));
      return 0;
    } catch (error) {
      stderr(`${program}: ${messageOf(error)}\n`);
      return 1;
    }
  }

  await configureLogging(cli, isTerminal);
  const logger = getLogger(["roperator", "cli"]);
  const userAgent = `${config.name} (roperator)`;
  let clientConfig: ClientConfig;
  try {
    clientConfig = cli.kubeconfig !== undefined || cli.context !== undefined
      ? await fromKubeconfig({
        userAgent,
        ...(cli.kubeconfig === undefined ? {} : { path: cli.kubeconfig }),
        ...(cli.context === undefined ? {} : { context: cli.context }),
        ...(options.env === undefined ? {} : { env: options.env }),
      })
      : await loadClientConfig({
        userAgent,
        ...(options.env === undefined ? {} : { env: options.env }),
      });
  } catch (error) {
    logger.fatal("operator {name} cannot start: {message}", {
      name: config.name,
      message: messageOf(error),
      ...errorProperty(error),
    });
    return 1;
  }
  logger.info("starting operator {name} ({scope}), log level {level}", {
    name: config.name,
    scope: config.namespace === undefined ? "all namespaces" : `namespace ${config.namespace}`,
    level: cli.logLevel,
  });
  const error = await runOperator(config, handler, { clientConfig });
  if (error === undefined) return 0;
  logger.fatal("operator {name} stopped: {message}", {
    name: config.name,
    message: messageOf(error),
    ...errorProperty(error),
  });
  return 1;
}
