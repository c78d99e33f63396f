/**
 * The command line of operator binaries: {@linkcode operatorMain} parses the arguments, prints
 * help, RBAC, manifests or the parent's CRD, or configures logging and runs the operator.
 *
 * ```ts ignore
 * Deno.exit(await operatorMain(config, handler));
 * ```
 *
 * Flags: `--namespace` (or `ROPERATOR_NAMESPACE`), `--kubeconfig`, `--context`, `--log-level`,
 * `--log-format`, `--port`, `--print-rbac`, `--print-manifests`, `--image`, `--print-crds` and
 * `--help`. Exit
 * codes: 0 after help or printing, 1 when the operator fails, 2 on a usage error.
 *
 * @module
 */
import {
  ansiColorFormatter,
  configure,
  getConfig,
  getConsoleSink,
  getLogger,
  getTextFormatter,
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
import type { Handler } from "../handler/handler.ts";
import { ClientConfigError } from "../client/config_error.ts";
import {
  applyCliOptions,
  cliHelp,
  type CliOptions,
  CliUsageError,
  parseCliArgs,
} from "./cli_args.ts";
import { OperatorFatalError, runOperator } from "./run_operator.ts";
import { messageOf } from "../client/_util.ts";
import { jsonLogFormatter } from "./log_format.ts";

export {
  applyCliOptions,
  cliHelp,
  type CliOptions,
  CliUsageError,
  type CliUsageErrorOptions,
  parseCliArgs,
  type ParseCliArgsOptions,
} from "./cli_args.ts";

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
    ? jsonLogFormatter
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
 * - with `--print-crds`, prints the parent's CustomResourceDefinition as YAML and returns 0 (the
 *   parent must be declared with `parentSchema()`, else it prints why and returns 1);
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
  init: OperatorConfigInit<P>,
  handler: Handler<P>,
  options: OperatorMainOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? writer(Deno.stdout);
  const stderr = options.stderr ?? writer(Deno.stderr);
  const program = typeof init?.name === "string" && init.name !== "" ? init.name : "operator";
  const isTerminal = options.isTerminal ?? Deno.stderr.isTerminal();

  let cli: CliOptions;
  let config: OperatorConfig<P>;
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

  if (cli.printCrds) {
    try {
      const [{ toYaml }, { isParentSchema }] = await Promise.all([
        import("../deploy/manifests.ts"),
        import("../schema/is_parent_schema.ts"),
      ]);
      if (!isParentSchema(config.parent)) {
        stderr(
          `${program}: Cannot print CRDs: the parent ${config.parent.kind} was declared with resourceType(), so its CRD is written by hand; declare it with parentSchema() from @roperator/core/schema to generate it\n`,
        );
        return 1;
      }
      stdout(toYaml([config.parent.crd()], {
        comments: [
          `CustomResourceDefinition of ${config.parent.kind}, generated from its parentSchema() ` +
          `declaration (${program} --print-crds).`,
        ],
      }));
      return 0;
    } catch (error) {
      stderr(`${program}: ${messageOf(error)}\n`);
      return 1;
    }
  }

  if (cli.printRbac || cli.printManifests) {
    try {
      // Manifest generation and YAML output load only for these flags: a running operator does
      // not carry them.
      const [{ manifestsFor, toYaml }, { explainRules, rbacFor }] = await Promise.all([
        import("../deploy/manifests.ts"),
        import("../deploy/rbac.ts"),
      ]);
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
