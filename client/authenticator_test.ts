import assert from "node:assert/strict";
import { join } from "node:path";
import { createAuthenticator } from "./authenticator.ts";
import type { ClientConfig, GetTokenOptions } from "./client_config.ts";
import { ClientConfigError } from "./config_error.ts";
import { ExecPluginError } from "./exec_plugin.ts";

const SERVER = "https://127.0.0.1:6443";
const V1 = "client.authentication.k8s.io/v1";
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nSTATIC\n-----END CERTIFICATE-----\n";
const KEY_PEM = "-----BEGIN PRIVATE KEY-----\nSTATIC\n-----END PRIVATE KEY-----\n";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-auth-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A clock the test moves by hand. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = Date.now();
  return { now: () => time, advance: (ms) => time += ms };
}

Deno.test("static credentials", async () => {
  const auth = (credentials: ClientConfig["credentials"]) =>
    createAuthenticator({ server: SERVER, ...(credentials ? { credentials } : {}) }).current();
  assert.deepEqual(await auth(undefined), {});
  assert.deepEqual(await auth({ kind: "token", token: "abc" }), { authorization: "Bearer abc" });
  assert.deepEqual(await auth({ kind: "basic", username: "admin", password: "pä:ss" }), {
    authorization: `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode("admin:pä:ss")))}`,
  });
  assert.deepEqual(await auth({ kind: "header", authorization: "Negotiate xyz" }), {
    authorization: "Negotiate xyz",
  });
  assert.deepEqual(
    await auth({ kind: "clientCertificate", certificate: CERT_PEM, key: KEY_PEM }),
    { clientCertificate: { certificate: CERT_PEM, key: KEY_PEM } },
  );
});

Deno.test("config.clientCertificate is passed through beside a token, same object each time", async () => {
  const auth = createAuthenticator({
    server: SERVER,
    credentials: { kind: "token", token: "abc" },
    clientCertificate: { kind: "clientCertificate", certificate: CERT_PEM, key: KEY_PEM },
  });
  const first = await auth.current();
  assert.deepEqual(first, {
    authorization: "Bearer abc",
    clientCertificate: { certificate: CERT_PEM, key: KEY_PEM },
  });
  assert.equal((await auth.current()).clientCertificate, first.clientCertificate);
});

Deno.test("tokenFile: rotation picked up, at most one stat a second, always after invalidate()", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "token");
    await Deno.writeTextFile(path, "  first-token\n");
    const clock = fakeClock();
    const auth = createAuthenticator(
      { server: SERVER, credentials: { kind: "tokenFile", path } },
      { now: clock.now },
    );
    assert.deepEqual(await auth.current(), { authorization: "Bearer first-token" });

    // Rotated the way the kubelet does it: a new file renamed over the old one (new inode).
    await Deno.writeTextFile(`${path}.new`, "second-token");
    await Deno.rename(`${path}.new`, path);
    clock.advance(500);
    assert.deepEqual(await auth.current(), { authorization: "Bearer first-token" });
    clock.advance(600);
    assert.deepEqual(await auth.current(), { authorization: "Bearer second-token" });

    // Rewritten in place: not seen before the next check, but invalidate() re-reads at once.
    await Deno.writeTextFile(path, "third--token");
    assert.deepEqual(await auth.current(), { authorization: "Bearer second-token" });
    auth.invalidate();
    assert.deepEqual(await auth.current(), { authorization: "Bearer third--token" });

    // A token that has not been rejected is kept while the file is briefly missing...
    await Deno.remove(path);
    clock.advance(1_100);
    assert.deepEqual(await auth.current(), { authorization: "Bearer third--token" });
    // ...but after a 401 the error surfaces.
    auth.invalidate();
    const error = await auth.current().catch((e) => e);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(error.file, path);
    assert.equal(error.message, `Cannot read token file "${path}": No such file or directory`);

    // An empty file is an error, without its content.
    await Deno.writeTextFile(path, "\n");
    const empty = await createAuthenticator({
      server: SERVER,
      credentials: { kind: "tokenFile", path },
    }).current().catch((e) => e);
    assert.ok(empty instanceof ClientConfigError);
    assert.match(empty.message, /the file is empty/);
  });
});

Deno.test("tokenProvider: forceRefresh once after invalidate()", async () => {
  const calls: GetTokenOptions[] = [];
  const auth = createAuthenticator({
    server: SERVER,
    credentials: {
      kind: "tokenProvider",
      getToken: (options) => {
        calls.push(options);
        return Promise.resolve(`token-${calls.length}`);
      },
    },
  });
  assert.deepEqual(await auth.current(), { authorization: "Bearer token-1" });
  auth.invalidate();
  assert.deepEqual(await auth.current(), { authorization: "Bearer token-2" });
  assert.deepEqual(await auth.current(), { authorization: "Bearer token-3" });
  assert.deepEqual(calls, [
    { forceRefresh: false },
    { forceRefresh: true },
    { forceRefresh: false },
  ]);

  const failing = createAuthenticator({
    server: SERVER,
    credentials: { kind: "tokenProvider", getToken: () => Promise.reject(new Error("offline")) },
  });
  const error = await failing.current().catch((e) => e);
  assert.ok(error instanceof ClientConfigError);
  assert.equal(error.message, "Cannot get a token from the token provider: offline");
});

