import assert from "node:assert/strict";
import { join } from "node:path";
import { createAuthenticator } from "./authenticator.ts";
import { ClientConfigError } from "./config_error.ts";
import { ExecPluginError } from "./exec_plugin.ts";
import { fromKubeconfig } from "./kubeconfig.ts";
import { readKubeconfigs } from "./kubeconfig_merge.ts";
import { fromServiceAccount } from "./service_account.ts";
import {
  CA2_PEM,
  CA_PEM,
  CERT_BODY,
  CERT_PEM,
  damaged,
  KEY_BODY,
  KEY_PEM,
  RSA_KEY_PEM,
  SEC1_KEY_PEM,
} from "./testdata/pem.ts";

// Secret values planted in the fixtures: none may ever appear in an error message.
const TOKEN = "SECRET-TOKEN-7f3a9c";
const PASSWORD = "SECRET-PASSWORD-81b2";
const STDOUT_SECRET = "SECRET-STDOUT-5d1e";
const SECRETS = [TOKEN, PASSWORD, KEY_BODY, CERT_BODY, STDOUT_SECRET];

const V1 = "client.authentication.k8s.io/v1";

function b64(text: string): string {
  return btoa(text);
}

type Json = Record<string, unknown>;

/** A valid kubeconfig: context "dev" → cluster "c" + user "alice". */
function baseConfig(): Json {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "dev",
    clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
    users: [{ name: "alice", user: { token: TOKEN } }],
    contexts: [{ name: "dev", context: { cluster: "c", user: "alice", namespace: "team" } }],
  };
}

function clusterOf(config: Json): Json {
  return ((config["clusters"] as Json[])[0] as Json)["cluster"] as Json;
}

function userOf(config: Json): Json {
  return ((config["users"] as Json[])[0] as Json)["user"] as Json;
}

