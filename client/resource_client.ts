/**
 * {@linkcode ResourceClient}: typed operations on one resource type — get, list (paginated),
 * create, replace, patch (merge, JSON, strategic merge), server-side apply, delete, the status
 * subresource and watch.
 *
 * @module
 */
import type { KubeClient } from "./kube_client.ts";
import { type KubernetesObject, resourcePath, type ResourceType } from "./resource_type.ts";
import { ApiError, WatchUnexpectedObjectError } from "./errors.ts";
import { type WatchEvent, type WatchOptions, watchPath } from "./watch.ts";

/** A list response. */
export interface ObjectList<T> {
  /** `<Kind>List`. */
  kind?: string;
  /** The list's metadata: `resourceVersion` and the `continue` token. */
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  /** The objects. */
  items: T[];
}

/** Options for {@linkcode ResourceClient.list}. */
export interface ListOptions {
  /** A label selector such as `app=web,tier!=db`. */
  labelSelector?: string;
  /** A field selector such as `metadata.name=x`. */
  fieldSelector?: string;
  /** Page size. */
  limit?: number;
  /** The continue token of the previous page. */
  continue?: string;
  /** List at or after this resourceVersion. */
  resourceVersion?: string;
  /** `Exact` or `NotOlderThan`. */
  resourceVersionMatch?: string;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** Options for {@linkcode ResourceClient.listAll}. */
export interface ListAllOptions extends Omit<ListOptions, "limit" | "continue"> {
  /** Page size (default 500). */
  pageSize?: number;
}

/** Options for writes. */
export interface WriteOptions {
  /** The field manager recorded in managedFields. */
  fieldManager?: string;
  /** `All` to validate without persisting. */
  dryRun?: "All";
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** The patch formats. */
export type PatchType = "merge" | "json" | "strategic";

/** Options for {@linkcode ResourceClient.patch}. */
export interface PatchOptions extends WriteOptions {
  /** Merge patch (default), JSON patch, or strategic merge patch (built-in types only). */
  type?: PatchType;
}

/** Options for {@linkcode ResourceClient.apply}. */
export interface ApplyOptions extends Omit<WriteOptions, "fieldManager"> {
  /** The field manager (required by server-side apply). */
  fieldManager: string;
  /** Take ownership of fields another manager owns instead of failing with a conflict. */
  force?: boolean;
}

/** Options for {@linkcode ResourceClient.delete}. */
export interface DeleteOptions {
  /** Only delete when the object still has this uid and/or resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  /** `Foreground`, `Background` or `Orphan`. */
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  /** Grace period; 0 deletes immediately. */
  gracePeriodSeconds?: number;
  /** Cancels the request. */
  signal?: AbortSignal;
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

/** Whether a (merge) patch document sets `metadata.resourceVersion`. */
function pinnedVersion(patch: unknown): boolean {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return false;
  const metadata = (patch as { metadata?: unknown }).metadata;
  return typeof metadata === "object" && metadata !== null &&
    typeof (metadata as { resourceVersion?: unknown }).resourceVersion === "string" &&
    (metadata as { resourceVersion: string }).resourceVersion !== "";
}

/** Operations on one resource type, in one namespace or across all of them. */
export class ResourceClient<T extends KubernetesObject = KubernetesObject> {
  /** The client requests go through. */
  readonly client: KubeClient;
  /** The resource type. */
  readonly type: ResourceType<T>;
  /** The namespace, or `undefined` for all namespaces (or a cluster-scoped type). */
  readonly namespace: string | undefined;

  /**
   * Creates a client for one resource type.
   *
   * @param client the client
   * @param type the resource type
   * @param namespace the namespace; ignored for cluster-scoped types
   */
  constructor(client: KubeClient, type: ResourceType<T>, namespace?: string) {
    this.client = client;
    this.type = type;
    this.namespace = type.namespaced ? namespace : undefined;
  }

  /**
   * The same client bound to another namespace.
   *
   * @param namespace the namespace
   * @returns a new client
   */
  inNamespace(namespace: string): ResourceClient<T> {
    return new ResourceClient(this.client, this.type, namespace);
  }

  #path(name?: string, namespace?: string, subresource?: string): string {
    const ns = namespace ?? this.namespace;
    if (this.type.namespaced && name !== undefined && !ns) {
      throw new TypeError(
        `Cannot address ${this.type.kind} "${name}": the type is namespaced and no namespace was given`,
      );
    }
    return resourcePath(this.type, { namespace: ns, name, subresource });
  }

  #objectPath(object: KubernetesObject, subresource?: string): string {
    const name = object.metadata?.name;
    if (!name) throw new TypeError(`Cannot write ${this.type.kind}: metadata.name is missing`);
    return this.#path(name, object.metadata?.namespace ?? undefined, subresource);
  }

  #withType(object: KubernetesObject): KubernetesObject {
    return { ...object, apiVersion: this.type.apiVersion, kind: this.type.kind };
  }

