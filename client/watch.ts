/**
 * Watching: a Kubernetes watch response decoded incrementally, line by line, into typed events,
 * with an idle deadline that ends a connection gone silent and cancellation by `AbortSignal`.
 *
 * @module
 */
import type { KubeClient } from "./kube_client.ts";
import type { KubernetesObject } from "./resource_type.ts";
import { NetworkError, type Status, WatchDecodeError, WatchIdleTimeoutError } from "./errors.ts";

/** An object was added, modified or deleted. */
export interface WatchObjectEvent<T> {
  /** The event type. */
  type: "ADDED" | "MODIFIED" | "DELETED";
  /** The object (its last state, for DELETED). */
  object: T;
}

/** A bookmark: only `metadata.resourceVersion` is meaningful. */
export interface WatchBookmarkEvent {
  /** The event type. */
  type: "BOOKMARK";
  /** An object whose `metadata.resourceVersion` is where a watch may resume. */
  object: KubernetesObject;
}

/** The server ended the watch with an error; `object.code` 410 means relist. */
export interface WatchErrorEvent {
  /** The event type. */
  type: "ERROR";
  /** The Status. */
  object: Status;
}

/** One event of a watch. */
export type WatchEvent<T> = WatchObjectEvent<T> | WatchBookmarkEvent | WatchErrorEvent;

/** Options for a watch. */
export interface WatchOptions {
  /** Resume after this resourceVersion; events up to it are not replayed. */
  resourceVersion?: string;
  /** Only objects matching this label selector. */
  labelSelector?: string;
  /** Only objects matching this field selector. */
  fieldSelector?: string;
  /** Ask for BOOKMARK events (default true). */
  allowWatchBookmarks?: boolean;
  /** Ask the server to end the watch after this many seconds (default 290). */
  timeoutSeconds?: number;
  /**
   * End the watch with {@linkcode WatchIdleTimeoutError} when no byte arrives for this long
   * (default 70 000 ms). The server sends bookmarks about once a minute, so a healthy watch is
   * never idle that long.
   */
  idleTimeoutMs?: number;
  /** Ends the watch: the iteration stops without error, and the connection is closed. */
  signal?: AbortSignal;
  /** `sendInitialEvents` (streaming lists); requires `resourceVersionMatch=NotOlderThan`. */
  sendInitialEvents?: boolean;
}

const EVENT_TYPES = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

/**
 * Decodes one watch line.
 *
 * @param path the watch path, for errors
 * @param line one line of the response, without the newline
 * @returns the event
 * @throws {WatchDecodeError} when the line is not a watch event
 */
export function decodeWatchLine<T>(path: string, line: string): WatchEvent<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new WatchDecodeError(path, "the line is not JSON", line);
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new WatchDecodeError(path, "the line is not an object", line);
  }
  const { type, object } = parsed as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || !EVENT_TYPES.has(type)) {
    throw new WatchDecodeError(path, `unknown event type ${JSON.stringify(type)}`, line);
  }
  if (object === null || typeof object !== "object") {
    throw new WatchDecodeError(path, "the event has no object", line);
  }
  return parsed as WatchEvent<T>;
}

/**
 * Splits a stream of text chunks into lines and decodes each as a watch event. The whole body is
 * never held in memory: only the current partial line is buffered.
 *
 * @param path the watch path, for errors
 * @param chunks the decoded text of the response body
 * @returns the events
 * @throws {WatchDecodeError} on a bad line, or when the stream ends in the middle of a line
 */
export async function* decodeWatchStream<T>(
  path: string,
  chunks: AsyncIterable<string>,
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  let buffer = "";
  for await (const chunk of chunks) {
    buffer = buffer ? buffer + chunk : chunk;
    let start = 0;
    let newline: number;
    while ((newline = buffer.indexOf("\n", start)) >= 0) {
      const line = buffer.slice(start, newline);
      start = newline + 1;
      if (line.trim()) yield decodeWatchLine<T>(path, line);
    }
    buffer = start === 0 ? buffer : buffer.slice(start);
  }
  if (buffer.trim()) throw new WatchDecodeError(path, "the stream ended inside a line", buffer);
}

