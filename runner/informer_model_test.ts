/**
 * A model-based property test of the informer's cache: a real `Informer` driven by a scripted
 * fake client through random interleavings of cluster changes, watch events (ADDED, MODIFIED,
 * DELETED, BOOKMARK, ERROR 410, an early end, a failure, an undecodable event), lists (some
 * older than what the informer already saw), results of our own writes (`observe()`, some
 * older than a deletion), and restarts, checked against a model of the cluster's history.
 *
 * Replay a failure with `FC_SEED=<seed> deno test -A runner/informer_model_test.ts` (and
 * `FC_PATH=<path>` for the shrunk case). `FC_RUNS` changes the number of cases.
 *
 * @module
 */
import fc from "fast-check";
import { WatchDecodeError } from "../client/errors.ts";
import type { KubernetesObject } from "../client/resource_type.ts";
import { Informer } from "./informer.ts";
import { objectKey } from "./cache_object.ts";
import type { InformerChange } from "./informer_options.ts";
import { configMap, ScriptedClient } from "./testdata/scripted_client.ts";

const KEYS = ["a", "b", "c"] as const;

/** One change of the cluster: the state of `name` from `rv` on (`deleted`: absent). */
interface Entry {
  rv: number;
  name: string;
  deleted: boolean;
}

type Command =
  | { t: "mutate"; key: number; del: boolean; gap: number }
  | { t: "observe"; pick: number }
  | {
    t: "server";
    op: "deliver" | "bookmark" | "expire" | "close" | "fail" | "invalid";
    lag: number;
  }
  | { t: "restart" };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("mutate" as const),
      key: fc.nat(KEYS.length - 1),
      del: fc.boolean(),
      gap: fc.integer({ min: 1, max: 2 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("observe" as const), pick: fc.nat() }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("server" as const),
      op: fc.oneof(
        { weight: 8, arbitrary: fc.constant("deliver" as const) },
        { weight: 1, arbitrary: fc.constant("bookmark" as const) },
        { weight: 1, arbitrary: fc.constant("expire" as const) },
        { weight: 1, arbitrary: fc.constant("close" as const) },
        { weight: 1, arbitrary: fc.constant("fail" as const) },
        { weight: 1, arbitrary: fc.constant("invalid" as const) },
      ),
      lag: fc.nat(6),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: "restart" as const }) },
);

/** The cluster's history and what the informer was told of it. */
class World {
  rv = 1;
  readonly history: Entry[] = [];
  /** The highest resourceVersion the informer was shown (by a list, an event or a bookmark). */
  known = 0;
  /** Where the open watch is: the last resourceVersion it sent. */
  watchAt = 0;

  stateAt(name: string, rv: number): Entry | undefined {
    let state: Entry | undefined;
    for (const e of this.history) if (e.name === name && e.rv <= rv) state = e;
    return state;
  }

  object(e: Entry): KubernetesObject {
    return { ...configMap(e.name, e.rv), data: { at: String(e.rv) } } as KubernetesObject;
  }

  listAt(rv: number): KubernetesObject[] {
    const items: KubernetesObject[] = [];
    for (const name of KEYS) {
      const state = this.stateAt(name, rv);
      if (state && !state.deleted) items.push(this.object(state));
    }
    return items;
  }

  nextEvent(): Entry | undefined {
    return this.history.find((e) => e.rv > this.watchAt);
  }
}

class Violation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Violation";
  }
}

