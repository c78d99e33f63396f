import assert from "node:assert/strict";
import { join } from "node:path";
import type { ExecCredentials } from "./client_config.ts";
import { ClientConfigError } from "./config_error.ts";
import { ExecPluginError, runExecPlugin } from "./exec_plugin.ts";

const V1 = "client.authentication.k8s.io/v1";
const V1BETA1 = "client.authentication.k8s.io/v1beta1";
const CERT_PEM = "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n";
const KEY_PEM = "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-exec-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeScript(dir: string, body: string): Promise<string> {
  const path = join(dir, "plugin.sh");
  await Deno.writeTextFile(path, `#!/bin/bash\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

function credential(apiVersion: string, status: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion, kind: "ExecCredential", status });
}

/** A plugin printing `output` (single-quoted for bash). */
async function printing(dir: string, output: string, apiVersion = V1): Promise<ExecCredentials> {
  return {
    kind: "exec",
    apiVersion,
    command: await writeScript(dir, `cat <<'EOF'\n${output}\nEOF`),
    source: `${join(dir, "config")} users[alice]`,
  };
}

async function failure(promise: Promise<unknown>): Promise<ExecPluginError> {
  const error = await promise.then(() => assert.fail("no error"), (e: unknown) => e);
  assert.ok(error instanceof ExecPluginError, String(error));
  assert.ok(error instanceof ClientConfigError);
  return error;
}

Deno.test("runExecPlugin: passes KUBERNETES_EXEC_INFO, args and env; reads a v1 token", async () => {
  await withTempDir(async (dir) => {
    const exec: ExecCredentials = {
      kind: "exec",
      apiVersion: V1,
      command: await writeScript(
        dir,
        `printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info.json"
printf '%s|%s|%s' "$1" "$2" "$FOO" > "${dir}/args.txt"
echo '${credential(V1, { token: "tok", expirationTimestamp: "2999-01-01T00:00:00Z" })}'`,
      ),
      args: ["get-token", "two words"],
      env: { FOO: "bar" },
      provideClusterInfo: true,
    };
    const result = await runExecPlugin(exec, {
      cluster: {
        server: "https://k8s:6443",
        caCertificates: [CERT_PEM],
        tlsServerName: "api.internal",
        insecureSkipTlsVerify: false,
      },
    });
    assert.deepEqual(result, { token: "tok", expiresAt: new Date("2999-01-01T00:00:00Z") });
    assert.equal(await Deno.readTextFile(join(dir, "args.txt")), "get-token|two words|bar");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, "info.json"))), {
      apiVersion: V1,
      kind: "ExecCredential",
      spec: {
        interactive: false,
        cluster: {
          server: "https://k8s:6443",
          "tls-server-name": "api.internal",
          "certificate-authority-data": btoa(CERT_PEM),
        },
      },
    });

    // Without provideClusterInfo, no cluster.
    await runExecPlugin({ ...exec, provideClusterInfo: false }, {
      cluster: { server: "https://k8s:6443" },
    });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, "info.json"))), {
      apiVersion: V1,
      kind: "ExecCredential",
      spec: { interactive: false },
    });
  });
});

Deno.test("runExecPlugin: v1beta1 client certificate", async () => {
  await withTempDir(async (dir) => {
    const exec = await printing(
      dir,
      credential(V1BETA1, { clientCertificateData: CERT_PEM, clientKeyData: KEY_PEM }),
      V1BETA1,
    );
    assert.deepEqual(await runExecPlugin(exec), {
      clientCertificate: { certificate: CERT_PEM, key: KEY_PEM },
    });
  });
});

Deno.test("runExecPlugin: bad output and failures", async (t) => {
  const cases: { name: string; output?: string; script?: string; detail: RegExp }[] = [
    { name: "junk", output: "hello", detail: /not JSON/ },
    { name: "JSON array", output: "[1]", detail: /not an object/ },
    {
      name: "wrong kind",
      output: JSON.stringify({ apiVersion: V1, kind: "Secret", status: { token: "x" } }),
      detail: /kind "Secret"/,
    },
    {
      name: "wrong apiVersion",
      output: credential(V1BETA1, { token: "x" }),
      detail: /apiVersion "client\.authentication\.k8s\.io\/v1beta1"/,
    },
    {
      name: "no status",
      output: JSON.stringify({ apiVersion: V1, kind: "ExecCredential" }),
      detail: /has no status/,
    },
    {
      name: "neither token nor certificate",
      output: credential(V1, {}),
      detail: /neither a token nor a client certificate/,
    },
    {
      name: "certificate without key",
      output: credential(V1, { clientCertificateData: CERT_PEM }),
      detail: /clientCertificateData but no clientKeyData/,
    },
    {
      name: "bad expirationTimestamp",
      output: credential(V1, { token: "x", expirationTimestamp: "tomorrow" }),
      detail: /"tomorrow" is not an RFC 3339 time/,
    },
    {
      name: "expired",
      output: credential(V1, { token: "x", expirationTimestamp: "2020-01-01T00:00:00Z" }),
      detail: /already expired \(at 2020-01-01T00:00:00\.000Z\)/,
    },
    {
      name: "non-zero exit, stderr's first line truncated, stdout never shown",
      script: `echo "stdout-secret"\necho >&2\necho "${
        "e".repeat(300)
      }" >&2\necho second >&2\nexit 7`,
      detail: new RegExp(`exited with code 7: ${"e".repeat(200)}…$`),
    },
    { name: "killed by a signal", script: "kill -9 $$", detail: /was killed by SIGKILL/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () =>
      withTempDir(async (dir) => {
        const exec = c.script === undefined
          ? await printing(dir, c.output ?? "")
          : { ...(await printing(dir, "")), command: await writeScript(dir, c.script) };
        const error = await failure(runExecPlugin(exec));
        assert.match(error.message, c.detail);
        assert.equal(error.source, exec.source);
        assert.equal(error.file, join(dir, "config"));
        assert.equal(error.field, "users[alice].user.exec");
        assert.ok(!error.message.includes("stdout-secret"));
      }));
  }
});