/** An exec plugin that counts its runs in `<dir>/count` and returns `token-<n>`. */
async function countingPlugin(dir: string, expiresAt: Date | undefined): Promise<ClientConfig> {
  const command = join(dir, "plugin.sh");
  const expiry = expiresAt === undefined
    ? ""
    : `,"expirationTimestamp":"${expiresAt.toISOString()}"`;
  await Deno.writeTextFile(
    command,
    `#!/bin/bash
n=$(( $(cat "${dir}/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "${dir}/count"
sleep 0.1
echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"token-'"$n"'"${expiry}}}'
`,
  );
  await Deno.chmod(command, 0o755);
  return { server: SERVER, credentials: { kind: "exec", apiVersion: V1, command } };
}

async function runs(dir: string): Promise<number> {
  return Number((await Deno.readTextFile(join(dir, "count"))).trim());
}

Deno.test("exec: cached until shortly before expiry, shared by concurrent callers, refreshed after invalidate()", async () => {
  await withTempDir(async (dir) => {
    const clock = fakeClock();
    const config = await countingPlugin(dir, new Date(clock.now() + 60_000));
    const auth = createAuthenticator(config, { now: clock.now });

    const concurrent = await Promise.all([1, 2, 3, 4, 5].map(() => auth.current()));
    assert.deepEqual(concurrent, Array(5).fill({ authorization: "Bearer token-1" }));
    assert.equal(await runs(dir), 1);

    clock.advance(45_000);
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-1" });
    assert.equal(await runs(dir), 1);

    // Within 10 s of the expiry: refreshed.
    clock.advance(6_000);
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-2" });
    assert.equal(await runs(dir), 2);

    // After a 401: refreshed once, then cached again.
    auth.invalidate();
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-3" });
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-3" });
    assert.equal(await runs(dir), 3);
  });
});

Deno.test("exec: without expiry, cached until invalidate()", async () => {
  await withTempDir(async (dir) => {
    const clock = fakeClock();
    const auth = createAuthenticator(await countingPlugin(dir, undefined), { now: clock.now });
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-1" });
    clock.advance(24 * 3600_000);
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-1" });
    auth.invalidate();
    assert.deepEqual(await auth.current(), { authorization: "Bearer token-2" });
  });
});

Deno.test("exec: the plugin's certificate overrides config.clientCertificate; errors are not cached", async () => {
  await withTempDir(async (dir) => {
    const command = join(dir, "plugin.sh");
    const pluginCert = CERT_PEM.replace("STATIC", "PLUGIN");
    const pluginKey = KEY_PEM.replace("STATIC", "PLUGIN");
    await Deno.writeTextFile(
      command,
      `#!/bin/bash
if [ ! -e "${dir}/ready" ]; then echo "not logged in" >&2; exit 1; fi
cat <<'EOF'
${
        JSON.stringify({
          apiVersion: V1,
          kind: "ExecCredential",
          status: { clientCertificateData: pluginCert, clientKeyData: pluginKey },
        })
      }
EOF
`,
    );
    await Deno.chmod(command, 0o755);
    const auth = createAuthenticator({
      server: SERVER,
      credentials: { kind: "exec", apiVersion: V1, command, source: "/k/config users[u]" },
      clientCertificate: { kind: "clientCertificate", certificate: CERT_PEM, key: KEY_PEM },
    });
    const error = await auth.current().catch((e) => e);
    assert.ok(error instanceof ExecPluginError);
    assert.equal(error.file, "/k/config");
    assert.equal(error.field, "users[u].user.exec");
    assert.match(error.message, /exited with code 1: not logged in$/);

    await Deno.writeTextFile(join(dir, "ready"), "");
    assert.deepEqual(await auth.current(), {
      clientCertificate: { certificate: pluginCert, key: pluginKey },
    });
  });
});

Deno.test("exec: the timeout option is passed to the plugin run", async () => {
  await withTempDir(async (dir) => {
    const command = join(dir, "plugin.sh");
    await Deno.writeTextFile(command, "#!/bin/bash\nexec sleep 3\n");
    await Deno.chmod(command, 0o755);
    const auth = createAuthenticator(
      { server: SERVER, credentials: { kind: "exec", apiVersion: V1, command } },
      { execTimeoutMs: 100 },
    );
    const error = await auth.current().catch((e) => e);
    assert.ok(error instanceof ExecPluginError);
    assert.match(error.message, /did not finish within 0\.1 s/);
  });
});
