// Leader election with two operator processes (tests/leader_election_operator.ts), each run with
// the permission flags of a compiled operator binary and a token of the ServiceAccount that the
// generated RBAC (with leaderElection and events) binds: a killed leader is replaced within the
// lease duration, a paused leader writes nothing once it wakes, and a stopped leader releases the
// Lease so that the follower takes over at once.
import assert from "node:assert/strict";

import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { deployServiceAccount } from "../testkit/service_account.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { type LeaderElectionInit, operatorConfig } from "../config/operator_config.ts";
import { rbacFor } from "../deploy/rbac.ts";
import { permissionFlags } from "../deploy/permissions.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import { startOperator } from "../runner/run_operator.ts";
import { LeaderParent } from "./leader_election_operator.ts";

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(LeaderParent)]);
});
Deno.test.afterAll(async () => {
  admin?.close();
  await cp?.stop();
});

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: { timeoutMs?: number; logs?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `Timed out waiting for ${what}${options.logs ? `; logs:\n${options.logs().slice(-6000)}` : ""}`,
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Deployed {
  namespace: string;
  token: string;
  kubeconfigPath: string;
}

let deployments = 0;
/** A namespace with the generated RBAC (Leases and Events included) and a kubeconfig of its SA. */
async function deploy(): Promise<Deployed> {
  const namespace = `leader-${Date.now().toString(36)}-${deployments++}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: namespace } });
  const config = operatorConfig({
    name: "leader-test",
    parent: LeaderParent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace,
  });
  const objects = rbacFor(config, { namespace, leaderElection: true, events: true });
  const { token, kubeconfigPath } = await deployServiceAccount(cp, objects);
  return { namespace, token, kubeconfigPath };
}

interface LogRecord {
  level: string;
  message: string;
  logger: string;
  properties: Record<string, unknown>;
}

/** One operator process. */
class OperatorProcess {
  readonly identity: string;
  readonly port: number;
  readonly child: Deno.ChildProcess;
  readonly records: LogRecord[] = [];
  #text = "";
  readonly #reading: Promise<void>;
  readonly #out: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  constructor(deployed: Deployed, leaderElection: LeaderElectionInit & { identity: string }) {
    this.identity = leaderElection.identity;
    this.port = freePort();
    const script = new URL("./leader_election_operator.ts", import.meta.url).pathname;
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        ...permissionFlags({ kubeconfigPaths: [deployed.kubeconfigPath] }),
        script,
        JSON.stringify(leaderElection),
        "--kubeconfig",
        deployed.kubeconfigPath,
        "--namespace",
        deployed.namespace,
        "--port",
        String(this.port),
        "--log-format",
        "json",
        "--log-level",
        "debug",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let partial = "";
    this.#reading = this.child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({
        write: (chunk) => {
          this.#text += chunk;
          partial += chunk;
          const lines = partial.split("\n");
          partial = lines.pop() ?? "";
          for (const line of lines) {
            try {
              this.records.push(JSON.parse(line) as LogRecord);
            } catch { /* not a log record */ }
          }
        },
      }),
    );
    this.#out = this.child.stdout.pipeTo(new WritableStream());
    this.child.status.then((status) => this.#status = status);
  }

  /** Everything it logged, for failure messages. */
  logs(): string {
    return this.#text;
  }

  /** The exit status, once it exited. */
  get exited(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    const samples = parsePrometheusText(await res.text());
    return samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
  }

  async ready(): Promise<boolean> {
    const res = await fetch(`http://127.0.0.1:${this.port}/ready`);
    await res.body?.cancel();
    return res.ok;
  }

  /** Log records of writes to the cluster made by the controller. */
  writes(from = 0): LogRecord[] {
    return this.records.slice(from).filter((r) =>
      r.logger === "roperator.controller" &&
      /^(created|replaced|applied|deleted|wrote status|added finalizer|removed finalizer)/.test(
        r.message,
      )
    );
  }

  async close(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGCONT");
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await this.child.status;
    await this.#reading;
    await this.#out;
    return status;
  }
}

async function leaseHolder(namespace: string): Promise<string | undefined> {
  const lease = await new ResourceClient(admin, k8s.coordination.v1.Lease, namespace)
    .find("leader-test-leader");
  return lease?.spec?.holderIdentity ?? undefined;
}

const fast = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

async function startPair(
  deployed: Deployed,
  options: Partial<LeaderElectionInit> = {},
): Promise<{ a: OperatorProcess; b: OperatorProcess }> {
  const a = new OperatorProcess(deployed, { ...fast, ...options, identity: "instance-a" });
  const b = new OperatorProcess(deployed, { ...fast, ...options, identity: "instance-b" });
  const logs = () => `--- a:\n${a.logs().slice(-3000)}\n--- b:\n${b.logs().slice(-3000)}`;
  await waitFor("both instances ready", async () => (await a.ready()) && (await b.ready()), {
    logs,
  });
  await waitFor("a leader", () => leaseHolder(deployed.namespace), { logs });
  return { a, b };
}

