import assert from "node:assert/strict";

Deno.test("importing the webhook entry point loads no X.509 code (its reflect-metadata polyfill)", async () => {
  const url = new URL("./mod.ts", import.meta.url).href;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `await import(${JSON.stringify(url)}); ` +
      `console.log(typeof Reflect.getMetadata);`,
    ],
    cwd: new URL("..", import.meta.url),
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout).trim(), "undefined");
});
