import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { ApiError } from "../client/errors.ts";
import { PresenceDetector, type PresenceLease, type PresenceLeases } from "./presence.ts";

const records: LogRecord[] = [];
Deno.test.beforeAll(async () => {
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator", "presence"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
});
Deno.test.afterAll(async () => {
  await reset();
});

/** One Lease in memory, with the API server's optimistic concurrency. */
class FakeLeases implements PresenceLeases {
  lease: PresenceLease | undefined;
  version = 0;
  forbidden = false;
  /** Runs between a read and the next write, to script races. */
  beforeWrite: (() => void) | undefined;

  #check(): void {
    if (this.forbidden) {
      throw new ApiError({ method: "GET", path: "/leases" }, 403, {
        kind: "Status",
        code: 403,
        message: "leases is forbidden",
      });
    }
  }
  find(): Promise<PresenceLease | undefined> {
    this.#check();
    return Promise.resolve(this.lease && structuredClone(this.lease));
  }
  create(lease: PresenceLease): Promise<PresenceLease> {
    this.#check();
    this.beforeWrite?.();
    if (this.lease) {
      throw new ApiError({ method: "POST", path: "/leases" }, 409, { reason: "AlreadyExists" });
    }
    return Promise.resolve(this.#store(lease));
  }
  replace(lease: PresenceLease): Promise<PresenceLease> {
    this.#check();
    this.beforeWrite?.();
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
      throw new ApiError({ method: "PUT", path: "/leases" }, 409, { reason: "Conflict" });
    }
    return Promise.resolve(this.#store(lease));
  }
  /** Another instance writes the Lease. */
  writeAs(identity: string): void {
    this.#store({ ...this.lease, spec: { holderIdentity: identity } });
  }
  #store(lease: PresenceLease): PresenceLease {
    this.lease = structuredClone({
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(++this.version) },
    });
    return structuredClone(this.lease);
  }
}

function warnings(): string[] {
  return records.filter((r) => r.level === "warning").map((r) =>
    r.message.map((part) => typeof part === "string" ? part : String(part)).join("")
  );
}

function detector(leases: FakeLeases, clock: { now: number }, identity = "me") {
  return new PresenceDetector(undefined, {
    name: "echo",
    namespace: "ops",
    identity,
    leases,
    now: () => clock.now,
  });
}

Deno.test("PresenceDetector: another identity renewing the Lease is reported once, by name", async () => {
  records.length = 0;
  const leases = new FakeLeases();
  const clock = { now: 0 };
  const me = detector(leases, clock);
  await me.tick();
  assert.equal(leases.lease?.spec?.holderIdentity, "me");
  for (let round = 0; round < 3; round++) {
    clock.now += 10_000;
    leases.writeAs("twin-7f3a");
    await me.tick();
  }
  assert.deepEqual(me.others, ["twin-7f3a"]);
  const warned = warnings();
  assert.equal(warned.length, 1, warned.join("\n"));
  assert.match(warned[0]!, /another instance of operator echo is running: twin-7f3a renews/);
  // Gone for longer than 30 s, then back: reported again.
  clock.now += 40_000;
  await me.tick();
  assert.deepEqual(me.others, []);
  leases.writeAs("twin-7f3a");
  clock.now += 10_000;
  await me.tick();
  assert.equal(warnings().length, 2);
});

Deno.test("PresenceDetector: a Lease left by a stopped instance is not a second instance", async () => {
  records.length = 0;
  const leases = new FakeLeases();
  leases.writeAs("the-pod-before-the-restart");
  const clock = { now: 0 };
  const me = detector(leases, clock);
  for (let round = 0; round < 5; round++) {
    await me.tick();
    clock.now += 10_000;
  }
  assert.deepEqual(warnings(), []);
});

Deno.test("PresenceDetector: two detectors on one Lease both report the other", async () => {
  records.length = 0;
  const leases = new FakeLeases();
  const clock = { now: 0 };
  const a = detector(leases, clock, "a");
  const b = detector(leases, clock, "b");
  for (let round = 0; round < 3; round++) {
    await a.tick();
    clock.now += 5_000;
    await b.tick();
    clock.now += 5_000;
  }
  assert.deepEqual(a.others, ["b"]);
  assert.deepEqual(b.others, ["a"]);
});

Deno.test("PresenceDetector: a write between our read and our write is a sighting", async () => {
  records.length = 0;
  const leases = new FakeLeases();
  const clock = { now: 0 };
  const me = detector(leases, clock);
  await me.tick();
  leases.beforeWrite = () => {
    leases.beforeWrite = undefined;
    leases.writeAs("racer");
  };
  await me.tick();
  assert.deepEqual(me.others, ["racer"]);
});

Deno.test("PresenceDetector: a 403 is reported once and the detector stops", async () => {
  records.length = 0;
  const leases = new FakeLeases();
  leases.forbidden = true;
  const me = detector(leases, { now: 0 });
  await me.tick();
  await me.tick();
  assert.ok(me.stopped);
  const warned = warnings();
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /presence Lease ops\/echo-presence is forbidden/);
  // run() returns at once once stopped.
  await me.run(new AbortController().signal);
});
