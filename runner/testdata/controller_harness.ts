/**
 * A controller on a fake clock and a scripted client (an in-memory API server), for the
 * controller's ordering tests: it records every sync event and every request the handler gets,
 * and stops everything on dispose.
 *
 * @module
 */
import { type KubernetesObject, resourceType } from "../../client/resource_type.ts";
import { operatorConfig, type OperatorConfigInit } from "../../config/operator_config.ts";
import { type Handler, normalizeHandler, type SyncRequest } from "../../handler/handler.ts";
import { FakeTime } from "../../tests/fake_time.ts";
import { ScriptedClient } from "../../tests/scripted_client.ts";
import { Controller, type SyncEvent } from "../controller.ts";
import { OperatorMetrics } from "../operator_metrics.ts";

/** The parent type of the harness. */
export const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "Thing",
  plural: "things",
  namespaced: true,
});

/** The namespace the controller is confined to. */
export const NS = "ns";
/** The collection path of the parents. */
export const PARENTS = `/apis/test.roperator.dev/v1/namespaces/${NS}/things`;

/** A running controller and what it did. */
export interface Harness extends AsyncDisposable {
  /** The fake clock. */
  time: FakeTime;
  /** The scripted client and its in-memory API server. */
  client: ScriptedClient;
  /** The controller. */
  controller: Controller;
  /** What `controller.start()` returned: settled unless a gate was given that is still shut. */
  started: Promise<void>;
  /** Every sync event, in order. */
  events: SyncEvent[];
  /** Every request the handler got, by parent name. */
  requests: Map<string, SyncRequest[]>;
  /** Failed syncs of a parent (by name). */
  failures(name: string): number;
  /** Succeeded syncs of a parent (by name). */
  successes(name: string): number;
  /** Started syncs by parent name since the last call, then forgets them. */
  takeSyncs(): Record<string, number>;
}

/**
 * Starts a controller on a fake clock and a scripted client, and waits until its caches synced
 * (with a `gate`, only until the promises and streams of the start settled: `start()` waits for
 * the gate).
 *
 * @param handler the handler
 * @param init config fields over the harness's (name `op`, parent {@linkcode Parent}, confined
 * to {@linkcode NS}, no server, no finalizer, no periodic resync)
 * @param seed fills the API server before the controller starts
 * @param gate given to `controller.start()`
 * @returns the harness; dispose it with `await using`
 */
export async function controllerHarness(
  handler: Handler<KubernetesObject>,
  init: Partial<OperatorConfigInit> = {},
  seed: (client: ScriptedClient) => void = () => {},
  gate?: Promise<void>,
): Promise<Harness> {
  const time = new FakeTime();
  const client = new ScriptedClient();
  seed(client);
  const config = operatorConfig({
    name: "op",
    parent: Parent,
    namespace: NS,
    server: false,
    finalizer: false,
    resyncPeriodMs: 0,
    ...init,
  });
  const requests = new Map<string, SyncRequest[]>();
  const normalized = normalizeHandler(handler);
  const controller = new Controller({
    config,
    client,
    handler: {
      sync: (request: SyncRequest) => {
        const name = request.parent.metadata!.name!;
        requests.set(name, [...requests.get(name) ?? [], request]);
        return normalized.sync(request);
      },
      finalize: (request: SyncRequest) => normalized.finalize(request),
    } as ConstructorParameters<typeof Controller>[0]["handler"],
    metrics: new OperatorMetrics(),
  });
  const events: SyncEvent[] = [];
  let syncs: Record<string, number> = {};
  controller.onSync((event) => {
    events.push(event);
    if (event.state !== "started") return;
    const name = event.parent.split("/")[1]!;
    syncs[name] = (syncs[name] ?? 0) + 1;
  });
  const started = controller.start(gate);
  started.catch(() => {}); // a test with a gate that fails looks at it
  await time.flush();
  if (gate === undefined) await started;
  await time.flush();
  const count = (name: string, state: SyncEvent["state"]) =>
    events.filter((e) => e.parent === `${NS}/${name}` && e.state === state).length;
  return {
    time,
    client,
    controller,
    started,
    events,
    requests,
    failures: (name) => count(name, "failed"),
    successes: (name) => count(name, "succeeded"),
    takeSyncs() {
      const taken = syncs;
      syncs = {};
      return taken;
    },
    async [Symbol.asyncDispose]() {
      const stopped = controller.stop(0);
      await time.tick(1);
      await stopped;
      client.close();
      time[Symbol.dispose]();
    },
  };
}