  /**
   * Reads an object.
   *
   * @param name the name
   * @param options namespace and cancellation
   * @returns the object
   * @throws {ApiError} 404 when it does not exist
   */
  async get(
    name: string,
    options: { namespace?: string | undefined; signal?: AbortSignal } = {},
  ): Promise<T> {
    return await this.client.request<T>("GET", this.#path(name, options.namespace), {
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Reads an object, or `undefined` when it does not exist.
   *
   * @param name the name
   * @param options namespace and cancellation
   * @returns the object or `undefined`
   */
  async find(
    name: string,
    options: { namespace?: string | undefined; signal?: AbortSignal } = {},
  ): Promise<T | undefined> {
    try {
      return await this.get(name, options);
    } catch (error) {
      if (error instanceof ApiError && error.isNotFound) return undefined;
      throw error;
    }
  }

  /**
   * Lists one page of objects.
   *
   * @param options selectors, page size and continue token
   * @returns the page
   */
  async list(options: ListOptions = {}): Promise<ObjectList<T>> {
    const list = await this.client.request<ObjectList<T>>("GET", this.#path(), {
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit,
        continue: options.continue,
        resourceVersion: options.resourceVersion,
        resourceVersionMatch: options.resourceVersionMatch,
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // List items carry no apiVersion/kind; set them so objects are self-describing.
    for (const item of list.items) {
      item.apiVersion = this.type.apiVersion;
      item.kind = this.type.kind;
    }
    return list;
  }

  /**
   * Lists the pages of a collection, following `continue` tokens.
   *
   * @param options selectors and page size
   * @returns the pages
   */
  async *listPages(options: ListAllOptions = {}): AsyncGenerator<ObjectList<T>, void, undefined> {
    let token: string | undefined;
    const { pageSize, ...rest } = options;
    do {
      const page = await this.list({
        ...rest,
        limit: pageSize ?? 500,
        ...(token ? { continue: token } : {}),
      });
      yield page;
      token = page.metadata.continue || undefined;
    } while (token);
  }

  /**
   * Lists every object, page by page, and returns them with the list's resourceVersion (where a
   * watch should start).
   *
   * @param options selectors and page size
   * @returns all items and the resourceVersion of the last page
   */
  async listAll(options: ListAllOptions = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let resourceVersion = "";
    for await (const page of this.listPages(options)) {
      for (const item of page.items) items.push(item);
      resourceVersion = page.metadata.resourceVersion ?? resourceVersion;
    }
    return { items, resourceVersion };
  }

  /**
   * Creates an object.
   *
   * @param object the object; its namespace or the client's is used
   * @param options field manager, dry run
   * @returns the created object
   */
  async create(object: T, options: WriteOptions = {}): Promise<T> {
    const path = this.#path(undefined, object.metadata?.namespace ?? undefined);
    if (this.type.namespaced && !(object.metadata?.namespace ?? this.namespace)) {
      throw new TypeError(
        `Cannot create ${this.type.kind} "${object.metadata?.name}": no namespace given`,
      );
    }
    return await this.client.request<T>("POST", path, {
      body: this.#withType(object),
      query: { fieldManager: options.fieldManager, dryRun: options.dryRun },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Replaces an object (PUT). Set `metadata.resourceVersion` for optimistic concurrency.
   *
   * @param object the whole object
   * @param options field manager, dry run
   * @returns the stored object
   */
  async replace(object: T, options: WriteOptions = {}): Promise<T> {
    return await this.client.request<T>("PUT", this.#objectPath(object), {
      body: this.#withType(object),
      query: { fieldManager: options.fieldManager, dryRun: options.dryRun },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Patches an object.
   *
   * A merge or strategic merge patch that carries `metadata.resourceVersion` is pinned to that
   * version: the API server answers 409 Conflict when the object has another, and such a patch
   * is retried after a connection error or a 5xx like a PUT (a replay of one that was applied
   * meets the 409). Any other patch is sent once, as it may have been applied.
   *
   * @param name the name
   * @param patch the patch document (an array of operations for a JSON patch)
   * @param options patch type, namespace, field manager
   * @returns the patched object
   * @throws {ApiError} 409 when the patch is pinned to a resourceVersion the object no longer has
   */
  async patch(
    name: string,
    patch: unknown,
    options: PatchOptions & { namespace?: string | undefined; subresource?: string | undefined } =
      {},
  ): Promise<T> {
    const type = options.type ?? "merge";
    return await this.client.request<T>(
      "PATCH",
      this.#path(name, options.namespace, options.subresource),
      {
        body: patch,
        contentType: PATCH_CONTENT_TYPES[type],
        query: { fieldManager: options.fieldManager, dryRun: options.dryRun },
        ...(type !== "json" && pinnedVersion(patch) ? { idempotent: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  }

  /**
   * Server-side apply: the object holds only the fields this manager owns.
   *
   * @param object the applied configuration (apiVersion and kind are set from the type)
   * @param options field manager and force
   * @returns the resulting object
   * @throws {ApiError} 409 when another manager owns a field and `force` is not set
   */
  async apply(object: KubernetesObject, options: ApplyOptions): Promise<T> {
    return await this.#apply(object, options);
  }

  /**
   * Server-side apply of the status subresource.
   *
   * @param object the applied configuration with `status`
   * @param options field manager and force
   * @returns the resulting object
   */
  async applyStatus(object: KubernetesObject, options: ApplyOptions): Promise<T> {
    return await this.#apply(object, options, "status");
  }

  async #apply(object: KubernetesObject, options: ApplyOptions, subresource?: string): Promise<T> {
    return await this.client.request<T>("PATCH", this.#objectPath(object, subresource), {
      body: this.#withType(object),
      contentType: "application/apply-patch+yaml",
      query: {
        fieldManager: options.fieldManager,
        force: options.force ? true : undefined,
        dryRun: options.dryRun,
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Deletes an object.
   *
   * @param name the name
   * @param options preconditions, propagation policy, namespace
   * @returns the object (being deleted) or a Status
   */
  async delete(
    name: string,
    options: DeleteOptions & { namespace?: string | undefined } = {},
  ): Promise<KubernetesObject> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (options.preconditions) body.preconditions = options.preconditions;
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.gracePeriodSeconds !== undefined) {
      body.gracePeriodSeconds = options.gracePeriodSeconds;
    }
    return await this.client.request<KubernetesObject>(
      "DELETE",
      this.#path(name, options.namespace),
      { body, ...(options.signal ? { signal: options.signal } : {}) },
    );
  }

  /**
   * Reads the status subresource.
   *
   * @param name the name
   * @param options namespace and cancellation
   * @returns the object
   */
  async getStatus(
    name: string,
    options: { namespace?: string | undefined; signal?: AbortSignal } = {},
  ): Promise<T> {
    return await this.client.request<T>("GET", this.#path(name, options.namespace, "status"), {
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Replaces the status subresource (PUT); set `metadata.resourceVersion` for optimistic
   * concurrency.
   *
   * @param object the object with its new status
   * @param options field manager, dry run
   * @returns the stored object
   */
  async replaceStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return await this.client.request<T>("PUT", this.#objectPath(object, "status"), {
      body: this.#withType(object),
      query: { fieldManager: options.fieldManager, dryRun: options.dryRun },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Patches the status subresource (a merge patch unless `options.type` says otherwise). With
   * `metadata.resourceVersion` in a merge patch, the write is as conflict-safe as
   * {@linkcode ResourceClient.replaceStatus} without sending the rest of the object:
   * `{ metadata: { resourceVersion }, status: { changed: 1, removed: null } }`.
   *
   * @param name the name
   * @param patch the patch document
   * @param options patch type, namespace
   * @returns the patched object
   * @throws {ApiError} 409 when the patch is pinned to a resourceVersion the object no longer has
   */
  async patchStatus(
    name: string,
    patch: unknown,
    options: PatchOptions & { namespace?: string | undefined } = {},
  ): Promise<T> {
    return await this.patch(name, patch, { ...options, subresource: "status" });
  }

  /**
   * Watches the collection (in the bound namespace, or all). An ADDED, MODIFIED or DELETED event
   * whose object has no name, or is of another type than this client's, ends the watch with
   * {@linkcode WatchUnexpectedObjectError}: a cache keyed by name must not take it in.
   *
   * @param options resume point, selectors, deadlines, cancellation
   * @returns the events
   * @throws {WatchUnexpectedObjectError} on an object without a name or of another type
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = this.#path();
    for await (const event of watchPath<T>(this.client, path, options)) {
      if (event.type !== "BOOKMARK" && event.type !== "ERROR") {
        const problem = this.#unexpected(event.object);
        if (problem !== undefined) {
          throw new WatchUnexpectedObjectError(path, event.type, problem);
        }
      }
      yield event;
    }
  }

  /** What makes a watched object unfit for this client, or `undefined`; never its content. */
  #unexpected(object: KubernetesObject): string | undefined {
    const name = (object.metadata as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string" || name === "") return "has no metadata.name";
    const { apiVersion, kind } = object as { apiVersion?: unknown; kind?: unknown };
    const { apiVersion: wantedVersion, kind: wantedKind } = this.type;
    if (
      (apiVersion !== undefined && apiVersion !== wantedVersion) ||
      (kind !== undefined && kind !== wantedKind)
    ) {
      const shown = (value: unknown) =>
        typeof value === "string" && /^[\w./-]{1,63}$/.test(value) ? value : "?";
      return `is a ${shown(apiVersion ?? wantedVersion)} ${
        shown(kind ?? wantedKind)
      }, not a ${wantedVersion} ${wantedKind}`;
    }
    return undefined;
  }
}
