/**
 * The processes of a test control plane: each started with its output going straight to a log
 * file (no pipes held by the test process) and killed when the test process dies (a parent-death
 * signal, where `setpriv` exists); stopped with SIGTERM, then SIGKILL after a grace period.
 *
 * @module
 */

/** A process of the control plane. */
export interface ManagedProcess {
  name: string;
  child: Deno.ChildProcess;
  logPath: string;
  exited: boolean;
  exit: Promise<Deno.CommandStatus>;
}

let setprivAvailable: boolean | undefined;
function hasSetpriv(): boolean {
  if (setprivAvailable === undefined) {
    try {
      setprivAvailable = Deno.statSync("/usr/bin/setpriv").isFile;
    } catch {
      setprivAvailable = false;
    }
  }
  return setprivAvailable;
}

/**
 * Starts a process whose output goes straight to a log file (no pipes held by this process) and
 * which is killed when this process dies (parent-death signal, where `setpriv` exists).
 */
export function spawn(name: string, argv: string[], dir: string): ManagedProcess {
  const logPath = `${dir}/${name}.log`;
  const wrapped = hasSetpriv() ? ["setpriv", "--pdeathsig", "KILL", "--", ...argv] : argv;
  const child = new Deno.Command("bash", {
    args: ["-c", 'exec "$@" >>"$ROPERATOR_LOG" 2>&1', "bash", ...wrapped],
    env: { ROPERATOR_LOG: logPath },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const proc: ManagedProcess = {
    name,
    child,
    logPath,
    exited: false,
    exit: child.status.then((s) => {
      proc.exited = true;
      return s;
    }),
  };
  return proc;
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(proc: ManagedProcess, graceMs = 5000): Promise<void> {
  if (proc.exited) return;
  try {
    proc.child.kill("SIGTERM");
  } catch { /* already gone */ }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), graceMs);
  });
  const result = await Promise.race([proc.exit, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    try {
      proc.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await proc.exit;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The last lines of a process's log, for error messages. */
export async function logTail(proc: ManagedProcess, lines = 15): Promise<string> {
  try {
    const text = await Deno.readTextFile(proc.logPath);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