function contextOf(config: Json): Json {
  return ((config["contexts"] as Json[])[0] as Json)["context"] as Json;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "roperator-kubeconfig-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeConfig(dir: string, content: Json | string, name = "config"): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

/** Writes `baseConfig()` changed by `edit` and loads it. */
async function loadEdited(
  dir: string,
  edit: (config: Json) => void,
  context?: string,
): Promise<unknown> {
  const config = baseConfig();
  edit(config);
  const path = await writeConfig(dir, config);
  return await fromKubeconfig({ path, ...(context === undefined ? {} : { context }) });
}

async function writeScript(dir: string, body: string, name = "plugin.sh"): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, `#!/bin/bash\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

/** A kubeconfig whose user runs `script` as an exec plugin; resolves the authenticator's state. */
async function runExecUser(dir: string, script: string, exec: Json = {}): Promise<unknown> {
  const command = await writeScript(dir, script);
  return await loadEdited(dir, (c) => {
    const user = userOf(c);
    delete user["token"];
    user["exec"] = { apiVersion: V1, command, ...exec };
  }).then((config) =>
    createAuthenticator(config as Parameters<typeof createAuthenticator>[0], {
      execTimeoutMs: 5_000,
    }).current()
  );
}

interface BadCase {
  name: string;
  run: (dir: string) => Promise<unknown>;
  /** Expected `file`; `"config"` means `<dir>/config`. */
  file: (dir: string) => string | undefined;
  field: string | undefined;
  /** Also expected in the message. */
  detail: string | RegExp;
  errorClass?: new (...args: never[]) => ClientConfigError;
}

const inDir = (name: string) => (dir: string) => join(dir, name);

const BAD_CASES: BadCase[] = [
  {
    name: "missing kubeconfig file",
    run: (dir) => fromKubeconfig({ path: join(dir, "nope") }),
    file: inDir("nope"),
    field: undefined,
    detail: "No such file or directory",
  },
  {
    name: "invalid YAML (the line holding a token is not quoted)",
    run: async (dir) =>
      fromKubeconfig({
        path: await writeConfig(
          dir,
          `users:\n- name: a\n  user:\n    token: ${TOKEN}\n  bad: : [\n`,
        ),
      }),
    file: inDir("config"),
    field: undefined,
    detail: /invalid YAML at line \d+, column \d+/,
  },
  {
    name: "YAML that is not a mapping",
    run: async (dir) => fromKubeconfig({ path: await writeConfig(dir, "- a\n- b\n") }),
    file: inDir("config"),
    field: undefined,
    detail: "not a YAML mapping",
  },
  {
    name: "clusters is not a sequence",
    run: (dir) => loadEdited(dir, (c) => c["clusters"] = { c: {} }),
    file: inDir("config"),
    field: "clusters",
    detail: "must be a sequence",
  },
  {
    name: "boolean field that is not a boolean",
    run: (dir) => loadEdited(dir, (c) => clusterOf(c)["insecure-skip-tls-verify"] = "maybe"),
    file: inDir("config"),
    field: "clusters[c].cluster.insecure-skip-tls-verify",
    detail: "must be true or false",
  },
  {
    name: "unknown context",
    run: (dir) => loadEdited(dir, () => {}, "nope"),
    file: inDir("config"),
    field: "contexts[nope]",
    detail: 'context "nope" not found',
  },
  {
    name: "no current-context",
    run: (dir) => loadEdited(dir, (c) => delete c["current-context"]),
    file: inDir("config"),
    field: "current-context",
    detail: "not set",
  },
  {
    name: "current-context naming a missing context",
    run: (dir) => loadEdited(dir, (c) => c["current-context"] = "prod"),
    file: inDir("config"),
    field: "current-context",
    detail: 'context "prod" not found',
  },
  {
    name: "context naming a missing cluster",
    run: (dir) => loadEdited(dir, (c) => contextOf(c)["cluster"] = "gone"),
    file: inDir("config"),
    field: "contexts[dev].context.cluster",
    detail: 'cluster "gone" not found',
  },
  {
    name: "context naming a missing user",
    run: (dir) => loadEdited(dir, (c) => contextOf(c)["user"] = "bob"),
    file: inDir("config"),
    field: "contexts[dev].context.user",
    detail: 'user "bob" not found',
  },
  {
    name: "cluster without server",
    run: (dir) => loadEdited(dir, (c) => delete clusterOf(c)["server"]),
    file: inDir("config"),
    field: "clusters[c].cluster.server",
    detail: "not set",
  },
  ...["https://ht!tp://::not a url", "https://", "https://exa mple.com", "https://-x-"].map(
    (server): BadCase => ({
      name: `server ${JSON.stringify(server)}`,
      run: (dir) => loadEdited(dir, (c) => clusterOf(c)["server"] = server),
      file: inDir("config"),
      field: "clusters[c].cluster.server",
      detail: /is not a valid URL/,
    }),
  ),
  {
    name: "server with another scheme",
    run: (dir) => loadEdited(dir, (c) => clusterOf(c)["server"] = "ftp://x"),
    file: inDir("config"),
    field: "clusters[c].cluster.server",
    detail: 'has unsupported scheme "ftp:"',
  },
  {
    name: "CA data that is PEM-shaped but does not parse",
    run: (dir) =>
      loadEdited(dir, (c) => clusterOf(c)["certificate-authority-data"] = b64(damaged(CA_PEM))),
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority-data",
    detail: "does not decode to a valid PEM certificate: the certificate cannot be parsed",
  },
  {
    name: "CA file whose second certificate does not parse",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "ca.pem"), CA_PEM + damaged(CA2_PEM));
      return loadEdited(dir, (c) => clusterOf(c)["certificate-authority"] = "ca.pem");
    },
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority",
    detail: /"[^"]*ca\.pem" is not a valid PEM certificate: certificate 2 of 2 cannot be parsed/,
  },
  {
    name: "client certificate data that does not parse",
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(damaged(CERT_PEM));
        userOf(c)["client-key-data"] = b64(KEY_PEM);
      }),
    file: inDir("config"),
    field: "users[alice].user.client-certificate-data",
    detail: "the certificate cannot be parsed",
  },
  ...([["PKCS#8", KEY_PEM], ["SEC1", SEC1_KEY_PEM], ["PKCS#1", RSA_KEY_PEM]] as const).map((
    [format, key],
  ): BadCase => ({
    name: `client key data (${format}) that does not parse`,
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key-data"] = b64(damaged(key));
      }),
    file: inDir("config"),
    field: "users[alice].user.client-key-data",
    detail: "does not decode to a valid PEM private key: the private key cannot be parsed",
  })),
  {
    name: "client key file that does not parse",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "key.pem"), damaged(SEC1_KEY_PEM));
      return loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key"] = "key.pem";
      });
    },
    file: inDir("config"),
    field: "users[alice].user.client-key",
    detail: /"[^"]*key\.pem" is not a valid PEM private key: the private key cannot be parsed/,
  },
  {
    name: "encrypted client key",
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key-data"] = b64(
          KEY_PEM.replaceAll("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
        );
      }),
    file: inDir("config"),
    field: "users[alice].user.client-key-data",
    detail: "the private key is encrypted",
  },
  {
    name: "bad base64 CA data",
    run: (dir) =>
      loadEdited(dir, (c) => clusterOf(c)["certificate-authority-data"] = `${KEY_BODY}!!*`),
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority-data",
    detail: "is not valid base64",
  },
  {
    name: "CA data that is not PEM",
    run: (dir) =>
      loadEdited(dir, (c) => clusterOf(c)["certificate-authority-data"] = b64(KEY_BODY)),
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority-data",
    detail: "does not decode to a PEM certificate",
  },
  {
    name: "unreadable CA path (relative to the kubeconfig)",
    run: (dir) => loadEdited(dir, (c) => clusterOf(c)["certificate-authority"] = "ca.pem"),
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority",
    detail: /cannot read ".*\/ca\.pem": No such file or directory/,
  },
  {
    name: "CA data and CA path both set",
    run: (dir) =>
      loadEdited(dir, (c) => {
        clusterOf(c)["certificate-authority-data"] = b64(CA_PEM);
        clusterOf(c)["certificate-authority"] = "/x/ca.pem";
      }),
    file: inDir("config"),
    field: "clusters[c].cluster.certificate-authority-data",
    detail: "both certificate-authority-data and certificate-authority are set",
  },
  {
    name: "insecure-skip-tls-verify with a CA",
    run: (dir) =>
      loadEdited(dir, (c) => {
        clusterOf(c)["certificate-authority-data"] = b64(CA_PEM);
        clusterOf(c)["insecure-skip-tls-verify"] = true;
      }),
    file: inDir("config"),
    field: "clusters[c].cluster.insecure-skip-tls-verify",
    detail: "cannot be combined",
  },
  {
    name: "unreadable client-key path",
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key"] = "/x/key.pem";
      }),
    file: inDir("config"),
    field: "users[alice].user.client-key",
    detail: 'cannot read "/x/key.pem": No such file or directory',
  },
  {
    name: "client-key file that is not PEM",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "key.pem"), KEY_BODY);
      return loadEdited(dir, (c) => {
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key"] = "key.pem";
      });
    },
    file: inDir("config"),
    field: "users[alice].user.client-key",
    detail: "is not a PEM private key",
  },
  {
    name: "client certificate without key",
    run: (dir) => loadEdited(dir, (c) => userOf(c)["client-certificate-data"] = b64(CERT_PEM)),
    file: inDir("config"),
    field: "users[alice].user.client-key",
    detail: "not set, but a client certificate is",
  },
  {
    name: "client key without certificate",
    run: (dir) => loadEdited(dir, (c) => userOf(c)["client-key-data"] = b64(KEY_PEM)),
    file: inDir("config"),
    field: "users[alice].user.client-certificate",
    detail: "not set, but a client key is",
  },
  {
    name: "unsupported auth-provider",
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["auth-provider"] = { name: "gcp", config: { "access-token": TOKEN } };
      }),
    file: inDir("config"),
    field: "users[alice].user.auth-provider",
    detail: /"gcp" auth provider is not supported.*exec credential plugin/,
  },
  {
    name: "token and username/password",
    run: (dir) =>
      loadEdited(dir, (c) => {
        userOf(c)["username"] = "alice";
        userOf(c)["password"] = PASSWORD;
      }),
    file: inDir("config"),
    field: "users[alice].user",
    detail: "more than one authentication method",
  },
  {
    name: "impersonation groups without a user",
    run: (dir) => loadEdited(dir, (c) => userOf(c)["as-groups"] = ["admins"]),
    file: inDir("config"),
    field: "users[alice].user.as",
    detail: "impersonating needs a user name",
  },
  {
    name: "unreadable tokenFile",
    run: (dir) =>
      loadEdited(dir, (c) => {
        delete userOf(c)["token"];
        userOf(c)["tokenFile"] = "token.txt";
      }),
    file: inDir("config"),
    field: "users[alice].user.tokenFile",
    detail: /cannot read ".*token\.txt": No such file or directory/,
  },
  {
    name: "unsupported exec apiVersion",
    run: (dir) =>
      loadEdited(dir, (c) => {
        delete userOf(c)["token"];
        userOf(c)["exec"] = { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" };
      }),
    file: inDir("config"),
    field: "users[alice].user.exec.apiVersion",
    detail: "is not supported",
  },
  {
    name: "exec plugin that exits non-zero",
    run: (dir) =>
      runExecUser(
        dir,
        `echo "${STDOUT_SECRET}"\necho "login required: run gcloud auth" >&2\nexit 3`,
      ),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: "exited with code 3: login required: run gcloud auth",
    errorClass: ExecPluginError,
  },
  {
    name: "exec plugin that prints junk",
    run: (dir) => runExecUser(dir, `echo "token=${STDOUT_SECRET}"`),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: "not JSON",
    errorClass: ExecPluginError,
  },
  {
    name: "exec plugin that returns an expired credential",
    run: (dir) =>
      runExecUser(
        dir,
        `echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"${STDOUT_SECRET}",` +
          `"expirationTimestamp":"2001-01-01T00:00:00Z"}}'`,
      ),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: "already expired",
    errorClass: ExecPluginError,
  },
  {
    name: "exec plugin that returns another apiVersion",
    run: (dir) =>
      runExecUser(
        dir,
        `echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential",` +
          `"status":{"token":"${STDOUT_SECRET}"}}'`,
      ),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: 'apiVersion "client.authentication.k8s.io/v1beta1"',
    errorClass: ExecPluginError,
  },
  {
    name: "exec plugin that returns no credential",
    run: (dir) =>
      runExecUser(dir, `echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{}}'`),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: "neither a token nor a client certificate",
    errorClass: ExecPluginError,
  },
  {
    name: "exec plugin command not found",
    run: (dir) =>
      loadEdited(dir, (c) => {
        delete userOf(c)["token"];
        userOf(c)["exec"] = {
          apiVersion: V1,
          command: "roperator-no-such-plugin",
          installHint: "Install it with: brew install roperator-plugin",
        };
      }).then((config) =>
        createAuthenticator(config as Parameters<typeof createAuthenticator>[0]).current()
      ),
    file: inDir("config"),
    field: "users[alice].user.exec",
    detail: "command not found. Install it with: brew install roperator-plugin",
    errorClass: ExecPluginError,
  },
  {
    name: "service-account dir without token",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "ca.crt"), CA_PEM);
      return fromServiceAccount({
        dir,
        env: (name) =>
          ({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" })[name],
      });
    },
    file: (dir) => dir,
    field: "token",
    detail: "No such file or directory",
  },
  {
    name: "service-account token file that is empty",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "token"), "\n");
      return fromServiceAccount({
        dir,
        env: (name) =>
          ({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" })[name],
      });
    },
    file: (dir) => dir,
    field: "token",
    detail: "is empty",
  },
  {
    name: "service-account ca.crt that is not PEM",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "token"), TOKEN);
      await Deno.writeTextFile(join(dir, "ca.crt"), "garbage");
      return fromServiceAccount({
        dir,
        env: (name) =>
          ({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" })[name],
      });
    },
    file: (dir) => dir,
    field: "ca.crt",
    detail: "is not a PEM certificate",
  },
  {
    name: "service-account ca.crt that is PEM-shaped but does not parse",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "token"), TOKEN);
      await Deno.writeTextFile(join(dir, "ca.crt"), CA_PEM + damaged(CA2_PEM));
      return fromServiceAccount({
        dir,
        env: (name) =>
          ({ KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" })[name],
      });
    },
    file: (dir) => dir,
    field: "ca.crt",
    detail: "is not a valid PEM certificate: certificate 2 of 2 cannot be parsed",
  },
  {
    name: "KUBERNETES_SERVICE_HOST unset",
    run: async (dir) => {
      await Deno.writeTextFile(join(dir, "token"), TOKEN);
      return fromServiceAccount({ dir, env: () => undefined });
    },
    file: () => undefined,
    field: "KUBERNETES_SERVICE_HOST",
    detail: "not running in a pod",
  },
  {
    name: "ClientConfig whose token file is unreadable",
    run: (dir) =>
      createAuthenticator({
        server: "https://127.0.0.1:6443",
        credentials: { kind: "tokenFile", path: join(dir, "token") },
      }).current(),
    file: inDir("token"),
    field: undefined,
    detail: "No such file or directory",
  },
];

