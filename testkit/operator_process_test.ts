import assert from "node:assert/strict";
import { startOperatorProcess } from "./operator_process.ts";

const PROGRAM = `
console.log("first line");
console.log(JSON.stringify({ args: Deno.args }));
console.error("a log line on stderr");
Deno.addSignalListener("SIGTERM", () => {
  console.error("terminating");
  Deno.exit(0);
});
setInterval(() => {}, 1000);
`;

async function withProgram(body: (main: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-operator-process-" });
  const main = `${dir}/main.ts`;
  await Deno.writeTextFile(main, PROGRAM);
  try {
    await body(main);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

Deno.test("startOperatorProcess() passes the arguments, splits stdout into lines, keeps stderr and stops on SIGTERM", async () => {
  await withProgram(async (main) => {
    const lines: string[] = [];
    const chunks: string[] = [];
    const operator = startOperatorProcess({
      main,
      args: ["--port", "0"],
      kubeconfigPaths: [],
      onStdoutLine: (line) => lines.push(line),
      onStderr: (chunk) => chunks.push(chunk),
    });
    await until(() => operator.logs().includes("a log line on stderr"));
    const { status, ms } = await operator.terminate();
    assert.equal(status.code, 0);
    assert.ok(ms >= 0);
    assert.deepEqual(lines, ["first line", JSON.stringify({ args: ["--port", "0"] })]);
    assert.equal(chunks.join(""), operator.logs());
    assert.match(operator.logs(), /terminating/);
  });
});

Deno.test("OperatorProcess.terminate() after the process has exited returns its status", async () => {
  await withProgram(async (main) => {
    const operator = startOperatorProcess({
      main: new URL(`file://${main}`),
      args: [],
      kubeconfigPaths: [],
    });
    operator.child.kill("SIGKILL");
    await operator.child.status;
    const { status } = await operator.terminate("SIGKILL");
    assert.equal(status.success, false);
  });
});
