/**
 * Runs a command with one test control plane shared by everything it starts:
 * `deno run -A tools/with_control_plane.ts deno test -A` starts the control plane, exports
 * `ROPERATOR_TEST_CONTROLPLANE=<dir>` (see `testControlPlane()` in the testkit), runs the
 * command, stops the control plane and exits with the command's code.
 *
 * @module
 */
import { startControlPlane } from "../testkit/control_plane.ts";
import { SHARED_CONTROL_PLANE_ENV } from "../testkit/shared_control_plane.ts";

const [command, ...args] = Deno.args;
if (!command) {
  console.error("usage: with_control_plane.ts <command> [args…]");
  Deno.exit(2);
}
const cp = await startControlPlane();
console.error(`control plane ready in ${cp.startupMs} ms at ${cp.server}`);
const child = new Deno.Command(command, {
  args,
  env: { [SHARED_CONTROL_PLANE_ENV]: cp.dir },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const forward = (signal: Deno.Signal) => () => {
  try {
    child.kill(signal);
  } catch { /* gone */ }
};
Deno.addSignalListener("SIGINT", forward("SIGINT"));
Deno.addSignalListener("SIGTERM", forward("SIGTERM"));
const status = await child.status;
await cp.stop();
Deno.exit(status.code);
