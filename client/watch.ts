/**
 * Watching: a Kubernetes watch response decoded incrementally, line by line, into typed events,
 * with a bound on the length of a line, an idle deadline that ends a connection gone silent, a
 * client-side end after `timeoutSeconds`, and cancellation by `AbortSignal`.
 *
 * @module
 */
import type { KubeClient } from "./kube_client.ts";
import type { KubernetesObject } from "./resource_type.ts";
import {
  NetworkError,
  type Status,
  WatchDecodeError,
  WatchIdleTimeoutError,
  WatchLineTooLongError,
} from "./errors.ts";

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
  /**
   * Ask the server to end the watch after this many seconds (default 290). The client ends it
   * too, `deadlineMarginMs` later, in case the server does not: the iteration then stops without
   * error, as when the server closes the watch.
   */
  timeoutSeconds?: number;
  /**
   * How long after `timeoutSeconds` the client ends a watch the server has not closed (default
   * 30 000 ms).
   */
  deadlineMarginMs?: number;
  /**
   * End the watch with {@linkcode WatchIdleTimeoutError} when no complete event arrives for this
   * long (default 70 000 ms). Only whole event lines count: bytes that never complete a line, and
   * blank lines, do not keep a watch alive. The server sends bookmarks about once a minute, so a
   * healthy watch is never idle that long. Time the caller spends on an event does not count.
   */
  idleTimeoutMs?: number;
  /**
   * End the watch with {@linkcode WatchLineTooLongError} when a line grows past this many bytes
   * before its newline (default 32 MiB). A watch event holds one object, and the API server
   * stores no object over etcd's request limit (1.5 MiB by default), so only a broken or hostile
   * stream comes near it; the limit bounds the memory such a stream can take.
   */
  maxLineBytes?: number;
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
    throw new WatchDecodeError(path, "the line is not JSON");
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new WatchDecodeError(path, "the line is not an object");
  }
  const { type, object } = parsed as { type?: unknown; object?: unknown };
  if (typeof type !== "string" || !EVENT_TYPES.has(type)) {
    // Named only when it looks like an event type: the line may hold anything, a Secret too.
    const shown = typeof type === "string" && /^[A-Za-z_]{1,32}$/.test(type)
      ? JSON.stringify(type)
      : `(a ${type === null ? "null" : typeof type})`;
    throw new WatchDecodeError(path, `unknown event type ${shown}`);
  }
  if (object === null || typeof object !== "object") {
    throw new WatchDecodeError(path, "the event has no object");
  }
  return parsed as WatchEvent<T>;
}

/** The default of {@linkcode WatchOptions.maxLineBytes}: 32 MiB. */
export const DEFAULT_MAX_LINE_BYTES: number = 32 * 1024 * 1024;

/** Options for {@linkcode decodeWatchStream}. */
export interface DecodeWatchStreamOptions {
  /**
   * Throw {@linkcode WatchLineTooLongError} when a line grows past this many bytes (UTF-16 code
   * units for text chunks) before its newline; default 32 MiB.
   */
  maxLineBytes?: number;
}

/** What splitting lines needs of a chunk, for bytes and for text alike. */
interface ChunkKind<C> {
  indexOf(chunk: C, from: number): number;
  lastIndexOf(chunk: C): number;
  slice(chunk: C, start: number, end?: number): C;
  /** The text of one or more pieces of a line, decoded once. */
  text(parts: C[]): string;
}

const utf8 = new TextDecoder();

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const BYTES: ChunkKind<Uint8Array> = {
  indexOf: (chunk, from) => chunk.indexOf(10, from),
  lastIndexOf: (chunk) => chunk.lastIndexOf(10),
  slice: (chunk, start, end) => chunk.subarray(start, end),
  text: (parts) => utf8.decode(concat(parts)),
};

const TEXT: ChunkKind<string> = {
  indexOf: (chunk, from) => chunk.indexOf("\n", from),
  lastIndexOf: (chunk) => chunk.lastIndexOf("\n"),
  slice: (chunk, start, end) => chunk.slice(start, end),
  text: (parts) => parts.length === 1 ? parts[0]! : parts.join(""),
};

