import assert from "node:assert/strict";

/** Whether importing the module (in a process of its own) loads the X.509 code's polyfill. */
async function loadsX509(module: string): Promise<boolean> {
  const url = new URL(module, import.meta.url).href;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `await import(${JSON.stringify(url)}); console.log(typeof Reflect.getMetadata);`,
    ],
    cwd: new URL("..", import.meta.url),
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout).trim() !== "undefined";
}

Deno.test("importing the webhook entry point loads no X.509 code (its reflect-metadata polyfill)", async () => {
  assert.equal(await loadsX509("./mod.ts"), false);
});

Deno.test("an operator without webhooks loads no X.509 code: the root and deploy entry points", async () => {
  assert.equal(await loadsX509("../mod.ts"), false);
  assert.equal(await loadsX509("../deploy/mod.ts"), false);
});