/**
 * Watches a collection path. Iterate the result; `break` or the signal ends it and closes the
 * connection. The iteration also ends (without error) when the server closes the watch, which it
 * does after `timeoutSeconds`: the caller then resumes from the last resourceVersion seen.
 *
 * @param client the client
 * @param path a collection path such as `/api/v1/namespaces/a/configmaps`
 * @param options resume point, selectors, bookmarks, deadlines, cancellation
 * @returns the events
 * @throws {ApiError} when the server refuses the watch (a 410 for a too-old resourceVersion)
 * @throws {WatchIdleTimeoutError} when the connection goes silent
 * @throws {WatchDecodeError} on a malformed line
 * @throws {NetworkError} when the connection breaks
 */
export async function* watchPath<T>(
  client: KubeClient,
  path: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 70_000;
  const controller = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) return;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // Aborting the request alone does not always settle a pending body read when other requests
  // share the HTTP client: cancel the reader too, so that a stop or the idle deadline always ends
  // the watch.
  const stop = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
    reader?.cancel(reason).catch(() => {});
  };
  const onAbort = () => stop(outer?.reason);
  outer?.addEventListener("abort", onAbort, { once: true });
  let idle = false;
  // One lazy deadline timer for the whole watch: data only moves the deadline, and the timer
  // re-arms itself for the rest of the time when it fires early.
  let lastData = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const quiet = performance.now() - lastData;
    if (quiet >= idleTimeoutMs) {
      idle = true;
      // The connection is presumed dead: cancelling the body closes it (it is this watch's own).
      stop(new WatchIdleTimeoutError(path, idleTimeoutMs));
    } else {
      timer = setTimeout(check, idleTimeoutMs - quiet);
    }
  };
  timer = setTimeout(check, idleTimeoutMs);
  try {
    let response: Response;
    try {
      response = await client.send("GET", path, {
        query: {
          watch: true,
          resourceVersion: options.resourceVersion,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          allowWatchBookmarks: options.allowWatchBookmarks ?? true,
          timeoutSeconds: options.timeoutSeconds ?? 290,
          ...(options.sendInitialEvents
            ? { sendInitialEvents: true, resourceVersionMatch: "NotOlderThan" }
            : {}),
        },
        signal: controller.signal,
        stream: true,
      });
    } catch (error) {
      if (outer?.aborted) return;
      if (idle) throw new WatchIdleTimeoutError(path, idleTimeoutMs);
      throw error;
    }
    if (!response.body) return;
    reader = response.body.getReader();
    if (controller.signal.aborted) reader.cancel().catch(() => {});
    const decoder = new TextDecoder();
    const chunks = async function* (r: ReadableStreamDefaultReader<Uint8Array>) {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await r.read();
        } catch (error) {
          if (outer?.aborted) return;
          if (idle) throw new WatchIdleTimeoutError(path, idleTimeoutMs);
          throw new NetworkError({ method: "WATCH", path }, "the watch connection broke", {
            cause: error,
          });
        }
        if (result.done) {
          // A read ended by our own cancel: say why.
          if (idle) throw new WatchIdleTimeoutError(path, idleTimeoutMs);
          if (outer?.aborted) return;
          const rest = decoder.decode();
          if (rest) yield rest;
          return;
        }
        lastData = performance.now();
        yield decoder.decode(result.value, { stream: true });
      }
    };
    try {
      yield* decodeWatchStream<T>(path, chunks(reader));
    } catch (error) {
      if (outer?.aborted) return;
      throw error;
    }
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", onAbort);
    stop(undefined);
    await reader?.cancel().catch(() => {});
  }
}