function leaderAndFollower(
  pair: { a: OperatorProcess; b: OperatorProcess },
  holder: string,
): [OperatorProcess, OperatorProcess] {
  return holder === pair.a.identity ? [pair.a, pair.b] : [pair.b, pair.a];
}

type ConfigMap = KubernetesObject & { data?: Record<string, string> };
type Parent = KubernetesObject & {
  status?: { value?: string; writer?: string; observedGeneration?: number };
};

Deno.test("a killed leader is replaced within the lease duration; only the leader writes", async () => {
  const deployed = await deploy();
  const pair = await startPair(deployed);
  const logs = () => `--- a:\n${pair.a.logs().slice(-4000)}\n--- b:\n${pair.b.logs().slice(-4000)}`;
  try {
    const [leader, follower] = leaderAndFollower(
      pair,
      (await leaseHolder(deployed.namespace))!,
    );
    const lease = `${deployed.namespace}/leader-test-leader`;
    assert.equal(await leader.metric("roperator_leader", { lease }), 1);
    assert.equal(await follower.metric("roperator_leader", { lease }), 0);
    assert.ok(await follower.ready(), "a follower is ready once its caches are warm");

    const parents = new ResourceClient<Parent>(admin, LeaderParent, deployed.namespace);
    const cms = new ResourceClient<ConfigMap>(admin, k8s.core.v1.ConfigMap, deployed.namespace);
    await parents.create({ metadata: { name: "p1" }, spec: { value: "one" } });
    await waitFor("the child", () => cms.find("p1-child"), { logs });
    const synced = await waitFor("the status", async () => {
      const p = await parents.get("p1");
      return p.status?.value === "one" ? p : undefined;
    }, { logs });
    assert.equal(synced.status?.writer, leader.identity, "the leader synced the parent");
    assert.ok(leader.writes().length >= 3, "finalizer, child and status");
    assert.deepEqual(follower.writes(), [], "the follower wrote nothing");

    leader.child.kill("SIGKILL");
    const killed = performance.now();
    await waitFor(
      "the follower to take the Lease",
      async () => (await leaseHolder(deployed.namespace)) === follower.identity,
      { logs, timeoutMs: 30_000 },
    );
    const tookMs = performance.now() - killed;
    // The follower takes the Lease once it has not seen it change for leaseDuration, polling
    // every retryPeriod (×1.2 jitter): at most leaseDuration + 2 × 1.2 × retryPeriod after the
    // leader's last renewal, plus scheduling slack on a loaded test machine.
    assert.ok(
      tookMs < fast.leaseDurationMs + 2.4 * fast.retryPeriodMs + 4000,
      `took over in ${Math.round(tookMs)} ms`,
    );
    await waitFor(
      "the follower to lead",
      async () => (await follower.metric("roperator_leader", { lease })) === 1,
      { logs },
    );

    await parents.patch("p1", { spec: { value: "two" } });
    await waitFor("the child updated by the new leader", async () => {
      const cm = await cms.find("p1-child");
      return cm?.data?.value === "two" ? cm : undefined;
    }, { logs });
    const resynced = await waitFor("the status written by the new leader", async () => {
      const p = await parents.get("p1");
      return p.status?.value === "two" ? p : undefined;
    }, { logs });
    assert.equal(resynced.status?.writer, follower.identity);
  } finally {
    await pair.a.close();
    await pair.b.close();
  }
});

Deno.test("a leader paused past its lease writes nothing when it wakes, then exits non-zero", async () => {
  const deployed = await deploy();
  const pair = await startPair(deployed);
  const logs = () => `--- a:\n${pair.a.logs().slice(-5000)}\n--- b:\n${pair.b.logs().slice(-5000)}`;
  try {
    const [leader, follower] = leaderAndFollower(
      pair,
      (await leaseHolder(deployed.namespace))!,
    );
    const parents = new ResourceClient<Parent>(admin, LeaderParent, deployed.namespace);
    await parents.create({ metadata: { name: "slow" }, spec: { value: "v" } });
    await waitFor(
      "the leader's status",
      async () => (await parents.get("slow")).status?.writer === leader.identity,
      { logs },
    );
    // Now the handler busy-waits 1.2 s: the leader is paused in the middle of it, so when it
    // wakes, the sync that started while it led goes straight on to its writes, before any
    // timer (its elector's included) runs. Its child is unchanged; its status differs (its
    // identity, the new generation). Without the fence, its status write would conflict, re-read
    // the parent and overwrite the new leader's status.
    await parents.patch("slow", { spec: { spinMs: 1200 } });
    await waitFor(
      "the leader's handler to start",
      () => Promise.resolve(leader.records.some((r) => r.message.startsWith("handler started"))),
      {
        logs,
      },
    );
    leader.child.kill("SIGSTOP");
    const writesBefore = leader.writes().length;

    // The follower takes over after the lease duration and syncs the parent itself.
    await waitFor(
      "the follower to take the Lease",
      async () => (await leaseHolder(deployed.namespace)) === follower.identity,
      { logs, timeoutMs: 30_000 },
    );
    const settled = await waitFor("the new leader's status", async () => {
      const p = await parents.get("slow");
      return p.status?.writer === follower.identity && p.status.observedGeneration === 2
        ? p
        : undefined;
    }, { logs });
    const from = leader.records.length;
    leader.child.kill("SIGCONT");
    // It wakes inside the handler, past its renew deadline: the write fence stops the sync
    // before its status write, and the elector then sees that it lost the Lease, so it exits
    // (onLost: "exit").
    const status = await waitFor("the old leader to exit", () => Promise.resolve(leader.exited), {
      logs,
      timeoutMs: 30_000,
    });
    assert.equal(status.code, 1, "the CLI exits non-zero after losing the Lease");
    await leader.close();
    assert.deepEqual(
      leader.writes(from).map((r) => r.message),
      [],
      "no write after waking",
    );
    assert.equal(leader.writes().length, writesBefore);
    assert.ok(
      leader.records.slice(from).some((r) =>
        /stopped the sync of .*no longer the leader/.test(r.message)
      ),
      `the sync in flight reached the fence; logs:\n${logs()}`,
    );
    assert.ok(
      leader.records.slice(from).some((r) => /lost the Lease/.test(r.message)),
      "it reports the fatal loss",
    );
    const after = await parents.get("slow");
    assert.equal(after.metadata?.resourceVersion, settled.metadata?.resourceVersion);
    assert.equal(after.status?.writer, follower.identity);
    assert.equal(await leaseHolder(deployed.namespace), follower.identity);
  } finally {
    await pair.a.close();
    await pair.b.close();
  }
});