/** Whether a line has nothing but whitespace (JSON's four characters). */
const BLANK = /^[ \t\r]*$/;

/**
 * Splits a stream of chunks into lines and decodes each as a watch event, in time linear in the
 * stream's length: a new chunk is searched once for newlines, the pieces of a partial line are
 * kept apart and joined (and decoded) once when its newline arrives. Only the current partial
 * line is buffered, and at most `maxLineBytes` of it.
 *
 * @example
 * ```ts ignore
 * for await (const event of decodeWatchStream("/api/v1/pods", response.body!)) {
 *   console.log(event.type);
 * }
 * ```
 *
 * @param path the watch path, for errors
 * @param chunks the response body: bytes (UTF-8) or text, one or the other throughout
 * @param options the longest line allowed
 * @returns the events
 * @throws {WatchLineTooLongError} when a line grows past `maxLineBytes`
 * @throws {WatchDecodeError} on a bad line, or when the stream ends in the middle of a line
 */
export async function* decodeWatchStream<T>(
  path: string,
  chunks: AsyncIterable<Uint8Array | string>,
  options: DecodeWatchStreamOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  // The pieces of the partial line and their total size; all of one kind (bytes or text).
  let parts: Array<Uint8Array | string> = [];
  let pending = 0;
  for await (const chunk of chunks) {
    const kind = (typeof chunk === "string" ? TEXT : BYTES) as ChunkKind<Uint8Array | string>;
    const first = kind.indexOf(chunk, 0);
    if (first < 0) {
      pending += chunk.length;
      if (pending > max) throw new WatchLineTooLongError(path, max);
      if (chunk.length > 0) parts.push(chunk);
      continue;
    }
    if (pending + first > max) throw new WatchLineTooLongError(path, max);
    parts.push(kind.slice(chunk, 0, first));
    const line = kind.text(parts);
    parts = [];
    pending = 0;
    if (!BLANK.test(line)) yield decodeWatchLine<T>(path, line);
    const last = kind.lastIndexOf(chunk);
    if (last > first) {
      if (last - first - 1 > max) {
        for (let at = first; at < last;) {
          const next = kind.indexOf(chunk, at + 1);
          if (next - at - 1 > max) throw new WatchLineTooLongError(path, max);
          at = next;
        }
      }
      // The whole lines of the chunk, decoded at once and split.
      for (const line of kind.text([kind.slice(chunk, first + 1, last)]).split("\n")) {
        if (!BLANK.test(line)) yield decodeWatchLine<T>(path, line);
      }
    }
    if (last + 1 < chunk.length) {
      pending = chunk.length - last - 1;
      if (pending > max) throw new WatchLineTooLongError(path, max);
      parts.push(kind.slice(chunk, last + 1));
    }
  }
  if (parts.length > 0) {
    const kind = (typeof parts[0] === "string" ? TEXT : BYTES) as ChunkKind<Uint8Array | string>;
    if (!BLANK.test(kind.text(parts))) {
      throw new WatchDecodeError(path, "the stream ended inside a line");
    }
  }
}

/**
 * Watches a collection path. Iterate the result; `break` or the signal ends it and closes the
 * connection. The iteration also ends (without error) when the server closes the watch, which it
 * does after `timeoutSeconds` (and the client does `deadlineMarginMs` later if the server has
 * not): the caller then resumes from the last resourceVersion seen. The watch has a connection of
 * its own: its idle deadline closes that connection, and only retires the shared one (see
 * {@linkcode KubeClient.resetConnections}), so that no request in flight is cut off.
 *
 * @param client the client
 * @param path a collection path such as `/api/v1/namespaces/a/configmaps`
 * @param options resume point, selectors, bookmarks, deadlines, line limit, cancellation
 * @returns the events
 * @throws {ApiError} when the server refuses the watch (a 410 for a too-old resourceVersion)
 * @throws {WatchIdleTimeoutError} when no complete event arrives within the idle deadline
 * @throws {WatchLineTooLongError} when a line grows past `maxLineBytes`
 * @throws {WatchDecodeError} on a malformed line
 * @throws {NetworkError} when the connection breaks
 */
