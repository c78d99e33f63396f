/**
 * Calling the user's handler: with a copy of the parent and its children (a handler that
 * mutates its snapshot cannot corrupt the cache), under the sync timeout, aborted when
 * leadership is lost or the operator stops. A handler that outlives its timeout keeps its
 * parent's slot until it really returns ({@linkcode awaitOverdue}).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { KubernetesObject } from "../../client/resource_type.ts";
import type { OperatorConfig } from "../../config/operator_config.ts";
import { Children } from "../../handler/children.ts";
import type { SyncRequest } from "../../handler/handler.ts";
import { LeadershipLostError } from "../leader_election.ts";
import { SyncError } from "../sync_error.ts";
import type { SyncContext } from "./context.ts";

const logger = getLogger(["roperator", "controller"]);

/** What {@linkcode callHandler} needs besides the sync. */
export interface HandlerCallOptions<T> {
  /** Which handler: named in the timeout's message. */
  what: "sync" | "finalize";
  /** The parent and its children, as cached; the handler gets a copy. */
  snapshot: { parent: KubernetesObject; children: KubernetesObject[] };
  /** Calls the handler. */
  call: (request: SyncRequest) => T | Promise<T>;
  /** How long the handler may take, in ms. */
  timeoutMs: number;
}

/**
 * Calls a handler with a snapshot of the parent and its children. The snapshot is a copy, so
 * a handler that mutates it cannot corrupt the cache; its signal aborts at the sync timeout.
 * A handler still running when the call gives up is left in `ctx.overdue`.
 *
 * @param ctx the sync
 * @param options the handler, its snapshot and its timeout
 * @returns what the handler returned
 * @throws {SyncError} when the handler throws or times out
 * @throws {LeadershipLostError} when leadership is lost meanwhile
 */
export async function callHandler<T>(ctx: SyncContext, options: HandlerCallOptions<T>): Promise<T> {
  const { what, snapshot, call } = options;
  const key = ctx.key;
  const timeout = new AbortController();
  const signals = [timeout.signal, ctx.leadership, ctx.stopping]
    .filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length === 1 ? timeout.signal : AbortSignal.any(signals);
  const request: SyncRequest = {
    parent: structuredClone(snapshot.parent),
    children: new Children(structuredClone(snapshot.children)),
    signal,
  };
  const ms = options.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onLost: (() => void) | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`the ${what} handler did not finish within ${ms} ms`);
      timeout.abort(error);
      reject(error);
    }, ms);
    if (ctx.leadership) {
      onLost = () => reject(ctx.leadership!.reason);
      if (ctx.leadership.aborted) onLost();
      else ctx.leadership.addEventListener("abort", onLost, { once: true });
    }
  });
  const running = Promise.resolve().then(() => call(request));
  let settled = false;
  running.then(() => settled = true, () => settled = true);
  try {
    const response = await Promise.race([running, deadline]);
    if ((response as { failed?: unknown } | undefined)?.failed === true) ctx.failed = true;
    return response;
  } catch (error) {
    if (!settled) ctx.overdue = running;
    if (error instanceof LeadershipLostError) throw error;
    throw new SyncError(
      key,
      `the ${what} handler failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    if (onLost) ctx.leadership?.removeEventListener("abort", onLost);
  }
}

/**
 * Waits for a handler that outlived its timeout, warning once a minute that it holds a sync
 * slot. A stop that gave up draining releases the slot: the process is going away.
 *
 * @param ctx the sync
 * @param overdue the handler's promise
 * @param config the operator config (the sync timeout and the concurrency, for the warning)
 * @returns a promise that resolves when the handler settles or the stop gives up
 */
export async function awaitOverdue(
  ctx: SyncContext,
  overdue: Promise<unknown>,
  config: OperatorConfig,
): Promise<void> {
  const since = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const warn = () => {
    logger.warn(
      "the handler of {parent} is still running {seconds} s after its timeout; it holds one " +
        "of the {concurrency} sync slots until it returns (does it ignore its AbortSignal?)",
      {
        parent: ctx.key,
        seconds: Math.round((performance.now() - since + config.syncTimeoutMs) / 1000),
        concurrency: config.concurrency,
      },
    );
    timer = setTimeout(warn, 60_000);
  };
  timer = setTimeout(warn, Math.min(60_000, config.syncTimeoutMs));
  const stopping = ctx.stopping;
  let onStop: (() => void) | undefined;
  try {
    await Promise.race([
      overdue.catch(() => {}),
      new Promise<void>((resolve) => {
        if (stopping === undefined) return;
        onStop = resolve;
        if (stopping.aborted) resolve();
        else stopping.addEventListener("abort", onStop, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onStop !== undefined) stopping?.removeEventListener("abort", onStop);
  }
}
