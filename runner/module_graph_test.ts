/**
 * What a run loads: the modules an operator imports statically (`mod.ts`, what `main.ts` of an
 * operator imports) leave out the code only some runs need — the YAML parser (a kubeconfig file,
 * `--print-manifests`), the deployment code and the CLI's long help.
 */
import assert from "node:assert/strict";

interface ModuleInfo {
  specifier: string;
  dependencies?: Array<{ code?: { specifier?: string }; isDynamic?: boolean }>;
}

async function staticGraph(entry: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info failed");
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: ModuleInfo[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code?.specifier) stack.push(dep.code.specifier);
    }
  }
  return seen;
}

Deno.test("the root module does not load YAML or deployment code statically", async () => {
  const graph = await staticGraph(new URL("../mod.ts", import.meta.url).href);
  const loaded = [...graph];
  assert.ok(loaded.some((s) => s.endsWith("/runner/run_operator.ts")), "the graph was read");
  for (const banned of ["npm:js-yaml", "/deploy/", "/client/kubeconfig_parse.ts"]) {
    assert.deepEqual(loaded.filter((s) => s.includes(banned)), [], `${banned} is loaded at start`);
  }
});
