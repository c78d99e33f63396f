// LeaderElector against the real API server, in-process: mutual exclusion, the renew deadline
// judged by the clock at the moment of asking, stepping down and campaigning again, and expiry
// judged by this instance's own observations of the Lease (not by its renewTime).
import assert from "node:assert/strict";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig, OperatorConfigError } from "../config/operator_config.ts";
import type { LeaderElectionConfig } from "../config/operator_config.ts";
import { LeaderElector } from "./leader_election.ts";
import { microTime } from "../client/_util.ts";

let cp: ControlPlane;
let client: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  client = new KubeClient(cp.clientConfig);
});
Deno.test.afterAll(async () => {
  client?.close();
  await cp?.stop();
});

let counter = 0;
async function namespace(): Promise<string> {
  const name = `le-${Date.now().toString(36)}-${counter++}`;
  await new ResourceClient(client, k8s.core.v1.Namespace).create({ metadata: { name } });
  return name;
}

function config(ns: string, init: Partial<LeaderElectionConfig> = {}): LeaderElectionConfig {
  return {
    leaseName: "unit-leader",
    namespace: ns,
    identity: undefined,
    leaseDurationMs: 1500,
    renewDeadlineMs: 1000,
    retryPeriodMs: 200,
    onLost: "stepDown",
    ...init,
  };
}

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("LeaderElector: of two candidates exactly one leads; release hands over at once", async () => {
  const ns = await namespace();
  // A long lease: a handover well inside it is due to the release, not to expiry.
  const long = { leaseDurationMs: 20_000, renewDeadlineMs: 10_000 };
  const a = new LeaderElector(client, { ...config(ns), ...long, identity: "a" });
  const b = new LeaderElector(client, { ...config(ns), ...long, identity: "b" });
  const abortA = new AbortController();
  const abortB = new AbortController();
  const runA = a.run(abortA.signal);
  const runB = b.run(abortB.signal);
  try {
    await until("a leader", () => a.isLeader() || b.isLeader());
    // Several renew periods later there is still exactly one leader.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(Number(a.isLeader()) + Number(b.isLeader()), 1);
    const [leader, follower, abortLeader, runLeader] = a.isLeader()
      ? [a, b, abortA, runA]
      : [b, a, abortB, runB];
    const lease = await new ResourceClient(client, k8s.coordination.v1.Lease, ns)
      .get("unit-leader");
    assert.equal(lease.spec?.holderIdentity, leader.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, 20);

    abortLeader.abort();
    await runLeader;
    const released = performance.now();
    await leader.release();
    assert.equal(leader.isLeader(), false);
    const cleared = await new ResourceClient(client, k8s.coordination.v1.Lease, ns)
      .get("unit-leader");
    assert.ok(
      !cleared.spec?.holderIdentity || cleared.spec.holderIdentity === follower.identity,
      "holderIdentity cleared (or already the follower's)",
    );
    await until("the follower to lead", () => follower.isLeader(), 15_000);
    const tookMs = performance.now() - released;
    assert.ok(tookMs < 10_000, `well before the 20 s lease (${Math.round(tookMs)} ms)`);
  } finally {
    abortA.abort();
    abortB.abort();
    await Promise.all([runA, runB]);
  }
});

Deno.test("LeaderElector: a leader past its renew deadline stops leading at once, then re-campaigns", async () => {
  const ns = await namespace();
  let skew = 0;
  const elector = new LeaderElector(client, { ...config(ns), identity: "paused" }, {
    now: () => performance.now() + skew,
  });
  const changes: boolean[] = [];
  elector.onChange((leading) => changes.push(leading));
  const abort = new AbortController();
  const running = elector.run(abort.signal);
  try {
    await until("leadership", () => elector.isLeader());
    const written = await new ResourceClient(client, k8s.coordination.v1.Lease, ns)
      .get("unit-leader");
    assert.equal(written.spec?.leaseDurationSeconds, 2, "1500 ms rounds up to 2 s");
    assert.match(written.spec?.renewTime ?? "", /\.\d{6}Z$/, "MicroTime has six digits");
    const term = elector.term;
    assert.ok(elector.holds(term));
    // The process "was paused" for 5 s: no timer has run yet, but the fence already says no.
    skew += 5000;
    assert.equal(elector.isLeader(), false);
    assert.equal(elector.holds(term), false);
    // Its loop then notices, steps down (onLost "stepDown") and, as nobody else took the Lease,
    // acquires it again in a new term.
    await until("stepping down", () => changes.includes(false));
    await until("leading again", () => elector.isLeader());
    assert.ok(elector.term > term);
    assert.equal(elector.holds(term), false, "a sync of the old term stays fenced");
    assert.deepEqual(changes.slice(0, 3), [true, false, true]);
  } finally {
    abort.abort();
    await running;
    await elector.release();
  }
});

