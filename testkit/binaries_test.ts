import assert from "node:assert/strict";
import { ControlPlaneStartError, startControlPlane } from "./control_plane.ts";
import {
  binarySearchPath,
  ControlPlaneBinariesNotFoundError,
  ControlPlaneDownloadError,
  defaultBinaryCacheDir,
  downloadEnvtestBinaries,
  ensureControlPlaneBinaries,
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
          assert.doesNotMatch(error.message, /deno task/); // not a task only this repository has
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

// --- the envtest download, against a local server with the index layout setup-envtest reads ---

const VERSION = "v1.36.3";
const ARCH = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
const ARCHIVE = `envtest-${VERSION}-${Deno.build.os}-${ARCH}.tar.gz`;

/** A tar.gz in the envtest layout: controller-tools/envtest/{etcd,kube-apiserver,kubectl}. */
async function fakeArchive(): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir();
  try {
    const bin = `${dir}/controller-tools/envtest`;
    await Deno.mkdir(bin, { recursive: true });
    for (const name of ["etcd", "kube-apiserver", "kubectl"]) {
      await Deno.writeTextFile(`${bin}/${name}`, `#!/bin/sh\necho "${name} fake ${VERSION}"\n`);
      await Deno.chmod(`${bin}/${name}`, 0o755);
    }
    const out = await new Deno.Command("tar", {
      args: ["-czf", `${dir}/a.tar.gz`, "-C", dir, "controller-tools"],
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return await Deno.readFile(`${dir}/a.tar.gz`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function sha512(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

interface ReleaseServer extends AsyncDisposable {
  indexUrl: string;
  requests: string[];
}

/** Serves `/envtest-releases.yaml` and `/download/<archive>` on 127.0.0.1. */
async function releaseServer(
  archive: Uint8Array<ArrayBuffer>,
  options: { hash?: string; version?: string } = {},
): Promise<ReleaseServer> {
  const hash = options.hash ?? await sha512(archive);
  const requests: string[] = [];
  let base = "";
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, (req: Request): Response => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    if (path === "/envtest-releases.yaml") {
      const version = options.version ?? VERSION;
      return new Response(
        `releases:\n  ${version}:\n    ${ARCHIVE.replace(VERSION, version)}:\n` +
          `      hash: ${hash}\n      selfLink: ${base}/download/${ARCHIVE}\n`,
      );
    }
    if (path === `/download/${ARCHIVE}`) return new Response(archive);
    return new Response("not found", { status: 404 });
  });
  base = `http://127.0.0.1:${server.addr.port}`;
  return {
    indexUrl: `${base}/envtest-releases.yaml`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const NO_USER_DIRS = { KUBEBUILDER_ASSETS: undefined, ROPERATOR_CONTROLPLANE_DIR: undefined };

async function entries(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

Deno.test("ensureControlPlaneBinaries() downloads etcd and kube-apiserver once, verified and cached", async () => {
  await using server = await releaseServer(await fakeArchive());
  const cacheDir = `${await Deno.makeTempDir()}/cache`;
  const lines: string[] = [];
  await withEnv({ ...NO_USER_DIRS, XDG_CACHE_HOME: `${cacheDir}-xdg` }, async () => {
    const options = {
      cacheDir,
      envtestIndexUrl: server.indexUrl,
      go: false as const,
      need: ["etcd", "kube-apiserver"] as const,
      log: (line: string) => lines.push(line),
    };
    const found = await ensureControlPlaneBinaries(options);
    assert.equal(found.etcd, `${cacheDir}/etcd`);
    assert.equal(found.kubeApiServer, `${cacheDir}/kube-apiserver`);
    assert.equal(found.kubeControllerManager, undefined);
    const out = await new Deno.Command(found.etcd).output();
    assert.equal(new TextDecoder().decode(out.stdout), `etcd fake ${VERSION}\n`);
    assert.deepEqual(await entries(cacheDir), ["etcd", "kube-apiserver"]);
    assert.deepEqual(server.requests, ["/envtest-releases.yaml", `/download/${ARCHIVE}`]);
    assert.ok(lines.some((l) => l.startsWith(`downloading ${ARCHIVE}`)), lines.join("\n"));
    assert.ok(lines.some((l) => /\(100%\)/.test(l)), lines.join("\n"));

    const again = await ensureControlPlaneBinaries(options);
    assert.deepEqual(again, found);
    assert.equal(server.requests.length, 2, "the second call downloads nothing");
  });
  await Deno.remove(cacheDir.replace(/\/cache$/, ""), { recursive: true });
});

async function assertDownloadFails(
  server: ReleaseServer,
  reason: string,
  message: RegExp,
  version = VERSION,
): Promise<void> {
  const cacheDir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      downloadEnvtestBinaries({ indexUrl: server.indexUrl, cacheDir, version, log: () => {} }),
      (error: unknown) => {
        assert.ok(error instanceof ControlPlaneDownloadError, String(error));
        assert.equal(error.reason, reason);
        assert.match(error.message, /^Cannot /);
        assert.match(error.message, message);
        return true;
      },
    );
    assert.deepEqual(await entries(cacheDir), [], "nothing half-written is left in the cache");
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
}

Deno.test("downloadEnvtestBinaries() refuses an archive whose SHA-512 differs from the index", async () => {
  await using server = await releaseServer(await fakeArchive(), { hash: "ab".repeat(64) });
  await assertDownloadFails(
    server,
    "checksum-mismatch",
    /SHA-512 is [0-9a-f]{128}, the index says/,
  );
});

Deno.test("downloadEnvtestBinaries() refuses a truncated archive", async () => {
  const archive = await fakeArchive();
  const truncated = archive.slice(0, Math.floor(archive.length / 2));
  await using server = await releaseServer(truncated); // the index hash matches the truncated bytes
  await assertDownloadFails(server, "bad-archive", /Cannot unpack/);
});

Deno.test("downloadEnvtestBinaries() says which version the index lacks", async () => {
  await using server = await releaseServer(await fakeArchive(), { version: "v1.35.0" });
  await assertDownloadFails(
    server,
    "version-not-found",
    new RegExp(`has no ${ARCHIVE.replaceAll(".", "\\.")} \\(its last releases: v1\\.35\\.0\\)`),
  );
});

Deno.test("ensureControlPlaneBinaries() says what a library user can do when nothing works", async () => {
  await using server = await releaseServer(await fakeArchive(), { version: "v1.35.0" });
  const cacheDir = await Deno.makeTempDir();
  try {
    await withEnv({ ...NO_USER_DIRS, XDG_CACHE_HOME: cacheDir }, async () => {
      await assert.rejects(
        ensureControlPlaneBinaries({
          cacheDir,
          envtestIndexUrl: server.indexUrl,
          go: "/nonexistent/go",
          log: () => {},
        }),
        (error: unknown) => {
          assert.ok(error instanceof ControlPlaneBinariesNotFoundError, String(error));
          assert.deepEqual(error.missing, ["etcd", "kube-apiserver"]);
          assert.match(error.message, /Tried: Cannot download envtest v1\.36\.3/);
          assert.match(error.message, /no "\/nonexistent\/go" command/);
          assert.match(error.message, /KUBEBUILDER_ASSETS/);
          assert.match(error.message, /ROPERATOR_ENVTEST_INDEX_URL/);
          assert.match(error.message, /install Go 1\.26/);
          assert.doesNotMatch(error.message, /deno task/);
          return true;
        },
      );
    });
    assert.deepEqual(await entries(cacheDir), []);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
    await Deno.remove(`${cacheDir}.lock`).catch(() => {});
  }
});

Deno.test("ensureControlPlaneBinaries() called by parallel test files downloads once", async () => {
  await using server = await releaseServer(await fakeArchive());
  const root = await Deno.makeTempDir();
  try {
    await withEnv({ ...NO_USER_DIRS, XDG_CACHE_HOME: root }, async () => {
      const options = {
        cacheDir: `${root}/cache`,
        envtestIndexUrl: server.indexUrl,
        go: false as const,
        need: ["etcd", "kube-apiserver"] as const,
        log: () => {},
      };
      const [a, b] = await Promise.all([
        ensureControlPlaneBinaries(options),
        ensureControlPlaneBinaries(options),
      ]);
      assert.deepEqual(a, b);
      assert.equal(server.requests.filter((p) => p.startsWith("/download/")).length, 1);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function pathWithoutGo(): string {
  const hasGo = (dir: string) => {
    try {
      return Deno.statSync(`${dir}/go`).isFile;
    } catch {
      return false;
    }
  };
  return (Deno.env.get("PATH") ?? "").split(":").filter((dir) => !hasGo(dir)).join(":");
}

Deno.test("startControlPlane() without kube-controller-manager says what is lost, and requires it only when asked", async () => {
  const real = findControlPlaneBinaries(); // etcd and kube-apiserver of this machine
  const assets = await Deno.makeTempDir();
  const cache = await Deno.makeTempDir();
  await Deno.symlink(real.etcd, `${assets}/etcd`);
  await Deno.symlink(real.kubeApiServer, `${assets}/kube-apiserver`);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    await withEnv({
      KUBEBUILDER_ASSETS: assets, // the setup-envtest layout: no kube-controller-manager
      ROPERATOR_CONTROLPLANE_DIR: undefined,
      XDG_CACHE_HOME: cache,
      ROPERATOR_ENVTEST_INDEX_URL: "off",
      PATH: pathWithoutGo(), // no Go to build it with
    }, async () => {
      await assert.rejects(
        startControlPlane({ controllerManager: true }),
        (error: unknown) => {
          assert.ok(error instanceof ControlPlaneStartError, String(error));
          assert.match(error.message, /^Cannot start kube-controller-manager: .*Go/);
          assert.match(error.message, /no garbage collection/);
          assert.match(error.message, /controllerManager: false/);
          return true;
        },
      );
      await using cp = await startControlPlane();
      assert.deepEqual(Object.keys(cp.pids).sort(), ["etcd", "kube-apiserver"]);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /garbage collection.*namespace deletion.*service accounts/);
      assert.match(warnings[0]!, /Starting without it/);
    });
  } finally {
    console.warn = warn;
    for (const dir of [assets, cache]) await Deno.remove(dir, { recursive: true });
  }
});
