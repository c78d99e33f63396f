import assert from "node:assert/strict";
import {
  binarySearchPath,
  ControlPlaneBinariesNotFoundError,
  defaultBinaryCacheDir,
  findControlPlaneBinaries,
} from "./binaries.ts";

async function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void>) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) {
    v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

async function fakeBinaries(dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    await Deno.writeTextFile(`${dir}/${name}`, "#!/bin/sh\n");
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
}

Deno.test("findControlPlaneBinaries() takes KUBEBUILDER_ASSETS first and the rest from later places", async () => {
  const assets = await Deno.makeTempDir();
  const extra = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  try {
    await fakeBinaries(assets, ["etcd", "kube-apiserver"]); // setup-envtest has no controller manager
    await fakeBinaries(extra, ["kube-controller-manager"]);
    await withEnv({
      KUBEBUILDER_ASSETS: assets,
      ROPERATOR_CONTROLPLANE_DIR: extra,
      XDG_CACHE_HOME: cache,
    }, () => {
      assert.deepEqual(binarySearchPath(), [assets, extra, defaultBinaryCacheDir()]);
      assert.ok(defaultBinaryCacheDir().startsWith(`${cache}/roperator/controlplane/`));
      const found = findControlPlaneBinaries();
      assert.equal(found.etcd, `${assets}/etcd`);
      assert.equal(found.kubeApiServer, `${assets}/kube-apiserver`);
      assert.equal(found.kubeControllerManager, `${extra}/kube-controller-manager`);
      return Promise.resolve();
    });
  } finally {
    for (const dir of [assets, extra, cache]) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findControlPlaneBinaries() says where it looked and how to get the binaries", async () => {
  const empty = await Deno.makeTempDir();
  try {
    await withEnv({
      KUBEBUILDER_ASSETS: empty,
      ROPERATOR_CONTROLPLANE_DIR: undefined,
      XDG_CACHE_HOME: empty,
    }, () => {
      assert.throws(
        () => findControlPlaneBinaries(),
        (error: unknown) => {
          assert.ok(error instanceof ControlPlaneBinariesNotFoundError);
          assert.deepEqual(error.missing, ["etcd", "kube-apiserver"]);
          assert.ok(error.searched.includes(empty));
          assert.match(error.message, /deno task controlplane/);
          assert.match(error.message, /KUBEBUILDER_ASSETS/);
          return true;
        },
      );
      return Promise.resolve();
    });
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
