/**
 * The V8 flags an operator binary is compiled with (`deno compile --v8-flags=…`, as
 * `deno task compile` and the Dockerfile do): what the benchmark measured to keep the memory of
 * a running operator closer to what it holds.
 *
 * @module
 */

/**
 * The V8 flags of a compiled operator: `--max-semi-space-size=1`, a young generation of 1 MiB
 * per semi-space instead of V8's default of up to 16 MiB. An operator allocates in bursts (a list
 * page, a watch event, a status response) whose garbage otherwise sits in a large young
 * generation until the next collection. Measured with the benchmark harness (BENCHMARKS.md,
 * finding 10, three A/B pairs each): with 20 parents of 500 kB the RSS as it runs fell by 10–37 MiB
 * (to 132–151 MiB) and the peak by 13–37 MiB; with 10,000 small cached children nothing changed
 * beyond the noise; nor did the CPU time to converge 500 parents.
 *
 * A compiled binary does not read `DENO_V8_FLAGS` or `--v8-flags` at run time: to change them,
 * compile again (`deno compile --v8-flags=…`).
 *
 * @example Compile an operator with the same flags
 * ```ts
 * import { OPERATOR_V8_FLAGS, permissionFlags } from "@roperator/core/deploy";
 * const args = ["compile", ...permissionFlags(), `--v8-flags=${OPERATOR_V8_FLAGS.join(",")}`];
 * args.includes("--v8-flags=--max-semi-space-size=1"); // true
 * ```
 */
export const OPERATOR_V8_FLAGS: readonly string[] = Object.freeze(["--max-semi-space-size=1"]);
