/**
 * {@linkcode startOperatorProcess}: runs an operator's entry point in a subprocess as its compiled
 * binary would run (`deno run` with the permission flags of `permissionFlags` and the V8 flags of
 * `OPERATOR_V8_FLAGS`), keeps what it logs on stderr, hands its stdout to the caller line by line,
 * and stops it with a signal, waiting for the exit and the end of its output.
 *
 * ```ts ignore
 * import { startOperatorProcess } from "@roperator/core/testkit";
 * const operator = startOperatorProcess({
 *   main: new URL("./main.ts", import.meta.url),
 *   args: ["--kubeconfig", kubeconfigPath, "--log-format", "json"],
 *   kubeconfigPaths: [kubeconfigPath],
 * });
 * const { status } = await operator.terminate(); // SIGTERM
 * console.log(status.code, operator.logs());
 * ```
 *
 * @module
 */
import { permissionFlags } from "../deploy/permissions.ts";
import { OPERATOR_V8_FLAGS } from "../deploy/v8_flags.ts";

/** Options for {@linkcode startOperatorProcess}. */
export interface OperatorProcessOptions {
  /** The entry point: a path or a `file:` URL. */
  main: string | URL;
  /** The arguments after the entry point. */
  args: readonly string[];
  /** The kubeconfig files the process may read (for its permission flags). */
  kubeconfigPaths: readonly string[];
  /** Called with each complete line the process writes on stdout (else stdout is dropped). */
  onStdoutLine?: (line: string) => void;
  /** Called with each chunk of text the process writes on stderr, as it comes. */
  onStderr?: (chunk: string) => void;
}

/** An operator running in a subprocess, made by {@linkcode startOperatorProcess}. */
export interface OperatorProcess {
  /** The subprocess. */
  readonly child: Deno.ChildProcess;
  /**
   * Everything it wrote on stderr so far (its logs).
   *
   * @returns the text
   */
  logs(): string;
  /**
   * Sends a signal (unless it has exited), waits for the exit and for the end of its output.
   *
   * @param signal the signal, default `"SIGTERM"`
   * @returns its exit status, and how long it took to exit after the signal, in ms
   */
  terminate(signal?: Deno.Signal): Promise<{ status: Deno.CommandStatus; ms: number }>;
}

/**
 * Starts an operator's entry point in a subprocess: `deno run --no-prompt <permission flags>
 * --v8-flags=<OPERATOR_V8_FLAGS> <main> <args>`, with stdin closed.
 *
 * @param options the entry point, its arguments, the kubeconfig files and output callbacks
 * @returns the running process
 */
export function startOperatorProcess(options: OperatorProcessOptions): OperatorProcess {
  const main = typeof options.main === "string" ? options.main : options.main.pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...permissionFlags({ kubeconfigPaths: options.kubeconfigPaths }),
      `--v8-flags=${OPERATOR_V8_FLAGS.join(",")}`,
      main,
      ...options.args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let logs = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        logs += chunk;
        options.onStderr?.(chunk);
      },
    }),
  );
  const onLine = options.onStdoutLine;
  let partial = "";
  const stdoutDone = onLine
    ? child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write(chunk) {
          partial += chunk;
          const lines = partial.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) onLine(line);
        },
      }),
    )
    : child.stdout.pipeTo(new WritableStream());
  return {
    child,
    logs: () => logs,
    async terminate(signal: Deno.Signal = "SIGTERM") {
      const started = performance.now();
      try {
        child.kill(signal);
      } catch { /* exited */ }
      const status = await child.status;
      const ms = performance.now() - started;
      await stdoutDone;
      await stderrDone;
      return { status, ms };
    },
  };
}