Deno.test("runExecPlugin: command not found shows the install hint", async () => {
  const error = await failure(runExecPlugin({
    kind: "exec",
    apiVersion: V1,
    command: "roperator-definitely-missing-plugin",
    installHint: "Get it from https://example.com/plugin",
  }));
  assert.equal(
    error.message,
    'Cannot get credentials from exec plugin "roperator-definitely-missing-plugin": command not ' +
      "found. Get it from https://example.com/plugin",
  );
  assert.equal(error.file, undefined);
  assert.equal(error.field, undefined);
});

Deno.test("runExecPlugin: a plugin that hangs is killed after the timeout", async () => {
  await withTempDir(async (dir) => {
    const exec: ExecCredentials = {
      kind: "exec",
      apiVersion: V1,
      command: await writeScript(dir, "sleep 4 &\nexec sleep 4"),
    };
    const started = Date.now();
    const error = await failure(runExecPlugin(exec, { timeoutMs: 200 }));
    assert.match(error.message, /did not finish within 0\.2 s and was killed/);
    assert.ok(Date.now() - started < 2_000, "the timeout did not stop the wait");
  });
});

Deno.test("runExecPlugin: a background process holding stdout does not block", async () => {
  await withTempDir(async (dir) => {
    const exec: ExecCredentials = {
      kind: "exec",
      apiVersion: V1,
      command: await writeScript(
        dir,
        `echo '${credential(V1, { token: "tok" })}'\nsleep 4 &\nexit 0`,
      ),
    };
    const started = Date.now();
    assert.deepEqual(await runExecPlugin(exec, { timeoutMs: 10_000 }), { token: "tok" });
    assert.ok(Date.now() - started < 3_000);
  });
});
