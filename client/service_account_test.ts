import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientConfigError } from "./config_error.ts";
import { loadClientConfig, NoClientConfigError } from "./load_client_config.ts";
import { fromServiceAccount } from "./service_account.ts";
import { CA_PEM } from "./testdata/pem.ts";

const TOKEN = "SECRET-SA-TOKEN-42";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-sa-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function envOf(vars: Record<string, string>): (name: string) => string | undefined {
  return (name) => vars[name];
}

const IN_POD = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

async function writeServiceAccount(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(join(dir, name), content);
  }
}

Deno.test("fromServiceAccount: server, CA, namespace and token file", async () => {
  await withTempDir(async (dir) => {
    await writeServiceAccount(dir, { token: TOKEN, "ca.crt": CA_PEM, namespace: "operators\n" });
    assert.deepEqual(await fromServiceAccount({ dir, env: envOf(IN_POD), userAgent: "op/1" }), {
      server: "https://10.96.0.1:443",
      credentials: { kind: "tokenFile", path: join(dir, "token") },
      caCertificates: [CA_PEM],
      namespace: "operators",
      userAgent: "op/1",
    });
  });
});

Deno.test("fromServiceAccount: IPv6 host in brackets; ca.crt and namespace optional", async () => {
  await withTempDir(async (dir) => {
    await writeServiceAccount(dir, { token: TOKEN });
    const env = envOf({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" });
    assert.deepEqual(await fromServiceAccount({ dir, env }), {
      server: "https://[fd00::1]:443",
      credentials: { kind: "tokenFile", path: join(dir, "token") },
    });
    const bracketed = envOf({
      KUBERNETES_SERVICE_HOST: "[fd00::2]",
      KUBERNETES_SERVICE_PORT: "6443",
    });
    assert.equal(
      (await fromServiceAccount({ dir, env: bracketed })).server,
      "https://[fd00::2]:6443",
    );
  });
});

Deno.test("fromServiceAccount: environment errors", async (t) => {
  const cases: { name: string; vars: Record<string, string>; field: string; detail: RegExp }[] = [
    {
      name: "host unset",
      vars: {},
      field: "KUBERNETES_SERVICE_HOST",
      detail: /not running in a pod/,
    },
    {
      name: "port unset",
      vars: { KUBERNETES_SERVICE_HOST: "10.0.0.1" },
      field: "KUBERNETES_SERVICE_PORT",
      detail: /not running in a pod/,
    },
    {
      name: "port not a number",
      vars: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "https" },
      field: "KUBERNETES_SERVICE_PORT",
      detail: /"https" is not a port number/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () =>
      withTempDir(async (dir) => {
        await writeServiceAccount(dir, { token: TOKEN });
        const error = await fromServiceAccount({ dir, env: envOf(c.vars) }).catch((e) => e);
        assert.ok(error instanceof ClientConfigError);
        assert.equal(error.field, c.field);
        assert.equal(error.file, undefined);
        assert.match(error.message, new RegExp(`^Cannot load in-cluster config: ${c.field}: `));
        assert.match(error.message, c.detail);
      }));
  }
});

Deno.test("fromServiceAccount: a token file that is a directory", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "token"));
    const error = await fromServiceAccount({ dir, env: envOf(IN_POD) }).catch((e) => e);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(error.file, dir);
    assert.equal(error.field, "token");
    assert.match(
      error.message,
      /^Cannot load service account ".*": token: cannot read ".*token": /,
    );
  });
});

Deno.test("fromServiceAccount: no read permission gives an error, not a prompt", async () => {
  await withTempDir(async (dir) => {
    await writeServiceAccount(dir, { token: TOKEN });
    const script = join(dir, "probe.ts");
    await Deno.writeTextFile(
      script,
      `import { fromServiceAccount } from ${
        JSON.stringify(new URL("./service_account.ts", import.meta.url).href)
      };
try {
  await fromServiceAccount({ dir: ${JSON.stringify(dir)}, env: () => "443" });
} catch (error) {
  console.log((error as Error).message);
}
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-lock",
        "--no-prompt",
        `--config=${new URL("../deno.json", import.meta.url).pathname}`,
        `--allow-read=${script}`,
        script,
      ],
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.match(
      stdout,
      /Cannot load service account ".*": token: missing read permission/,
      new TextDecoder().decode(output.stderr),
    );
  });
});

Deno.test("loadClientConfig: in-cluster when in a pod with a token", async () => {
  await withTempDir(async (dir) => {
    await writeServiceAccount(dir, { token: TOKEN, namespace: "ns" });
    const config = await loadClientConfig({
      env: envOf({ ...IN_POD, HOME: join(dir, "home") }),
      serviceAccountDir: dir,
      userAgent: "op/1",
    });
    assert.equal(config.server, "https://10.96.0.1:443");
    assert.equal(config.namespace, "ns");
    assert.equal(config.userAgent, "op/1");
  });
});

Deno.test("loadClientConfig: kubeconfig when not in a pod, or when the token is missing", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, ".kube"));
    await Deno.writeTextFile(
      join(dir, ".kube", "config"),
      JSON.stringify({
        "current-context": "dev",
        clusters: [{ name: "c", cluster: { server: "https://laptop:6443" } }],
        contexts: [{ name: "dev", context: { cluster: "c" } }, {
          name: "other",
          context: { cluster: "c", namespace: "x" },
        }],
      }),
    );
    const saDir = join(dir, "sa");
    await Deno.mkdir(saDir);
    assert.equal(
      (await loadClientConfig({ env: envOf({ HOME: dir }), serviceAccountDir: saDir })).server,
      "https://laptop:6443",
    );
    // KUBERNETES_SERVICE_HOST set but no token: the kubeconfig.
    assert.equal(
      (await loadClientConfig({ env: envOf({ ...IN_POD, HOME: dir }), serviceAccountDir: saDir }))
        .server,
      "https://laptop:6443",
    );
    // An explicit context wins over in-cluster.
    await writeServiceAccount(saDir, { token: TOKEN });
    const explicit = await loadClientConfig({
      env: envOf({ ...IN_POD, HOME: dir }),
      serviceAccountDir: saDir,
      context: "other",
    });
    assert.equal(explicit.namespace, "x");
    // KUBECONFIG set: tried before in-cluster.
    const fromVar = await loadClientConfig({
      env: envOf({ ...IN_POD, KUBECONFIG: join(dir, ".kube", "config") }),
      serviceAccountDir: saDir,
    });
    assert.equal(fromVar.server, "https://laptop:6443");
  });
});

Deno.test("loadClientConfig: both failing reports both causes", async () => {
  await withTempDir(async (dir) => {
    const error = await loadClientConfig({
      env: envOf({ HOME: dir }),
      serviceAccountDir: dir,
    }).catch((e) => e);
    assert.ok(error instanceof NoClientConfigError);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(error.errors.length, 2);
    assert.match(
      error.message,
      /^Cannot load a client config from in-cluster or kubeconfig: in-cluster: Cannot load in-cluster config: KUBERNETES_SERVICE_HOST: not set.*; kubeconfig: Cannot load kubeconfig ".*\.kube\/config": cannot read: No such file or directory$/,
    );

    // An explicit kubeconfig is not combined with anything.
    const explicit = await loadClientConfig({
      env: envOf({ ...IN_POD }),
      kubeconfig: join(dir, "missing"),
    }).catch((e) => e);
    assert.ok(explicit instanceof ClientConfigError);
    assert.ok(!(explicit instanceof NoClientConfigError));
    assert.equal(explicit.file, join(dir, "missing"));
  });
});
