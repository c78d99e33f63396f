import assert from "node:assert/strict";
import { GoBuildError, wrapperModuleDir } from "./go_build.ts";

const local = new URL("./controlplane/", import.meta.url);

/** Serves `testkit/controlplane/` as JSR would serve the published package's files. */
function serveControlPlaneDir(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    try {
      const path = new URL(req.url).pathname.replace(/^\/controlplane\//, "");
      if (path.includes("..")) return new Response("no", { status: 400 });
      return new Response(await Deno.readFile(new URL(path, local)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("wrapperModuleDir() uses the modules in place in a checkout", async () => {
  const { dir, temporary } = await wrapperModuleDir("etcd");
  assert.equal(temporary, false);
  assert.ok((await Deno.stat(`${dir}/go.mod`)).isFile);
});

Deno.test("wrapperModuleDir() fetches every file of a module served over HTTP (the JSR case)", async () => {
  await using server = serveControlPlaneDir();
  const base = new URL(`http://127.0.0.1:${server.addr.port}/controlplane/`);
  const { dir, temporary } = await wrapperModuleDir("kubernetes", base);
  try {
    assert.equal(temporary, true);
    for (const file of ["go.mod", "go.sum", "kube-controller-manager/main.go"]) {
      assert.deepEqual(
        await Deno.readFile(`${dir}/${file}`),
        await Deno.readFile(new URL(`kubernetes/${file}`, local)),
        file,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wrapperModuleDir() says which file it cannot fetch", async () => {
  await using server = serveControlPlaneDir();
  const base = new URL(`http://127.0.0.1:${server.addr.port}/missing/`);
  await assert.rejects(
    wrapperModuleDir("etcd", base),
    (error: unknown) => {
      assert.ok(error instanceof GoBuildError);
      assert.match(
        error.message,
        /^Cannot fetch http:\/\/127\.0\.0\.1:\d+\/missing\/etcd\/go\.mod: HTTP 404$/,
      );
      return true;
    },
  );
});
