// The demo as a newcomer runs it: the tour with --once, and Ctrl-C at any moment, each ending
// with exit code 0. Under `deno task test` the demo attaches to the shared control plane.
import assert from "node:assert/strict";

interface Demo {
  /** Resolves with the first line matching the pattern (rejects when the demo ends first). */
  waitForLine(pattern: RegExp): Promise<string>;
  /** Every line printed so far. */
  lines: string[];
  child: Deno.ChildProcess;
  /** Waits for the exit and returns the code. */
  exit(): Promise<number>;
}

function runDemo(args: string[]): Demo {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./demo.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let ended = false;
  let notify = () => {};
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buffered = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
      notify();
    }
    if (buffered) lines.push(buffered);
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => {
    ended = true;
    notify();
  });
  return {
    lines,
    child,
    async waitForLine(pattern: RegExp): Promise<string> {
      while (true) {
        const line = lines.find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (ended) {
          throw new Error(`the demo ended without printing ${pattern}:\n${lines.join("\n")}`);
        }
        await new Promise<void>((resolve) => notify = resolve);
      }
    },
    async exit(): Promise<number> {
      const status = await child.status;
      await pumped;
      return status.code;
    },
  };
}

const uniqueNamespace = () => `demo-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("demo --once: converges, runs the tour and exits 0", async () => {
  const demo = runDemo(["--once", "--namespace", uniqueNamespace()]);
  const code = await demo.exit();
  const output = demo.lines.join("\n");
  assert.equal(code, 0, output);
  for (
    const expected of [
      /^Converged: 3\/3 EchoServers in \d+ ms \(writes: create 6, .*finalizer 3\)$/m,
      /^1\. Edited EchoServer "echo-1": spec\.image = .*\n {3}its Pod was recreated .* in \d+ ms; writes: .*create 1/m,
      /^2\. Deleted Service "echo-1-svc" by hand\n {3}the operator created it again in \d+ ms; writes: create 1$/m,
      /^3\. Edited Service "echo-1-svc" by hand: .*\n {3}the operator put port 80 back .* in \d+ ms; writes: update 1$/m,
      /^4\. Deleted EchoServer "echo-1"\n {3}finalize ran \(once\) .* garbage collector removed its Pod and Service .*; writes: finalizer 1$/m,
      /^ {2}export KUBECONFIG=\/\S+\/kubeconfig$/m,
      /^ {2}kubectl get echoservers,pods,services -n demo-\w+$/m,
    ]
  ) assert.match(output, expected);
  assert.doesNotMatch(output, /failed|error/i, output);
});

async function interruptAt(moment: RegExp): Promise<void> {
  const demo = runDemo(["--namespace", uniqueNamespace()]);
  try {
    await demo.waitForLine(moment);
    demo.child.kill("SIGINT");
    const code = await demo.exit();
    const output = demo.lines.join("\n");
    assert.doesNotMatch(output, /failed|closed|error/i, output);
    assert.equal(code, 0, output);
  } finally {
    try {
      demo.child.kill("SIGKILL");
    } catch { /* exited */ }
    await demo.exit();
  }
}

Deno.test("demo: Ctrl-C while the control plane starts exits 0, with no error", async () => {
  await interruptAt(/^(Starting|Attaching)/);
});

Deno.test("demo: Ctrl-C while it converges exits 0, with no error", async () => {
  await interruptAt(/^Converg/);
});

Deno.test("demo: Ctrl-C during the tour exits 0, with no error", async () => {
  await interruptAt(/^2\. /);
});

Deno.test("demo: Ctrl-C after the tour exits 0, with no error", async () => {
  await interruptAt(/^Running until Ctrl-C/);
});