Deno.test("a leader stopped gracefully releases the Lease and the follower takes over at once", async () => {
  const deployed = await deploy();
  // A long lease: a takeover well inside it proves the Lease was released, not expired.
  const pair = await startPair(deployed, {
    leaseDurationMs: 30_000,
    renewDeadlineMs: 20_000,
    retryPeriodMs: 500,
  });
  const logs = () => `--- a:\n${pair.a.logs().slice(-4000)}\n--- b:\n${pair.b.logs().slice(-4000)}`;
  try {
    const [leader, follower] = leaderAndFollower(
      pair,
      (await leaseHolder(deployed.namespace))!,
    );
    leader.child.kill("SIGTERM");
    const stopped = performance.now();
    const status = await leader.child.status;
    assert.equal(status.code, 0, `exit code after SIGTERM; logs:\n${leader.logs().slice(-3000)}`);
    assert.ok(
      leader.records.some((r) => /released Lease/.test(r.message)),
      "the leader released the Lease",
    );
    await waitFor(
      "the follower to take the Lease",
      async () => (await leaseHolder(deployed.namespace)) === follower.identity,
      { logs, timeoutMs: 20_000 },
    );
    const tookMs = performance.now() - stopped;
    assert.ok(tookMs < 10_000, `took over in ${Math.round(tookMs)} ms, far below the 30 s lease`);
    const lease = await new ResourceClient(admin, k8s.coordination.v1.Lease, deployed.namespace)
      .get("leader-test-leader");
    assert.equal(lease.spec?.leaseTransitions, 1);
  } finally {
    await pair.a.close();
    await pair.b.close();
  }
});

Deno.test("with onLost stepDown, a leader whose Lease is taken stops syncing and resumes when it leads again", async () => {
  const ns = `leader-step-${Date.now().toString(36)}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: ns } });
  const synced: string[] = [];
  const op = await startOperator(
    operatorConfig({
      name: "leader-test",
      parent: LeaderParent,
      namespace: ns,
      server: false,
      leaderElection: { ...fast, identity: "stepper", onLost: "stepDown" },
    }),
    ({ parent }) => {
      synced.push(parent.metadata!.name!);
      return { status: { writer: "stepper" }, children: [] };
    },
    { clientConfig: cp.clientConfig },
  );
  try {
    await op.ready;
    await waitFor("leadership", () => Promise.resolve(op.leadership?.isLeader()));
    const leases = new ResourceClient(admin, k8s.coordination.v1.Lease, ns);
    const parents = new ResourceClient<Parent>(admin, LeaderParent, ns);
    await parents.create({ metadata: { name: "first" } });
    await waitFor("the first parent synced", () => Promise.resolve(synced.includes("first")));

    // Another instance takes the Lease (as after a partition): this one steps down.
    const lease = await leases.get("leader-test-leader");
    await leases.replace({ ...lease, spec: { ...lease.spec, holderIdentity: "thief" } });
    await waitFor("stepping down", () => Promise.resolve(op.leadership?.isLeader() === false));
    await parents.create({ metadata: { name: "second" } });
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(!synced.includes("second"), "a follower syncs nothing");
    assert.equal((await parents.get("second")).status, undefined);

    // The thief releases the Lease: this instance leads again and syncs what it missed.
    const taken = await leases.get("leader-test-leader");
    const { holderIdentity: _thief, ...spec } = taken.spec ?? {};
    await leases.replace({ ...taken, spec });
    await waitFor("leading again", () => Promise.resolve(op.leadership?.isLeader()));
    await waitFor(
      "the second parent synced",
      async () => (await parents.get("second")).status?.writer === "stepper",
    );
  } finally {
    await op.stop();
  }
});
