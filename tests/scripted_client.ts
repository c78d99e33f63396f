/**
 * A scripted {@linkcode KubeClient} for ordering tests of the runtime: an in-memory API server
 * (create, get, list with label selectors, replace, merge/JSON/apply patches, delete with
 * preconditions and finalizers, the status subresource, watches that replay from a
 * resourceVersion, and discovery of the types a test declares served), and a hook that can fail,
 * delay or gate any request. It answers what the
 * tests need; behaviour that only the real API server decides is tested against it instead.
 *
 * @module
 */
import { KubeClient, type RequestOptions } from "../client/kube_client.ts";
import { ApiError } from "../client/errors.ts";
import type { KubernetesObject, ResourceType } from "../client/resource_type.ts";
import { matchesLabelSelector } from "../runner/label_selector.ts";

/** One request, as the hook sees it. */
export interface ScriptedRequest {
  /** The HTTP method (`WATCH` for a watch). */
  method: string;
  /** The path without the query. */
  path: string;
  /** The object's name, for requests on one object. */
  name: string | undefined;
  /** The subresource (`status`), if any. */
  subresource: string | undefined;
  /** The request body, parsed. */
  body: unknown;
  /** The request's query. */
  query: RequestOptions["query"];
  /** The request's signal. */
  signal: AbortSignal | undefined;
}

/**
 * Called before the store answers a request: throw (an {@linkcode ApiError}) to fail it, return
 * a promise to delay it. The request's signal still aborts a delayed request.
 */
export type ScriptHook = (request: ScriptedRequest) => void | Promise<void>;

interface Watcher {
  collection: string;
  namespace: string | undefined;
  selector: (object: KubernetesObject) => boolean;
  push: (line: string) => void;
}

