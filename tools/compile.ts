/**
 * `deno task compile [entry] [output]`: compiles an operator into a single binary with the
 * narrowest permissions (see `deploy/permissions.ts`) and the operator's V8 flags
 * (`deploy/v8_flags.ts`). Defaults to the echo-server example.
 *
 * `deno compile` embeds the program into Deno's slim runtime, denort, which it downloads unless
 * `DENORT_BIN` names a local copy. Where neither works (as on machines without internet access),
 * this prints what failed and exits 1.
 *
 * @module
 */
import { permissionFlags } from "../deploy/permissions.ts";
import { OPERATOR_V8_FLAGS } from "../deploy/v8_flags.ts";

const entry = Deno.args[0] ?? "examples/echo-server/main.ts";
const output = Deno.args[1] ?? "dist/echo-server-operator";
const args = [
  "compile",
  ...permissionFlags(),
  `--v8-flags=${OPERATOR_V8_FLAGS.join(",")}`,
  "--no-prompt",
  "--output",
  output,
  entry,
];
console.error(`deno ${args.join(" ")}`);
const status = await new Deno.Command(Deno.execPath(), { args, stdin: "null" }).spawn().status;
if (!status.success) {
  console.error(
    `Cannot compile ${entry}: deno compile exited with ${status.code}. It needs Deno's denort ` +
      `runtime: set DENORT_BIN to a local denort binary where it cannot be downloaded.`,
  );
}
Deno.exit(status.code);
