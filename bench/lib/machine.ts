/**
 * What the benchmarks ran on: cores, memory, CPU model, load, and the versions of Deno, Node,
 * Kubernetes and etcd.
 *
 * @module
 */

/** The machine and software of a run. */
export interface MachineInfo {
  /** Host name. */
  hostname: string;
  /** Logical CPUs (`nproc`). */
  cpus: number;
  /** The CPU model from `/proc/cpuinfo`. */
  cpuModel: string;
  /** Total memory in bytes. */
  memoryBytes: number;
  /** The 1, 5 and 15 minute load averages when the run started. */
  loadAverage: number[];
  /** The kernel release. */
  kernel: string;
  /** Deno's version. */
  deno: string;
  /** V8's version. */
  v8: string;
  /** Node's version, or `"absent"`. */
  node: string;
  /** `@kubernetes/client-node`'s version in `bench/peers`, or `"absent"`. */
  clientNode: string;
  /** kube-apiserver's `gitVersion`, filled in once the control plane runs. */
  kubernetes?: string;
  /** etcd's server version, filled in once the control plane runs. */
  etcd?: string;
}

async function output(command: string, args: string[], cwd?: string): Promise<string> {
  try {
    const result = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
      ...(cwd ? { cwd } : {}),
    }).output();
    return result.success ? new TextDecoder().decode(result.stdout).trim() : "absent";
  } catch {
    return "absent";
  }
}

/**
 * Collects the machine's description.
 *
 * @param peersDir the Node peer's project (for the client-node version)
 * @returns the description
 */
export async function machineInfo(peersDir: string): Promise<MachineInfo> {
  let cpuModel = "unknown";
  try {
    const text = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = text.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpuModel;
  } catch { /* not Linux */ }
  let clientNode = "absent";
  try {
    const pkg = JSON.parse(
      await Deno.readTextFile(`${peersDir}/node_modules/@kubernetes/client-node/package.json`),
    );
    clientNode = String(pkg.version);
  } catch { /* not installed */ }
  return {
    hostname: Deno.hostname(),
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    memoryBytes: Deno.systemMemoryInfo().total,
    loadAverage: Deno.loadavg(),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: (await output("node", ["--version"])).replace(/^v/, ""),
    clientNode,
  };
}

/**
 * A one-line description of the machine.
 *
 * @param info the machine
 * @returns the text
 */
export function describeMachine(info: MachineInfo): string {
  return `${info.cpus} × ${info.cpuModel}, ${(info.memoryBytes / 2 ** 30).toFixed(1)} GiB, ` +
    `Linux ${info.kernel}; Deno ${info.deno} (V8 ${info.v8}), Node ${info.node} ` +
    `(@kubernetes/client-node ${info.clientNode}), Kubernetes ${info.kubernetes ?? "?"}, ` +
    `etcd ${info.etcd ?? "?"}; load average at start ${
      info.loadAverage.map((l) => l.toFixed(2)).join(" ")
    }`;
}
