// Checks that the guide in docs/ says what the code does. Its TypeScript blocks are type-checked
// by `deno task check` and run by `deno task test` (Deno treats fenced ts blocks in Markdown files
// as doc tests); this file checks everything else: the example files shown in the chapters are the
// files in this directory, the deno.json of chapter 2 matches the library's dependencies, shell
// commands use tasks and flags that exist, links resolve, the RBAC and metrics shown are the ones
// generated, and every error message quoted (each after a `<!-- message: <name> -->` comment) is
// the message the code produces, triggered for real against a control plane of its own.
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { dump, load } from "js-yaml";
import {
  ApiError,
  k8s,
  type KubernetesObject,
  operatorConfig,
  type OperatorConfigInit,
  type OperatorHandle,
  operatorMain,
  resourceType,
  startOperator,
  type SyncRequest,
  type SyncResponse,
} from "@roperator/core";
import {
  fromKubeconfig,
  KubeClient,
  loadClientConfig,
  ResourceClient,
} from "@roperator/core/client";
import { permissionFlags, rbacFor } from "@roperator/core/deploy";
import { findBuiltInType } from "@roperator/core/k8s";
import { cliHelp } from "../runner/cli_args.ts";
import {
  type ControlPlane,
  installCustomResourceDefinitions,
  startControlPlane,
} from "@roperator/core/testkit";
import { configInit, type Greeting, GreetingType, sync } from "./operator.ts";

const DOCS = new URL("./", import.meta.url);
const ROOT = new URL("../", import.meta.url);

// ---------------------------------------------------------------------------------------------
// Reading the guide
// ---------------------------------------------------------------------------------------------

interface Block {
  /** The Markdown file. */
  file: string;
  /** The line of the opening fence, 1-based. */
  line: number;
  /** The language of the fence (`ts`, `sh`, …). */
  lang: string;
  /** The `title="…"` attribute of the fence, if any. */
  title: string | undefined;
  /** The `<!-- message: <name> -->` comment right before the block, if any. */
  marker: string | undefined;
  /** The content, with the fence's indentation removed. */
  code: string;
}

const chapters: Map<string, string> = new Map(
  [...Deno.readDirSync(DOCS)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".md"))
    .map((entry) => [entry.name, Deno.readTextFileSync(new URL(entry.name, DOCS))] as const)
    .sort(([a], [b]) => a.localeCompare(b)),
);

function blocksOf(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let marker: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const comment = /^\s*<!-- message: ([\w-]+) -->\s*$/.exec(line);
    if (comment) {
      marker = comment[1];
      continue;
    }
    const fence = /^(\s*)```(\w*)(.*)$/.exec(line);
    if (!fence) {
      if (line.trim() !== "") marker = undefined;
      continue;
    }
    const indent = fence[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== "```") {
      body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
      j++;
    }
    blocks.push({
      file,
      line: i + 1,
      lang: fence[2]!,
      title: /title="([^"]+)"/.exec(fence[3]!)?.[1],
      marker,
      code: body.join("\n") + "\n",
    });
    marker = undefined;
    i = j;
  }
  return blocks;
}

const blocks: Block[] = [...chapters].flatMap(([file, text]) => blocksOf(file, text));
const shellLines: string[] = blocks
  .filter((block) => block.lang === "sh")
  .flatMap((block) => block.code.replace(/\\\n/g, " ").split("\n"));

function where(block: Block): string {
  return `docs/${block.file}:${block.line}`;
}

// ---------------------------------------------------------------------------------------------
// Static checks
// ---------------------------------------------------------------------------------------------

Deno.test("the example files shown in the guide are the files in docs/", () => {
  let compared = 0;
  for (const block of blocks) {
    if (block.title === undefined) continue;
    const path = new URL(block.title, DOCS);
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      continue; // a snippet named for the reader, not a file of the example
    }
    assert.equal(block.code, text, `${where(block)} differs from docs/${block.title}`);
    compared++;
  }
  assert.ok(compared >= 4, `only ${compared} example files are shown in the guide`);
});