interface Parsed {
  /** `group/version/plural`. */
  collection: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

function parsePath(path: string): Parsed {
  const parts = path.split("/").filter(Boolean);
  let rest: string[];
  let gv: string;
  if (parts[0] === "api") {
    gv = parts[1]!;
    rest = parts.slice(2);
  } else {
    gv = `${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  return { collection: `${gv}/${rest[0]}`, namespace, name: rest[1], subresource: rest[2] };
}

function parseSelector(selector: string | undefined): (object: KubernetesObject) => boolean {
  return (object) => matchesLabelSelector(selector ?? "", object.metadata?.labels);
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...target as Record<string, unknown> }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function jsonPatch(target: KubernetesObject, ops: unknown, fail: (message: string) => never) {
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops as Array<{ op: string; path: string; value?: unknown }>) {
    const keys = op.path.split("/").slice(1).map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop()!;
    let node: Record<string, unknown> | unknown[] = doc;
    for (const key of keys) {
      node = (node as Record<string, unknown>)[key] as Record<string, unknown>;
      if (node === undefined) fail(`path ${op.path} does not exist`);
    }
    const container = node as Record<string, unknown> & unknown[];
    if (op.op === "test") {
      if (JSON.stringify(container[last as never]) !== JSON.stringify(op.value)) {
        fail(`test of ${op.path} failed`);
      }
    } else if (op.op === "remove") {
      if (Array.isArray(container)) container.splice(Number(last), 1);
      else delete container[last];
    } else if (op.op === "add" || op.op === "replace") {
      if (Array.isArray(container) && op.op === "add") {
        container.splice(last === "-" ? container.length : Number(last), 0, op.value);
      } else container[last as never] = op.value as never;
    } else fail(`unsupported op ${op.op}`);
  }
  return doc as KubernetesObject;
}

/** The group/version a discovery path asks about (`/api/v1`, `/apis/apps/v1`), else `undefined`. */
function discoveryOf(path: string): string | undefined {
  return /^\/api\/([^/]+)$/.exec(path)?.[1] ?? /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
}

/** The in-memory API server behind a {@linkcode ScriptedClient}. */
export class ScriptedStore {
  #rv = 100;
  #uid = 0;
  /** Objects by `collection|namespace|name`. */
  readonly objects: Map<string, KubernetesObject> = new Map();
  readonly #watchers = new Set<Watcher>();
  /** The types discovery answers with, by apiVersion. */
  readonly #served = new Map<string, ResourceType[]>();

  /**
   * Declares types served: discovery of their group/version lists them (a group/version with no
   * type declared answers 404). Nothing else depends on it: lists and writes of any path work.
   *
   * @param types the types, as the API server serves them (plural and scope)
   */
  serve(...types: ResourceType[]): void {
    for (const type of types) {
      this.#served.set(type.apiVersion, [...this.#served.get(type.apiVersion) ?? [], type]);
    }
  }

  #key(collection: string, namespace: string | undefined, name: string): string {
    return `${collection}|${namespace ?? ""}|${name}`;
  }

  /** The number of watches open now. */
  get watching(): number {
    return this.#watchers.size;
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  /**
   * An object as stored.
   *
   * @param path the collection path (`/api/v1/namespaces/a/configmaps`)
   * @param name the name
   * @returns a copy, or `undefined`
   */
  get(path: string, name: string): KubernetesObject | undefined {
    const { collection, namespace } = parsePath(path);
    const object = this.objects.get(this.#key(collection, namespace, name));
    return object === undefined ? undefined : structuredClone(object);
  }

  /**
   * Stores an object as if another client wrote it (a new resourceVersion; a uid when new),
   * and tells the watchers.
   *
   * @param path the collection path
   * @param object the object
   * @returns what was stored
   */
  put(path: string, object: KubernetesObject): KubernetesObject {
    const { collection, namespace } = parsePath(path);
    const name = object.metadata!.name!;
    const key = this.#key(collection, namespace, name);
    const existing = this.objects.get(key);
    const stored = structuredClone(object);
    stored.metadata = {
      ...stored.metadata,
      ...(namespace ? { namespace } : {}),
      uid: stored.metadata?.uid ?? existing?.metadata?.uid ?? `uid-${++this.#uid}`,
      resourceVersion: String(++this.#rv),
      generation: stored.metadata?.generation ?? existing?.metadata?.generation ?? 1,
      creationTimestamp: existing?.metadata?.creationTimestamp ?? "2026-01-01T00:00:00Z",
    };
    this.objects.set(key, stored);
    this.#notify(existing ? "MODIFIED" : "ADDED", collection, namespace, stored, existing);
    return structuredClone(stored);
  }

  /**
   * Removes an object (or marks it deleted while it has finalizers), and tells the watchers.
   *
   * @param path the collection path
   * @param name the name
   */
  remove(path: string, name: string): void {
    const { collection, namespace } = parsePath(path);
    const key = this.#key(collection, namespace, name);
    const existing = this.objects.get(key);
    if (existing === undefined) return;
    if (existing.metadata?.finalizers?.length) {
      if (existing.metadata.deletionTimestamp) return;
      this.put(path, {
        ...existing,
        metadata: { ...existing.metadata, deletionTimestamp: "2026-01-01T00:00:00Z" },
      });
      return;
    }
    this.objects.delete(key);
    const gone = structuredClone(existing);
    gone.metadata = { ...gone.metadata, resourceVersion: String(++this.#rv) };
    this.#notify("DELETED", collection, namespace, gone, existing);
  }

  #notify(
    type: string,
    collection: string,
    namespace: string | undefined,
    object: KubernetesObject,
    previous: KubernetesObject | undefined,
  ): void {
    for (const watcher of this.#watchers) {
      if (watcher.collection !== collection) continue;
      if (watcher.namespace !== undefined && watcher.namespace !== namespace) continue;
      const now = watcher.selector(object);
      const before = previous !== undefined && watcher.selector(previous);
      // An object that stops matching the selector is DELETED for that watcher.
      const seen = type === "DELETED"
        ? (before ? "DELETED" : undefined)
        : now
        ? (before ? type : "ADDED")
        : before
        ? "DELETED"
        : undefined;
      if (seen) watcher.push(JSON.stringify({ type: seen, object }) + "\n");
    }
  }

  /**
   * Answers one request.
   *
   * @param request the request
   * @returns the response body
   */
  handle(request: ScriptedRequest): unknown {
    const fail = (status: number, reason: string, message: string): never => {
      throw new ApiError({ method: request.method, path: request.path }, status, {
        kind: "Status",
        status: "Failure",
        reason,
        message,
        code: status,
      });
    };
    const groupVersion = discoveryOf(request.path);
    if (groupVersion !== undefined && request.method === "GET") {
      const served = this.#served.get(groupVersion);
      if (served === undefined) return fail(404, "NotFound", "the server could not find it");
      return {
        kind: "APIResourceList",
        groupVersion,
        resources: served.map((t) => ({ name: t.plural, kind: t.kind, namespaced: t.namespaced })),
      };
    }
    const { collection, namespace, name, subresource } = parsePath(request.path);
    const key = name === undefined ? undefined : this.#key(collection, namespace, name);
    const existing = key === undefined ? undefined : this.objects.get(key);
    const collectionPath = request.path.split("/").slice(
      0,
      subresource ? -2 : name ? -1 : undefined,
    )
      .join("/");
    switch (request.method) {
      case "GET": {
        if (name !== undefined) {
          if (!existing) fail(404, "NotFound", `"${name}" not found`);
          return structuredClone(existing);
        }
        const selector = parseSelector(request.query?.labelSelector as string | undefined);
        const items = [...this.objects.entries()]
          .filter(([k, o]) =>
            k.startsWith(`${collection}|`) &&
            (namespace === undefined || o.metadata?.namespace === namespace) && selector(o)
          )
          .map(([, o]) => {
            const { apiVersion: _a, kind: _k, ...rest } = structuredClone(o);
            return rest;
          });
        return { metadata: { resourceVersion: this.resourceVersion }, items };
      }
      case "POST": {
        const object = request.body as KubernetesObject;
        const newKey = this.#key(collection, namespace, object.metadata!.name!);
        if (this.objects.has(newKey)) {
          fail(409, "AlreadyExists", `${collection} "${object.metadata!.name}" already exists`);
        }
        const { uid: _u, resourceVersion: _r, ...metadata } = object.metadata ?? {};
        return this.put(collectionPath, { ...object, metadata });
      }
      case "PUT": {
        if (!existing) fail(404, "NotFound", `"${name}" not found`);
        const object = request.body as KubernetesObject;
        if (object.metadata?.resourceVersion !== existing!.metadata!.resourceVersion) {
          fail(409, "Conflict", "the object has been modified; please apply your changes");
        }
        const next = subresource === "status"
          ? { ...existing!, status: object.status }
          : { ...object, status: existing!.status };
        next.metadata = {
          ...next.metadata,
          uid: existing!.metadata!.uid!,
          generation: (existing!.metadata!.generation ?? 1) + (subresource === "status" ? 0 : 1),
        };
        return this.put(collectionPath, next);
      }
      case "PATCH": {
        const contentType = request.query?.["$contentType"] as string;
        if (contentType === "application/apply-patch+yaml") {
          const object = request.body as KubernetesObject;
          if (!existing) {
            const { resourceVersion: _r, ...metadata } = object.metadata ?? {};
            return this.put(collectionPath, { ...object, metadata });
          }
          return this.put(collectionPath, {
            ...object,
            metadata: { ...object.metadata, uid: existing.metadata!.uid! },
            status: existing.status,
          });
        }
        if (!existing) fail(404, "NotFound", `"${name}" not found`);
        const patched = contentType === "application/json-patch+json"
          ? jsonPatch(existing!, request.body, (message) => fail(422, "Invalid", message))
          : mergePatch(existing, request.body) as KubernetesObject;
        const rv = (request.body as KubernetesObject)?.metadata?.resourceVersion;
        if (rv !== undefined && rv !== existing!.metadata!.resourceVersion) {
          fail(409, "Conflict", "the object has been modified");
        }
        patched.metadata = { ...patched.metadata, uid: existing!.metadata!.uid! };
        const result = this.put(collectionPath, patched);
        if (result.metadata?.deletionTimestamp && !result.metadata.finalizers?.length) {
          this.remove(collectionPath, name!);
        }
        return result;
      }
      case "DELETE": {
        if (!existing) fail(404, "NotFound", `"${name}" not found`);
        const uid = (request.body as { preconditions?: { uid?: string } })?.preconditions?.uid;
        if (uid !== undefined && uid !== existing!.metadata!.uid) {
          fail(409, "Conflict", "Precondition failed: UID in precondition does not match");
        }
        this.remove(collectionPath, name!);
        return { kind: "Status", status: "Success" };
      }
    }
    return fail(405, "MethodNotAllowed", request.method);
  }

  /** Opens a watch: replays nothing (the informer lists first), then streams changes. */
  watch(request: ScriptedRequest): Response {
    const { collection, namespace } = parsePath(request.path);
    const encoder = new TextEncoder();
    let watcher: Watcher | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        watcher = {
          collection,
          namespace,
          selector: parseSelector(request.query?.labelSelector as string | undefined),
          push: (line) => {
            try {
              controller.enqueue(encoder.encode(line));
            } catch { /* closed */ }
          },
        };
        this.#watchers.add(watcher);
        request.signal?.addEventListener("abort", () => {
          this.#watchers.delete(watcher!);
          try {
            controller.close();
          } catch { /* closed */ }
        }, { once: true });
      },
      cancel: () => {
        this.#watchers.delete(watcher!);
      },
    });
    return new Response(body, { status: 200 });
  }
}