Deno.test("malformed configurations give a ClientConfigError naming file and field", async (t) => {
  assert.ok(BAD_CASES.length >= 15);
  for (const bad of BAD_CASES) {
    await t.step(bad.name, () =>
      withTempDir(async (dir) => {
        const error = await bad.run(dir).then(
          () => assert.fail("no error was thrown"),
          (e: unknown) => e,
        );
        assert.ok(
          error instanceof (bad.errorClass ?? ClientConfigError),
          `expected ${bad.errorClass?.name ?? "ClientConfigError"}, got ${error}`,
        );
        assert.ok(error instanceof ClientConfigError);
        const file = bad.file(dir);
        assert.equal(error.file, file);
        assert.equal(error.field, bad.field);
        if (file !== undefined) assert.ok(error.message.includes(`"${file}"`), error.message);
        if (bad.field !== undefined) {
          assert.ok(error.message.includes(`${bad.field}:`), error.message);
        }
        if (typeof bad.detail === "string") {
          assert.ok(error.message.includes(bad.detail), error.message);
        } else {
          assert.match(error.message, bad.detail);
        }
        assert.match(error.message, /^Cannot /);
        for (const secret of SECRETS) {
          assert.ok(!error.message.includes(secret), `secret in message: ${error.message}`);
          const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
          assert.ok(!cause.includes(secret), `secret in cause: ${cause}`);
        }
      }));
  }
});

