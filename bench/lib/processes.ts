/**
 * Subprocesses of the harness: each writes its output to a log file (no pipe for the harness to
 * drain), gets a parent-death signal (so none outlives the harness, even on `kill -9`), and is
 * registered, so that {@linkcode stopAllProcesses} ends every one on an error or Ctrl-C.
 *
 * @module
 */

/** A running subprocess. */
export interface BenchProcess {
  /** A label for logs and errors. */
  readonly name: string;
  /** The process id (the program itself: the wrappers `exec`). */
  readonly pid: number;
  /** The log file (stdout and stderr). */
  readonly logPath: string;
  /** `performance.now()` just before the spawn. */
  readonly startedAt: number;
  /** Settles with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether it has exited. */
  readonly exited: boolean;
  /**
   * Sends SIGTERM, then SIGKILL after the grace period.
   *
   * @param graceMs how long to wait for a clean exit
   */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<BenchProcess>();

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

/** Options for {@linkcode spawnProcess}. */
export interface SpawnOptions {
  /** Where the log file goes. */
  logDir: string;
  /** The working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Starts a program with its output in `<logDir>/<name>.log`.
 *
 * @param name a label (also the log file's name)
 * @param argv the program and its arguments
 * @param options log directory, working directory, environment
 * @returns the process
 */
export function spawnProcess(name: string, argv: string[], options: SpawnOptions): BenchProcess {
  const logPath = `${options.logDir}/${name.replace(/[^\w.-]+/g, "_")}.log`;
  const wrapped = hasSetpriv() ? ["setpriv", "--pdeathsig", "KILL", "--", ...argv] : argv;
  const startedAt = performance.now();
  const child = new Deno.Command("bash", {
    args: ["-c", 'exec "$@" >>"$BENCH_LOG" 2>&1', "bash", ...wrapped],
    env: { ...options.env, BENCH_LOG: logPath },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    live.delete(proc);
    return s;
  });
  const proc: BenchProcess = {
    name,
    pid: child.pid,
    logPath,
    startedAt,
    status,
    get exited() {
      return exited;
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), graceMs)
      );
      const result = await Promise.race([status, timeout]);
      clearTimeout(timer);
      if (result === "timeout") {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await status;
      }
    },
  };
  live.add(proc);
  return proc;
}

/**
 * Stops every subprocess still running.
 *
 * @param graceMs how long each may take to exit cleanly
 * @returns a promise that resolves when all are gone
 */
export async function stopAllProcesses(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

/**
 * The last lines of a process's log, for error messages.
 *
 * @param proc the process
 * @param lines how many
 * @returns the text
 */
export async function logTail(proc: BenchProcess, lines = 20): Promise<string> {
  try {
    const text = await Deno.readTextFile(proc.logPath);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Resident memory of a process from `/proc/<pid>/status`, in bytes. */
export interface ProcMemory {
  /** Current resident set size (VmRSS). */
  rss: number;
  /** Peak resident set size (VmHWM). */
  peakRss: number;
}

/**
 * Reads VmRSS and VmHWM of a process.
 *
 * @param pid the process id
 * @returns the sizes in bytes
 */
export async function procMemory(pid: number): Promise<ProcMemory> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string): number => {
    const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!match) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib("VmRSS"), peakRss: kib("VmHWM") };
}

/**
 * CPU time a process has used (user + system) from `/proc/<pid>/stat`, in milliseconds.
 *
 * @param pid the process id
 * @returns the CPU time
 */
export async function procCpuMs(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name (which is in parentheses and may hold spaces).
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return ticks * 10; // USER_HZ is 100 on Linux
}

/**
 * A free TCP port on 127.0.0.1.
 *
 * @returns the port
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
