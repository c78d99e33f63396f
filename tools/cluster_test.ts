// `deno task cluster` as a user runs it: a subprocess that prints its kubeconfig, serves the
// library's client, and stops cleanly (exit 0, processes gone, directory removed) on SIGINT.
import assert from "node:assert/strict";
import { k8s } from "../mod.ts";
import { KubeClient, loadClientConfig, ResourceClient } from "../client/mod.ts";

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // harmless; throws when the process is gone
    return true;
  } catch {
    return false;
  }
}

Deno.test("deno task cluster: prints a kubeconfig that works and stops cleanly on SIGINT", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./cluster.ts", import.meta.url).pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const readUntil = async (pattern: RegExp): Promise<RegExpMatchArray> => {
    while (true) {
      for (const line of lines) {
        const m = line.match(pattern);
        if (m) return m;
      }
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`cluster.ts ended before printing ${pattern}:\n${lines.join("\n")}`);
      }
      buffered += value;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
    }
  };
  try {
    const kubeconfig = (await readUntil(/^ {2}export KUBECONFIG=(.+)$/))[1]!;
    const pids = (await readUntil(/^Processes: (.+)$/))[1]!.split(", ").map((p) =>
      Number(p.split(" ")[1])
    );
    assert.equal(pids.length, 3, "etcd, kube-apiserver and kube-controller-manager");
    await readUntil(/^Ctrl-C stops/);

    const client = new KubeClient(await loadClientConfig({ kubeconfig }));
    try {
      const ns = await new ResourceClient(client, k8s.core.v1.Namespace).get("default");
      assert.equal(ns?.metadata?.name, "default");
    } finally {
      client.close();
    }

    child.kill("SIGINT");
    await readUntil(/^Stopped\.$/);
    const status = await child.status;
    assert.equal(status.code, 0);
    for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone`);
    await assert.rejects(Deno.stat(kubeconfig), Deno.errors.NotFound);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await reader.cancel().catch(() => {});
    await child.status;
  }
});