Deno.test("fromKubeconfig takes PKCS#1, PKCS#8 and SEC1 keys and a CA bundle", async () => {
  for (const key of [KEY_PEM, SEC1_KEY_PEM, RSA_KEY_PEM]) {
    await withTempDir(async (dir) => {
      const config = await loadEdited(dir, (c) => {
        clusterOf(c)["certificate-authority-data"] = b64(CA_PEM + CA2_PEM);
        userOf(c)["client-certificate-data"] = b64(CERT_PEM);
        userOf(c)["client-key-data"] = b64(key);
      }) as { caCertificates?: string[]; clientCertificate?: { key: string } };
      assert.deepEqual(config.caCertificates, [CA_PEM + CA2_PEM]);
      assert.equal(config.clientCertificate?.key, key);
    });
  }
});

Deno.test("the example message of the brief", async () => {
  await withTempDir(async (dir) => {
    const error = await loadEdited(dir, (c) => {
      userOf(c)["client-certificate-data"] = b64(CERT_PEM);
      userOf(c)["client-key"] = "/x/key.pem";
    }).catch((e) => e);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(
      error.message,
      `Cannot load kubeconfig "${
        join(dir, "config")
      }": users[alice].user.client-key: cannot read "/x/key.pem": No such file or directory`,
    );
  });
});