export async function* watchPath<T>(
  client: KubeClient,
  path: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 70_000;
  const timeoutSeconds = options.timeoutSeconds ?? 290;
  const controller = new AbortController();
  const outer = options.signal;
  if (outer?.aborted) return;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // Why the watch was stopped from this side: by the caller and the client's deadline it ends
  // quietly, by the idle deadline with an error. Cancelling the reader as well as aborting the
  // request makes sure a pending body read settles.
  let stopped: "caller" | "deadline" | "idle" | undefined;
  const stop = (why: "caller" | "deadline" | "idle", reason?: unknown) => {
    stopped ??= why;
    if (!controller.signal.aborted) controller.abort(reason);
    reader?.cancel(reason).catch(() => {});
  };
  const onAbort = () => stop("caller", outer?.reason);
  outer?.addEventListener("abort", onAbort, { once: true });
  const idleError = () => new WatchIdleTimeoutError(path, idleTimeoutMs);
  // One lazy idle timer for the whole watch: an event only moves the deadline, and the timer
  // re-arms itself for the rest of the time when it fires early.
  let lastEvent = performance.now();
  // While the caller holds an event, nothing is read: that time is not idle.
  let callerHolds = false;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const quiet = callerHolds ? 0 : performance.now() - lastEvent;
    if (quiet >= idleTimeoutMs) {
      // The connection is presumed dead: cancelling the body closes it (it is this watch's own).
      stop("idle", idleError());
      // The shared connection of other requests may well be dead too (a network partition, a
      // load balancer that dropped idle connections): new requests get a new one, while requests
      // in flight finish on the old one, which is closed after them.
      client.resetConnections();
    } else {
      idleTimer = setTimeout(check, idleTimeoutMs - quiet);
    }
  };
  idleTimer = setTimeout(check, idleTimeoutMs);
  const deadlineTimer = setTimeout(
    () => stop("deadline"),
    timeoutSeconds * 1000 + (options.deadlineMarginMs ?? 30_000),
  );
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
          timeoutSeconds,
          ...(options.sendInitialEvents
            ? { sendInitialEvents: true, resourceVersionMatch: "NotOlderThan" }
            : {}),
        },
        signal: controller.signal,
        stream: true,
      });
    } catch (error) {
      if (stopped === "idle") throw idleError();
      if (stopped !== undefined) return;
      throw error;
    }
    if (!response.body) return;
    reader = response.body.getReader();
    if (controller.signal.aborted) reader.cancel().catch(() => {});
    const chunks = async function* (r: ReadableStreamDefaultReader<Uint8Array>) {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await r.read();
        } catch (error) {
          if (stopped === "idle") throw idleError();
          if (stopped !== undefined) return;
          throw new NetworkError({ method: "WATCH", path }, "the watch connection broke", {
            cause: error,
          });
        }
        if (result.done) {
          // A read ended by our own cancel at the idle deadline: say why.
          if (stopped === "idle") throw idleError();
          return;
        }
        yield result.value;
      }
    };
    try {
      const events = decodeWatchStream<T>(path, chunks(reader), {
        ...(options.maxLineBytes === undefined ? {} : { maxLineBytes: options.maxLineBytes }),
      });
      for await (const event of events) {
        callerHolds = true;
        yield event;
        callerHolds = false;
        lastEvent = performance.now();
      }
    } catch (error) {
      if (stopped === "caller" || stopped === "deadline") return;
      throw error;
    }
  } finally {
    clearTimeout(idleTimer);
    clearTimeout(deadlineTimer);
    outer?.removeEventListener("abort", onAbort);
    stop("caller");
    await reader?.cancel().catch(() => {});
  }
}