/**
 * A {@linkcode KubeClient} whose requests are answered by a {@linkcode ScriptedStore}, after a
 * test's hook had its say. Every request is recorded in `requests`.
 */
export class ScriptedClient extends KubeClient {
  /** The in-memory API server. */
  readonly store: ScriptedStore = new ScriptedStore();
  /** Every request so far. */
  readonly requests: ScriptedRequest[] = [];
  /** Called before each request is answered. */
  hook: ScriptHook | undefined;
  /** Whether `close()` was called; a request after it fails, as with a real client. */
  closed = false;
  /** The number of requests not answered yet (a watch counts until its response, not after). */
  inFlight = 0;

  /** Creates a client with an empty store. */
  constructor() {
    super({ server: "http://scripted.invalid" });
  }

  #request(method: string, path: string, options: RequestOptions): ScriptedRequest {
    const parsed = parsePath(path);
    const request: ScriptedRequest = {
      method,
      path,
      name: parsed.name,
      subresource: parsed.subresource,
      body: typeof options.body === "string" ? JSON.parse(options.body) : options.body,
      query: { ...options.query, $contentType: options.contentType },
      signal: options.signal,
    };
    this.requests.push(request);
    return request;
  }

  async #answer<T>(request: ScriptedRequest, answer: () => T): Promise<T> {
    this.inFlight++;
    try {
      return await this.#answerNow(request, answer);
    } finally {
      this.inFlight--;
    }
  }

  async #answerNow<T>(request: ScriptedRequest, answer: () => T): Promise<T> {
    if (this.closed) {
      throw new TypeError(`Cannot ${request.method} ${request.path}: the client is closed`);
    }
    if (request.signal?.aborted) throw request.signal.reason;
    const hooked = this.hook?.(request);
    if (hooked !== undefined) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(request.signal!.reason);
        request.signal?.addEventListener("abort", onAbort, { once: true });
        hooked.then(() => {
          request.signal?.removeEventListener("abort", onAbort);
          resolve();
        }, reject);
      });
    }
    if (request.signal?.aborted) throw request.signal.reason;
    return answer();
  }

  /** Answers from the store. */
  override request<T = unknown>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const request = this.#request(method, path, options);
    return this.#answer(request, () => this.store.handle(request) as T);
  }

  /** Marks the client closed (see `closed`). */
  override close(): void {
    this.closed = true;
    super.close();
  }

  /** Watches are answered by the store; nothing else is sent with `send`. */
  override send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const request = this.#request(options.query?.watch ? "WATCH" : method, path, options);
    if (!options.query?.watch) {
      return this.#answer(request, () => {
        const body = this.store.handle(request);
        return new Response(JSON.stringify(body), { status: 200 });
      });
    }
    return this.#answer(request, () => this.store.watch(request));
  }
}