Deno.test("fromKubeconfig maps every cluster, user and context field", async () => {
  await withTempDir(async (dir) => {
    const path = await writeConfig(
      dir,
      `# a hand-written kubeconfig
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c
  cluster:
    server: https://k8s.example.com:6443
    certificate-authority-data: ${b64(CA_PEM)}
    tls-server-name: api.internal
    proxy-url: http://proxy.example.com:3128
users:
- name: alice
  user:
    token: ${TOKEN}
    client-certificate-data: ${b64(CERT_PEM)}
    client-key-data: ${b64(KEY_PEM)}
    as: bob
    as-uid: "1234"
    as-groups: [admins, "system:masters"]
    as-user-extra:
      scopes: [view, edit]
contexts:
- name: dev
  context:
    cluster: c
    user: alice
    namespace: team
`,
    );
    const config = await fromKubeconfig({ path, userAgent: "test/1.0" });
    assert.deepEqual(config, {
      server: "https://k8s.example.com:6443",
      caCertificates: [CA_PEM],
      tlsServerName: "api.internal",
      proxyUrl: "http://proxy.example.com:3128",
      credentials: { kind: "token", token: TOKEN },
      clientCertificate: { kind: "clientCertificate", certificate: CERT_PEM, key: KEY_PEM },
      impersonate: {
        user: "bob",
        uid: "1234",
        groups: ["admins", "system:masters"],
        extra: { scopes: ["view", "edit"] },
      },
      namespace: "team",
      userAgent: "test/1.0",
    });
  });
});