async function runScenario(commands: Command[]): Promise<void> {
  const world = new World();
  const fake = new ScriptedClient();
  const changes: InformerChange<KubernetesObject>[] = [];
  const restarts: string[] = [];
  const informer = new Informer(fake.client, {
    relistPeriodMs: 0,
    onChange: (change) => changes.push(change),
    onRestart: (reason) => restarts.push(reason),
    clock: { now: () => 0, sleep: () => Promise.resolve() },
  });
  /** What onChange (and accepted own writes) say the cache holds: key → resourceVersion. */
  const shadow = new Map<string, number>();
  /** The highest resourceVersion the cache ever held, per key. */
  const highest = new Map<string, number>();
  /** The highest resourceVersion of our own writes, per key. */
  const written = new Map<string, number>();
  const seenStates = new Set<string>();
  const seenDeletions = new Set<string>();
  let abort = new AbortController();
  let running = informer.run(abort.signal);
  const rvOf = (o: KubernetesObject) => Number(o.metadata?.resourceVersion);

  const applyChanges = () => {
    for (const change of changes.splice(0)) {
      const key = objectKey(change.object);
      const before = shadow.get(key);
      const rv = rvOf(change.object);
      if (change.type === "deleted") {
        if (before === undefined) {
          throw new Violation(`deletion of ${key} reported, but it was not cached`);
        }
        // One step shows one list or one event: the key cannot come back within the step.
        const truth = world.stateAt(key.slice(3), world.known);
        if (truth && !truth.deleted) {
          throw new Violation(
            `deletion of ${key}@${before} reported, but ${key}@${truth.rv} exists at ${world.known}`,
          );
        }
        const id = `${key}@${before}`;
        if (seenDeletions.has(id)) throw new Violation(`deletion of ${id} reported twice`);
        seenDeletions.add(id);
        shadow.delete(key);
        continue;
      }
      const id = `${key}@${rv}`;
      if (seenStates.has(id)) throw new Violation(`${change.type} ${id} reported twice`);
      seenStates.add(id);
      if (change.type === "added" && before !== undefined) {
        throw new Violation(`added ${id} reported, but ${key}@${before} was cached`);
      }
      if (change.type === "modified") {
        if (before === undefined) {
          throw new Violation(`modified ${id} reported, but it was not cached`);
        }
        if (rv <= before) throw new Violation(`modified ${id} reported after ${key}@${before}`);
        if (change.previous && rvOf(change.previous) !== before) {
          throw new Violation(`modified ${id}: previous is not ${before}`);
        }
      }
      shadow.set(key, rv);
    }
  };

  const check = () => {
    applyChanges();
    const cached = new Map(informer.list().map((o) => [objectKey(o), rvOf(o)]));
    for (const [key, rv] of cached) {
      const name = key.slice(3);
      if (rv < (highest.get(key) ?? 0)) {
        throw new Violation(`${key} went back in time: ${rv} after ${highest.get(key)}`);
      }
      highest.set(key, rv);
      if (rv < (written.get(key) ?? 0)) {
        throw new Violation(`${key}@${rv} is older than our own write ${written.get(key)}`);
      }
      const truth = world.stateAt(name, world.known);
      if (truth && !truth.deleted && rv < truth.rv) {
        throw new Violation(`${key}@${rv} is older than ${truth.rv}, shown at ${world.known}`);
      }
      if (truth?.deleted && rv <= world.known) {
        throw new Violation(
          `${key}@${rv} was deleted at ${truth.rv} (shown at ${world.known}), yet it is cached`,
        );
      }
      if (shadow.get(key) !== rv) {
        throw new Violation(`${key}@${rv} is cached, but the reported state is ${shadow.get(key)}`);
      }
    }
    for (const [key, rv] of shadow) {
      if (!cached.has(key)) {
        throw new Violation(`${key}@${rv} was reported and not removed, yet it is not cached`);
      }
    }
    for (const name of KEYS) {
      const truth = world.stateAt(name, world.known);
      if (truth && !truth.deleted && !cached.has(`ns/${name}`)) {
        throw new Violation(`ns/${name}@${truth.rv} (shown at ${world.known}) is not cached`);
      }
    }
  };

  try {
    await fake.blocked();
    for (const c of commands) {
      switch (c.t) {
        case "mutate": {
          world.rv += c.gap;
          const name = KEYS[c.key]!;
          const state = world.stateAt(name, world.rv);
          const present = state !== undefined && !state.deleted;
          world.history.push({ rv: world.rv, name, deleted: present && c.del });
          break;
        }
        case "observe": {
          const writes = world.history.filter((e) => !e.deleted);
          if (writes.length === 0) break;
          const e = writes[c.pick % writes.length]!;
          const key = `ns/${e.name}`;
          written.set(key, Math.max(written.get(key) ?? 0, e.rv));
          informer.observe(world.object(e));
          const now = informer.getByKey(key);
          // An accepted write result is stored silently: the shadow follows the cache.
          if (now && rvOf(now) === e.rv) shadow.set(key, e.rv);
          break;
        }
        case "restart": {
          abort.abort();
          await running;
          abort = new AbortController();
          running = informer.run(abort.signal);
          await fake.blocked();
          break;
        }
        case "server": {
          if (fake.state === "list") {
            if (c.op === "fail" || c.op === "invalid") {
              fake.failList(new Error("Cannot LIST: connection reset"));
            } else {
              // Lists may be served from the watch cache: older than what was seen.
              const at = Math.max(1, world.rv - c.lag);
              world.known = Math.max(world.known, at);
              world.watchAt = at;
              fake.answerList(world.listAt(at), String(at));
            }
          } else if (fake.state === "watch") {
            world.watchAt = Number(fake.watchFrom);
            // The informer may have caught up with events the fake has not sent on this watch.
            const next = world.nextEvent();
            if (c.op === "deliver") {
              if (!next) break;
              world.watchAt = next.rv;
              world.known = Math.max(world.known, next.rv);
              const object = world.object(next);
              const type = next.deleted
                ? "DELETED"
                : world.stateAt(next.name, next.rv - 1)?.deleted === false
                ? "MODIFIED"
                : "ADDED";
              fake.step({ event: { type, object } });
              fakeWatchAdvance(fake, next.rv);
            } else if (c.op === "bookmark") {
              const at = next ? next.rv - 1 : world.rv;
              world.known = Math.max(world.known, at);
              fake.step({
                event: { type: "BOOKMARK", object: { metadata: { resourceVersion: String(at) } } },
              });
              fakeWatchAdvance(fake, at);
            } else if (c.op === "expire") {
              fake.step({ event: { type: "ERROR", object: { code: 410, reason: "Expired" } } });
            } else if (c.op === "close") {
              fake.step({ end: true });
            } else if (c.op === "fail") {
              fake.step({ error: new Error("Cannot WATCH: connection reset") });
            } else {
              fake.step({
                error: new WatchDecodeError("/api/v1/configmaps", "not JSON"),
              });
            }
          }
          await fake.blocked();
          break;
        }
      }
      check();
    }
  } finally {
    abort.abort();
    await running;
  }
  stats.runs++;
  stats.commands += commands.length;
  stats.lists += fake.lists;
  stats.watches += fake.watches;
  stats.changes += seenStates.size + seenDeletions.size;
  stats.restarts += restarts.length;
}

const stats = { runs: 0, commands: 0, lists: 0, watches: 0, changes: 0, restarts: 0 };

/** The fake's watch goes on from `rv` (the position of the open watch). */
function fakeWatchAdvance(fake: ScriptedClient, rv: number): void {
  fake.watchFrom = String(rv);
}

Deno.test("Informer (model): the cache never goes back in time and reports only true changes", async () => {
  const seed = Number(Deno.env.get("FC_SEED") ?? Date.now() % 2 ** 31);
  const path = Deno.env.get("FC_PATH");
  const numRuns = Number(Deno.env.get("FC_RUNS") ?? 3000);
  console.log(`fast-check seed ${seed} (replay: FC_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 100, size: "max" }), runScenario),
    { seed, numRuns, ...(path ? { path } : {}) },
  );
  console.log(stats);
});