Deno.test("the deno.json of chapter 2 uses the library's dependencies and permissions", () => {
  const block = blocks.find((b) => b.file === "02-project-setup.md" && b.lang === "json");
  assert.ok(block, "chapter 2 shows a deno.json");
  const shown = JSON.parse(block.code) as {
    imports: Record<string, string>;
    tasks: Record<string, string>;
  };
  const root = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as {
    version: string;
    imports: Record<string, string>;
  };
  const [major, minor] = root.version.split(".");
  assert.equal(shown.imports["@roperator/core"], `jsr:@roperator/core@^${major}.${minor}.0`);
  for (const [key, specifier] of Object.entries(shown.imports)) {
    if (key === "@roperator/core") continue;
    assert.equal(specifier, root.imports[key], `the import of ${key}`);
  }
  assert.ok(
    shown.tasks.compile?.includes(permissionFlags().join(" ")),
    "the compile task grants exactly permissionFlags()",
  );
});

Deno.test("every deno task in a shell block exists", () => {
  const root = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))) as {
    tasks: Record<string, unknown>;
  };
  const guide = blocks.find((b) => b.file === "02-project-setup.md" && b.lang === "json")!;
  const tasks = new Set([
    ...Object.keys(root.tasks),
    ...Object.keys((JSON.parse(guide.code) as { tasks: Record<string, unknown> }).tasks),
  ]);
  const used = [...chapters.values()].flatMap((text) =>
    [...text.matchAll(/deno task ([\w-]+)/g)].map((m) => m[1]!)
  );
  assert.ok(used.length > 0);
  for (const task of used) assert.ok(tasks.has(task), `deno task ${task} does not exist`);
});

Deno.test("every flag passed to an operator in a shell block is one operatorMain knows", () => {
  const help = cliHelp("greeting-operator");
  let checked = 0;
  for (const line of shellLines) {
    const match = /(?:main\.ts|\/greeting-operator)\s([^|]*)/.exec(line);
    if (!match) continue;
    for (const flag of match[1]!.split(/\s+/).filter((word) => word.startsWith("-"))) {
      assert.ok(help.includes(` ${flag}`), `unknown flag ${flag} in: ${line}`);
      checked++;
    }
  }
  assert.ok(checked >= 5, `only ${checked} flags checked`);
  const chapter8 = chapters.get("08-running.md")!;
  for (const flag of help.matchAll(/\s(--[a-z-]+)/g)) {
    assert.ok(chapter8.includes(`\`${flag[1]}`), `chapter 8 does not describe ${flag[1]}`);
  }
});

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