Deno.test("fromKubeconfig: named context, basic auth, insecure, scalars kept as strings", async () => {
  await withTempDir(async (dir) => {
    const path = await writeConfig(
      dir,
      `clusters:
- name: a
  cluster: {server: "https://a:6443"}
- name: b
  cluster:
    server: b.example.com:8443
    insecure-skip-tls-verify: true
users:
- name: u
  user: {token: 0123}
- name: v
  user: {username: admin, password: ${PASSWORD}}
contexts:
- name: one
  context: {cluster: a, user: u}
- name: two
  context: {cluster: b, user: v}
current-context: one
`,
    );
    assert.deepEqual(await fromKubeconfig({ path }), {
      server: "https://a:6443",
      credentials: { kind: "token", token: "0123" },
    });
    assert.deepEqual(await fromKubeconfig({ path, context: "two" }), {
      server: "https://b.example.com:8443",
      insecureSkipTlsVerify: true,
      credentials: { kind: "basic", username: "admin", password: PASSWORD },
    });
  });
});

Deno.test("fromKubeconfig: exec users, relative paths and a context without user", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "certs"));
    await Deno.writeTextFile(join(dir, "certs", "ca.pem"), CA_PEM);
    await Deno.writeTextFile(join(dir, "token.txt"), TOKEN);
    const path = await writeConfig(dir, {
      "current-context": "exec",
      clusters: [{
        name: "c",
        cluster: { server: "https://c", "certificate-authority": "certs/ca.pem" },
      }],
      users: [
        {
          name: "e",
          user: {
            exec: {
              apiVersion: V1,
              command: "./bin/plugin",
              args: ["get-token", "--cluster", "c"],
              env: [{ name: "FOO", value: "bar" }],
              installHint: "install it",
              provideClusterInfo: true,
              interactiveMode: "Never",
            },
          },
        },
        { name: "p", user: { exec: { apiVersion: V1, command: "kubelogin" } } },
        { name: "f", user: { tokenFile: "token.txt" } },
      ],
      contexts: [
        { name: "exec", context: { cluster: "c", user: "e" } },
        { name: "path", context: { cluster: "c", user: "p" } },
        { name: "file", context: { cluster: "c", user: "f" } },
        { name: "anonymous", context: { cluster: "c" } },
      ],
    });
    const exec = await fromKubeconfig({ path });
    assert.deepEqual(exec.caCertificates, [CA_PEM]);
    assert.deepEqual(exec.credentials, {
      kind: "exec",
      apiVersion: V1,
      command: join(dir, "bin", "plugin"),
      args: ["get-token", "--cluster", "c"],
      env: { FOO: "bar" },
      installHint: "install it",
      provideClusterInfo: true,
      source: `${path} users[e]`,
    });
    assert.deepEqual((await fromKubeconfig({ path, context: "path" })).credentials, {
      kind: "exec",
      apiVersion: V1,
      command: "kubelogin",
      source: `${path} users[p]`,
    });
    assert.deepEqual((await fromKubeconfig({ path, context: "file" })).credentials, {
      kind: "tokenFile",
      path: join(dir, "token.txt"),
    });
    const anonymous = await fromKubeconfig({ path, context: "anonymous" });
    assert.equal(anonymous.credentials, undefined);
  });
});