Deno.test("LeaderElector: expiry is judged by its own observations, not by renewTime", async () => {
  const ns = await namespace();
  const leases = new ResourceClient(client, k8s.coordination.v1.Lease, ns);
  // Another holder whose clock is decades behind: renewTime in 1971, but it keeps renewing.
  let lease = await leases.create({
    metadata: { name: "unit-leader", namespace: ns },
    spec: {
      holderIdentity: "skewed",
      leaseDurationSeconds: 1,
      renewTime: microTime(new Date(365 * 24 * 3600 * 1000)),
    },
  });
  const elector = new LeaderElector(client, { ...config(ns), identity: "observer" });
  const abort = new AbortController();
  const running = elector.run(abort.signal);
  try {
    const renewUntil = performance.now() + 3000;
    for (let i = 1; performance.now() < renewUntil; i++) {
      lease = await leases.replace({
        ...lease,
        spec: { ...lease.spec, renewTime: microTime(new Date(365 * 24 * 3600 * 1000 + i * 1000)) },
      });
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(elector.isLeader(), false, "a holder that keeps renewing keeps the Lease");
    // It stops renewing (renewTime now far in the future by the wall clock): taken over after
    // the lease duration from the last change this instance saw.
    lease = await leases.replace({
      ...lease,
      spec: { ...lease.spec, renewTime: microTime(new Date(Date.now() + 3600_000)) },
    });
    const stopped = performance.now();
    await until("the takeover", () => elector.isLeader(), 10_000);
    const waited = performance.now() - stopped;
    assert.ok(waited >= 1400, `waited the lease duration (${Math.round(waited)} ms)`);
    assert.ok(waited < 8000, `but not for the future renewTime (${Math.round(waited)} ms)`);
    const taken = await leases.get("unit-leader");
    assert.equal(taken.spec?.holderIdentity, "observer");
    assert.equal(taken.spec?.leaseTransitions, 1);
  } finally {
    abort.abort();
    await running;
    await elector.release();
  }
});

Deno.test("operatorConfig: leaderElection defaults and validation", () => {
  const Parent = k8s.apps.v1.Deployment;
  const config = operatorConfig({ name: "demo", parent: Parent, leaderElection: true });
  assert.deepEqual({ ...config.leaderElection }, {
    leaseName: "demo-leader",
    namespace: undefined,
    identity: undefined,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onLost: "exit",
  });
  assert.equal(operatorConfig({ name: "demo", parent: Parent }).leaderElection, undefined);
  assert.equal(
    operatorConfig({ name: "demo", parent: Parent, namespace: "ops", leaderElection: {} })
      .leaderElection?.namespace,
    "ops",
  );
  assert.throws(
    () =>
      operatorConfig({
        name: "demo",
        parent: Parent,
        leaderElection: { leaseDurationMs: 5000, renewDeadlineMs: 5000 },
      }),
    (error: unknown) =>
      error instanceof OperatorConfigError && error.field === "leaderElection.renewDeadlineMs" &&
      /must be shorter than leaseDurationMs/.test(error.message),
  );
  assert.throws(
    () =>
      operatorConfig({
        name: "demo",
        parent: Parent,
        leaderElection: { renewDeadlineMs: 2000, retryPeriodMs: 2000 },
      }),
    (error: unknown) =>
      error instanceof OperatorConfigError && error.field === "leaderElection.retryPeriodMs",
  );
  assert.throws(
    () =>
      operatorConfig({
        name: "demo",
        parent: Parent,
        leaderElection: { onLost: "panic" as "exit" },
      }),
    /leaderElection.onLost: must be "exit" or "stepDown"/,
  );
  assert.throws(
    () => operatorConfig({ name: "demo", parent: Parent, leaderElection: { leaseName: "Bad_" } }),
    /leaderElection.leaseName: "Bad_" is not a valid name/,
  );
});