Deno.test("links between the guide's files resolve, anchors included", () => {
  let checked = 0;
  for (const [file, text] of chapters) {
    const prose = text.replace(/```[\s\S]*?```/g, "");
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [path, anchor] = target!.split("#");
      const url = new URL(path || file, DOCS);
      const stat = Deno.statSync(url);
      assert.ok(stat.isFile || stat.isDirectory, `${file}: ${target}`);
      // The guide ships in the package: a link must stay inside docs/ and not point at a file
      // the package leaves out (tests other than the guide's example).
      assert.ok(url.href.startsWith(DOCS.href), `${file}: ${target} leaves docs/`);
      assert.ok(
        !url.pathname.endsWith("_test.ts") || url.pathname.endsWith("/docs/operator_test.ts"),
        `${file}: ${target} is not published`,
      );
      if (anchor !== undefined) {
        const headings = Deno.readTextFileSync(url).replace(/```[\s\S]*?```/g, "")
          .split("\n").filter((line) => line.startsWith("#"))
          .map((line) => slug(line.replace(/^#+/, "")));
        assert.ok(headings.includes(anchor), `${file}: no heading for #${anchor} in ${path}`);
      }
      checked++;
    }
  }
  assert.ok(checked > 10);
});

Deno.test("the RBAC shown in chapter 8 is what --print-rbac prints", async () => {
  const block = blocks.find((b) => b.title === "--print-rbac");
  assert.ok(block, "chapter 8 shows the --print-rbac output");
  let printed = "";
  const status = await operatorMain(configInit, sync, {
    args: ["--print-rbac"],
    env: () => undefined,
    stdout: (text) => void (printed += text),
    stderr: () => {},
  });
  assert.equal(status, 0);
  assert.equal(block.code, printed);
});

// ---------------------------------------------------------------------------------------------
// Against a control plane: messages, metrics, schemas
// ---------------------------------------------------------------------------------------------

const NAMESPACE = "team-a";
/** Stands for the control plane's random address in the quoted messages. */
const SERVER = "https://127.0.0.1:6443";
/** Stands for a temporary kubeconfig in the quoted messages. */
const KUBECONFIG = "/home/dev/.kube/config";

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Resolves with the message of the first failed sync of the parent. */
function firstFailure(operator: OperatorHandle, parent: string): Promise<string> {
  return new Promise((resolve) => {
    const stop = operator.onSync((event) => {
      if (event.parent === parent && event.state === "failed") {
        stop();
        resolve(messageOf(event.error));
      }
    });
  });
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the messages quoted in the guide are the messages the code produces", async (t) => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => void records.push(record) },
    loggers: [
      { category: ["roperator"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["memory"] },
    ],
  });
  const cp: ControlPlane = await startControlPlane({ controllerManager: false });
  const admin = new KubeClient(cp.clientConfig);
  const dir = await Deno.makeTempDir();
  const actual = new Map<string, string>();
  const base: OperatorConfigInit = {
    ...configInit,
    namespace: NAMESPACE,
    finalizer: false,
    server: false,
  };
  const greetings = new ResourceClient(admin, GreetingType, NAMESPACE);

  /** Runs an operator until the parent "hello" fails once; returns the failure. */
  async function failureOf(
    handler: (request: SyncRequest<Greeting>) => SyncResponse | Promise<SyncResponse>,
    init: Partial<OperatorConfigInit> = {},
  ): Promise<string> {
    const operator = await startOperator(operatorConfig({ ...base, ...init }), handler, {
      clientConfig: cp.clientConfig,
    });
    try {
      await operator.ready;
      const failure = firstFailure(operator, `${NAMESPACE}/hello`);
      await greetings.create({ metadata: { name: "hello" }, spec: { message: "Hello" } });
      return await within(failure, 30_000, "a failed sync");
    } finally {
      await operator.stop();
      await cleanUp();
    }
  }

  async function cleanUp(): Promise<void> {
    for (const type of [GreetingType, k8s.apps.v1.Deployment, k8s.core.v1.Service]) {
      await new ResourceClient(admin, type as typeof GreetingType, NAMESPACE).delete("hello")
        .catch((error) => {
          if (!(error instanceof ApiError && error.isNotFound)) throw error;
        });
    }
    // Without kube-controller-manager nothing is garbage-collected: wait until it is gone.
    while (await greetings.find("hello")) await new Promise((r) => setTimeout(r, 50));
  }

  try {
    await t.step("a CRD that is not installed", async () => {
      const error = await startOperator(operatorConfig({ ...base }), sync, {
        clientConfig: cp.clientConfig,
      }).then(async (operator) => {
        await operator.stop();
        return undefined;
      }, (error) => error);
      actual.set("crd-not-installed", messageOf(error));
    });

    const crd = load(await Deno.readTextFile(new URL("crd.yaml", DOCS))) as {
      spec: { versions: Array<Record<string, unknown>> };
    };

    await t.step("the conditions schema of chapter 7 is accepted", async () => {
      const chapter7 = blocks.find((b) =>
        b.file === "07-failable-handlers.md" && b.lang === "yaml"
      );
      assert.ok(chapter7);
      const withConditions = structuredClone(crd) as unknown as {
        spec: {
          versions: Array<{
            schema: {
              openAPIV3Schema: { properties: { status: { properties: Record<string, unknown> } } };
            };
          }>;
        };
      };
      Object.assign(
        withConditions.spec.versions[0]!.schema.openAPIV3Schema.properties.status.properties,
        load(chapter7.code) as Record<string, unknown>,
      );
      await admin.request(
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        { body: withConditions, query: { dryRun: "All" } },
      );
    });

    // The Greeting CRD without its status subresource, as in troubleshooting 6.
    const withoutStatus = structuredClone(crd);
    delete withoutStatus.spec.versions[0]!.subresources;
    await installCustomResourceDefinitions(admin, [withoutStatus as unknown as KubernetesObject]);
    await new ResourceClient(admin, k8s.core.v1.Namespace).create({
      metadata: { name: NAMESPACE },
    });

    await t.step("a resource type whose plural differs from the CRD's", async () => {
      const wrong = resourceType({ ...GreetingType, plural: "greeting" });
      const error = await startOperator(operatorConfig({ ...base, parent: wrong }), sync, {
        clientConfig: cp.clientConfig,
      }).then(async (operator) => {
        await operator.stop();
        return undefined;
      }, (error) => error);
      actual.set("plural-mismatch", messageOf(error));
    });

    await t.step("a child in another namespace", async () => {
      actual.set(
        "other-namespace",
        await failureOf((request) => {
          const response = sync(request);
          response.children[1]!.metadata!.namespace = "default";
          return response;
        }),
      );
    });

    await t.step("a child of a type that is not configured", async () => {
      actual.set(
        "unconfigured-type",
        await failureOf((request) => {
          const response = sync(request);
          return {
            ...response,
            children: [...response.children, {
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "hello-settings" },
              data: { message: "Hello" },
            }],
          };
        }),
      );
    });

    await t.step("a handler that does not finish in time", async () => {
      actual.set(
        "handler-timeout",
        await failureOf(async (request) => {
          // Waits for an answer that never comes, until the sync's signal aborts.
          await new Promise((resolve) => request.signal?.addEventListener("abort", resolve));
          await new Promise((resolve) => setTimeout(resolve, 100));
          return sync(request);
        }, { syncTimeoutMs: 5_000 }),
      );
    });

    await t.step("a parent CRD without the status subresource", async () => {
      actual.set("no-status-subresource", await failureOf(sync));
    });

    await t.step("a child name taken by an object without the tracking label", async () => {
      await new ResourceClient(admin, k8s.core.v1.Service, NAMESPACE).create({
        metadata: { name: "hello" },
        spec: { ports: [{ port: 80 }] },
      });
      // Without a status (this CRD has no status subresource, for troubleshooting 6).
      actual.set(
        "not-labelled",
        await failureOf((request) => ({ ...sync(request), status: undefined })),
      );
    });

    await t.step("the metrics of chapter 12 are served", async () => {
      const operator = await startOperator(operatorConfig({ ...base }), sync, {
        clientConfig: cp.clientConfig,
      });
      await operator.ready;
      const rendered = operator.metrics.registry.render();
      await operator.stop();
      const listed = [
        ...chapters.get("12-observability.md")!.matchAll(
          /^\| `((?:roperator|process|deno)_\w+)`/gm,
        ),
      ]
        .map((m) => m[1]!);
      assert.ok(listed.length >= 8, "chapter 12 lists the metrics");
      for (const name of listed) {
        assert.match(rendered, new RegExp(`^# TYPE ${name} `, "m"), `${name} is not served`);
      }
    });

    // The operator's ServiceAccount, with a token and no RBAC yet.
    const token = await cp.serviceAccountToken(NAMESPACE, "greeting-operator");
    const asOperator = {
      server: cp.server,
      caCertificates: [cp.caCertificate],
      credentials: { kind: "token" as const, token },
    };

    await t.step("403: no RBAC at all", async () => {
      records.length = 0;
      const operator = await startOperator(operatorConfig({ ...base }), sync, {
        clientConfig: asOperator,
      });
      try {
        const deadline = Date.now() + 20_000;
        let found: LogRecord | undefined;
        while (!found && Date.now() < deadline) {
          found = records.find((r) =>
            r.category.join(".") === "roperator.informer" &&
            String(r.properties.error).includes('cannot list resource "greetings"')
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.ok(found, "the informer logs the 403");
        actual.set("forbidden-list", String(found.properties.error));
      } finally {
        await operator.stop();
      }
    });

    await t.step("403: a rule without one verb", async () => {
      const objects = rbacFor(operatorConfig({ ...base }));
      for (const object of objects) {
        for (
          const rule of (object.rules as Array<{ resources: string[]; verbs: string[] }>) ?? []
        ) {
          if (rule.resources.includes("services")) {
            rule.verbs = rule.verbs.filter((verb) => verb !== "create");
          }
        }
        if (object.kind === "ServiceAccount") continue; // exists already
        const type = findBuiltInType(object.apiVersion!, object.kind!)!;
        await new ResourceClient(admin, type, NAMESPACE).create(object);
      }
      // Without a status (this CRD has no status subresource, for troubleshooting 6).
      const operator = await startOperator(
        operatorConfig({ ...base }),
        (request: SyncRequest<Greeting>) => ({ ...sync(request), status: undefined }),
        { clientConfig: asOperator },
      );
      try {
        await operator.ready;
        const failure = firstFailure(operator, `${NAMESPACE}/hello`);
        await greetings.create({ metadata: { name: "hello" }, spec: { message: "Hello" } });
        actual.set("forbidden-create", await within(failure, 30_000, "a failed sync"));
      } finally {
        await operator.stop();
        await cleanUp();
      }
    });

    await t.step("TLS verification fails", async () => {
      const error = await startOperator(operatorConfig({ ...base }), sync, {
        clientConfig: { server: cp.server, credentials: cp.clientConfig.credentials! },
      }).then(async (operator) => {
        await operator.stop();
        return undefined;
      }, (error) => error);
      actual.set("tls-unknown-issuer", messageOf(error).replaceAll(cp.server, SERVER));
    });

    await t.step("an exec plugin that is not installed", async () => {
      const path = `${dir}/kubeconfig`;
      await Deno.writeTextFile(
        path,
        dump({
          apiVersion: "v1",
          kind: "Config",
          "current-context": "gke_my-project_europe-west1_prod",
          clusters: [{
            name: "gke_my-project_europe-west1_prod",
            cluster: { server: cp.server, "certificate-authority-data": btoa(cp.caCertificate) },
          }],
          users: [{
            name: "gke_my-project_europe-west1_prod",
            user: {
              exec: {
                apiVersion: "client.authentication.k8s.io/v1beta1",
                command: "gke-gcloud-auth-plugin",
                // Not found whether or not this machine has the plugin.
                env: [{ name: "PATH", value: `${dir}/empty` }],
                installHint: "Install gke-gcloud-auth-plugin for use with kubectl by following " +
                  "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
                provideClusterInfo: true,
              },
            },
          }],
          contexts: [{
            name: "gke_my-project_europe-west1_prod",
            context: {
              cluster: "gke_my-project_europe-west1_prod",
              user: "gke_my-project_europe-west1_prod",
            },
          }],
        }),
      );
      const error = await startOperator(operatorConfig({ ...base }), sync, {
        clientConfig: await fromKubeconfig({ path }),
      }).then(async (operator) => {
        await operator.stop();
        return undefined;
      }, (error) => error);
      actual.set(
        "exec-plugin",
        messageOf(error).replaceAll(path, KUBECONFIG).replaceAll(cp.server, SERVER),
      );
    });
  } finally {
    admin.close();
    await cp.stop();
    await Deno.remove(dir, { recursive: true });
    await reset();
  }

  await t.step("no kubeconfig, not in a pod", async () => {
    const error = await loadClientConfig({
      env: (name) => name === "HOME" ? "/home/dev" : undefined,
    })
      .then(() => undefined, (error) => error);
    actual.set("no-client-config", messageOf(error));
  });

  await t.step("an invalid configuration", async () => {
    let stderr = "";
    const status = await operatorMain({ ...configInit, name: "greeting_operator" }, sync, {
      args: [],
      env: () => undefined,
      stdout: () => {},
      stderr: (text) => void (stderr += text),
    });
    assert.equal(status, 1);
    actual.set("invalid-config", stderr.trimEnd());
  });

  await t.step("tls-server-name", async () => {
    const path = await Deno.makeTempFile();
    await Deno.writeTextFile(
      path,
      dump({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "c",
        clusters: [{
          name: "c",
          cluster: { server: "https://10.0.0.1:6443", "tls-server-name": "kubernetes.default.svc" },
        }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      }),
    );
    const config = await fromKubeconfig({ path });
    await Deno.remove(path);
    assert.throws(() => new KubeClient(config), (error: Error) => {
      actual.set("tls-server-name", error.message);
      return true;
    });
  });

  // Every message triggered above is quoted in the guide, verbatim.
  const quoted = new Map<string, Block>();
  for (const block of blocks) {
    if (block.marker === undefined) continue;
    assert.ok(!quoted.has(block.marker), `${where(block)}: message "${block.marker}" quoted twice`);
    quoted.set(block.marker, block);
  }
  for (const [name, message] of actual) {
    const block = quoted.get(name);
    assert.ok(block, `the guide does not quote the message "${name}":\n${message}`);
    assert.equal(block.code.trimEnd(), message, `${where(block)}: the message "${name}" changed`);
  }
  for (const [name, block] of quoted) {
    assert.ok(actual.has(name), `${where(block)}: nothing triggers the message "${name}"`);
  }
});