Deno.test("KUBECONFIG: files merged the way kubectl merges them", async () => {
  await withTempDir(async (dir) => {
    const dirA = join(dir, "a");
    const dirB = join(dir, "b");
    await Deno.mkdir(dirA);
    await Deno.mkdir(dirB);
    const caA = CA_PEM.replace("CAMATERIAL", "CA-A");
    const caB = CA_PEM.replace("CAMATERIAL", "CA-B");
    await Deno.writeTextFile(join(dirA, "ca.pem"), caA);
    await Deno.writeTextFile(join(dirB, "ca.pem"), caB);
    await Deno.writeTextFile(join(dirB, "cert.pem"), CERT_PEM);
    await Deno.writeTextFile(join(dirB, "key.pem"), KEY_PEM);
    const fileA = await writeConfig(dirA, {
      clusters: [{
        name: "shared",
        cluster: { server: "https://a", "certificate-authority": "ca.pem" },
      }],
      users: [{ name: "shared", user: { token: "token-a" } }],
      contexts: [{ name: "ctx-a", context: { cluster: "shared", user: "shared", namespace: "a" } }],
    });
    const fileB = await writeConfig(dirB, {
      "current-context": "ctx-b",
      clusters: [
        { name: "shared", cluster: { server: "https://b" } },
        {
          name: "only-b",
          cluster: { server: "https://only-b", "certificate-authority": "ca.pem" },
        },
      ],
      users: [
        { name: "shared", user: { token: "token-b" } },
        { name: "cert", user: { "client-certificate": "cert.pem", "client-key": "./key.pem" } },
      ],
      contexts: [
        { name: "ctx-a", context: { cluster: "only-b", user: "cert" } },
        { name: "ctx-b", context: { cluster: "only-b", user: "cert" } },
        { name: "mixed", context: { cluster: "shared", user: "cert" } },
      ],
    });
    const fileC = await writeConfig(dirA, { "current-context": "ctx-a" }, "later");
    const kubeconfigVar = ["", fileA, join(dir, "missing"), "", fileB, fileC, fileA].join(":");
    const env = (name: string) => name === "KUBECONFIG" ? kubeconfigVar : undefined;

    const loaded = await readKubeconfigs({ env });
    assert.deepEqual(loaded.paths, [fileA, fileB, fileC]);
    assert.equal(loaded.kubeconfig["current-context"], "ctx-b");
    assert.equal(loaded.sources.currentContext, fileB);
    assert.deepEqual(loaded.kubeconfig.clusters.map((c) => c.name), ["shared", "only-b"]);
    assert.equal(loaded.sources.clusters.get("shared"), fileA);
    assert.equal(loaded.sources.clusters.get("only-b"), fileB);
    assert.equal(loaded.sources.contexts.get("ctx-a"), fileA);
    assert.equal(loaded.sources.users.get("cert"), fileB);

    // current-context from B; cluster only-b's relative CA resolved against B's directory.
    const fromB = await fromKubeconfig({ env });
    assert.equal(fromB.server, "https://only-b");
    assert.deepEqual(fromB.caCertificates, [caB]);
    assert.deepEqual(fromB.clientCertificate, {
      kind: "clientCertificate",
      certificate: CERT_PEM,
      key: KEY_PEM,
    });
    // ctx-a, cluster "shared" and user "shared": A's wins over B's; A's CA from A's directory.
    const fromA = await fromKubeconfig({ env, context: "ctx-a" });
    assert.equal(fromA.server, "https://a");
    assert.deepEqual(fromA.caCertificates, [caA]);
    assert.deepEqual(fromA.credentials, { kind: "token", token: "token-a" });
    assert.equal(fromA.namespace, "a");
    // A context from B naming a cluster from A and a user from B.
    const mixed = await fromKubeconfig({ env, context: "mixed" });
    assert.equal(mixed.server, "https://a");
    assert.deepEqual(mixed.caCertificates, [caA]);
    assert.equal(mixed.clientCertificate?.certificate, CERT_PEM);

    // With the order reversed, B's ctx-a wins.
    const reversed = (name: string) => name === "KUBECONFIG" ? `${fileB}:${fileA}` : undefined;
    assert.equal(
      (await fromKubeconfig({ env: reversed, context: "ctx-a" })).server,
      "https://only-b",
    );

    // An error in an entry names the file it came from.
    const broken = await writeConfig(dirB, {
      clusters: [{ name: "no-server", cluster: {} }],
      contexts: [{ name: "broken", context: { cluster: "no-server", user: "shared" } }],
    }, "broken");
    const error = await fromKubeconfig({
      env: (name) => name === "KUBECONFIG" ? `${fileA}:${broken}` : undefined,
      context: "broken",
    }).catch((e) => e);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(error.file, broken);
    assert.equal(error.field, "clusters[no-server].cluster.server");
  });
});

Deno.test("KUBECONFIG whose files all are missing; HOME fallback", async () => {
  await withTempDir(async (dir) => {
    const missing = [join(dir, "x"), join(dir, "y")];
    const error = await readKubeconfigs({
      env: (name) => name === "KUBECONFIG" ? missing.join(":") : undefined,
    }).catch((e) => e);
    assert.ok(error instanceof ClientConfigError);
    assert.equal(error.file, missing.join(":"));
    assert.match(error.message, /none of the files in KUBECONFIG exists/);

    await Deno.mkdir(join(dir, ".kube"));
    await writeConfig(join(dir, ".kube"), baseConfig());
    const config = await fromKubeconfig({ env: (name) => name === "HOME" ? dir : undefined });
    assert.equal(config.server, "https://127.0.0.1:6443");
    assert.equal(config.namespace, "team");
  });
});
