/**
 * {@linkcode operatorConfig}: what an operator manages (a parent type and its child types) and
 * how it runs (labels, finalizer, HTTP server, timings), validated and with every default filled.
 *
 * @module
 */
import { type KubernetesObject, type ResourceType, typeKey } from "../client/resource_type.ts";

/**
 * How the runner brings an existing child in line with the desired one when they differ.
 *
 * - `"Replace"`: PUT the desired object (with the existing `resourceVersion`); fields the handler
 *   leaves out are dropped. Not suitable for types with immutable fields, such as Pods.
 * - `"Recreate"`: DELETE the existing child; it is created again on a later sync.
 * - `"OnDelete"`: never update; the child is only created again once something else deletes it.
 * - `"Apply"`: server-side apply with the operator name as field manager; fields the handler
 *   stops setting are removed, fields owned by others are kept.
 */
export type UpdateStrategy = "Replace" | "Recreate" | "OnDelete" | "Apply";

/** A child type the operator manages, and how it updates children of that type. */
export interface ChildConfig {
  /** The child type. */
  readonly type: ResourceType;
  /** How an existing child that differs from the desired one is updated. */
  readonly updateStrategy: UpdateStrategy;
}

/** The HTTP server options of {@linkcode OperatorConfigInit}. */
export interface ServerConfigInit {
  /** The TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** The address to listen on. Default `"0.0.0.0"`. */
  hostname?: string;
  /** Serve `GET /health`. Default `true`. */
  health?: boolean;
  /** Serve `GET /metrics` (Prometheus text format). Default `true`. */
  metrics?: boolean;
}

/** The resolved HTTP server options. */
export interface ServerConfig {
  /** The TCP port; 0 picks a free one. */
  readonly port: number;
  /** The address to listen on. */
  readonly hostname: string;
  /** Whether `GET /health` is served. */
  readonly health: boolean;
  /** Whether `GET /metrics` is served. */
  readonly metrics: boolean;
}

/** The operator configuration as written by the user, passed to {@linkcode operatorConfig}. */
export interface OperatorConfigInit {
  /**
   * The operator name, a DNS-1123 label (lower-case letters, digits and `-`, at most 63
   * characters). It is the ownership label value, the default finalizer's name part, the field
   * manager and the User-Agent.
   */
  name: string;
  /** The parent type: each parent object is synced by the handler. */
  parent: ResourceType;
  /**
   * The child types, at most one entry per type, as a list or as a map from type to strategy
   * (write `new Map<ResourceType, UpdateStrategy>(…)`, TypeScript cannot infer it). Children of
   * any other type returned by the handler are rejected.
   */
  children?: readonly ChildConfig[] | ReadonlyMap<ResourceType, UpdateStrategy>;
  /**
   * Confine the operator to one namespace (parents and children alike). Omit to watch every
   * namespace. Has no effect on cluster-scoped types.
   */
  namespace?: string;
  /**
   * The label that ties a child to its parent; its value is the parent's `metadata.uid`.
   * Default {@linkcode DEFAULT_TRACKING_LABEL}.
   */
  trackingLabel?: string;
  /**
   * The label that marks a child as managed by this operator; its value is `name`.
   * Default {@linkcode DEFAULT_OWNERSHIP_LABEL}.
   */
  ownershipLabel?: string;
  /**
   * The finalizer added to every parent so that the handler's `finalize` runs before the parent
   * goes away. `true` (the default) uses `"roperator.dev/<name>"`; a string is used as is and
   * must be a qualified name (`prefix/name`, the prefix recommended); `false` adds none, and
   * `finalize` is never called.
   */
  finalizer?: boolean | string;
  /** The health and metrics HTTP server, or `false` for none. */
  server?: ServerConfigInit | false;
  /** The longest delay between retries of a failing sync, in ms. Default 600 000 (10 min). */
  maxErrorBackoffMs?: number;
  /**
   * Sync every parent again this long after its last successful sync even when nothing changed,
   * in ms; 0 turns it off. Default 36 000 000 (10 h, as controller-runtime's `SyncPeriod`): a
   * safety net against missed events and drift in state the operator does not watch.
   */
  resyncPeriodMs?: number;
  /** The most syncs running at once (never two for the same parent). Default 8. */
  concurrency?: number;
  /** A handler call that has not settled after this long fails the sync, in ms. Default 60 000. */
  syncTimeoutMs?: number;
  /**
   * A watch that has received nothing (not even a bookmark) for this long is restarted, in ms.
   * Default 70 000: bookmarks arrive about once a minute, and it stays below common load
   * balancer idle timeouts (Azure: 240 s).
   */
  watchIdleTimeoutMs?: number;
  /**
   * List every watched type again this often, in ms, replacing the cache, to recover from
   * events lost without an error; 0 turns it off. Default 1 800 000 (30 min): rare enough to
   * cost little on large clusters, since the idle timeout and bookmarks already catch dead
   * watches.
   */
  relistPeriodMs?: number;
  /**
   * How long a watch may fail before `/ready` answers 503, in ms. An operator is ready when
   * every cache has completed its first list and every watch is connected, or has been failing
   * for less than this. Default 60 000: a watch that fails now and then (a restarted API server,
   * a load balancer closing connections) does not take the pod out of service.
   */
  readinessGraceMs?: number;
  /**
   * Only sync parents matching this label selector (for example `shard=a` or
   * `tier in (gold,silver)`), to split parents between operator instances.
   */
  parentLabelSelector?: string;
  /**
   * Leader election on a `coordination.k8s.io/v1` Lease, so that several replicas can run and
   * only one of them (the leader) syncs; the others keep their caches warm for a fast failover.
   * `true` uses every default. Off by default.
   */
  leaderElection?: LeaderElectionInit | boolean;
  /**
   * Record `events.k8s.io/v1` Events on parents: failed syncs (`SyncFailed`), rejected child
   * writes (`ChildWriteRejected`) and finalizer outcomes (`Finalized`, `FinalizeFailed`),
   * repeated events folded into a series and rate-limited per parent. Default `true`. Event
   * writes never fail a sync (the RBAC needs `create` and `patch` on `events.k8s.io` Events).
   */
  events?: boolean;
  /**
   * Trims every object before it is cached, to save memory, after the built-in pruning (which
   * drops `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration`
   * annotation). Called for the parent type and every child type; return the object to keep.
   * Never drop fields the handler sets on children: the runner compares desired children with
   * the cached ones, so a dropped field would look changed on every sync.
   */
  transform?: CacheTransform;
}

/**
 * Trims an object before it is cached. It receives the object (already without
 * `metadata.managedFields` and the last-applied annotation) and its type, and returns what to
 * keep; it may return the same object.
 */
export type CacheTransform = (object: KubernetesObject, type: ResourceType) => KubernetesObject;

/** What to do when the leader cannot renew its Lease in time. */
export type LeaderLostAction = "exit" | "stepDown";

/** The leader-election options of {@linkcode OperatorConfigInit}. */
export interface LeaderElectionInit {
  /** The Lease name, a DNS subdomain. Default `"<name>-leader"`. */
  leaseName?: string;
  /**
   * The Lease's namespace. Default: `namespace` when the operator is confined to one, else the
   * environment variable `ROPERATOR_NAMESPACE`, else `"default"`.
   */
  namespace?: string;
  /**
   * This instance's identity, written to the Lease's `holderIdentity` and used as the Events'
   * `reportingInstance`. Default: the host name (the pod name in a pod; read from the
   * `HOSTNAME` variable or `Deno.hostname()` when permitted) plus a random suffix.
   */
  identity?: string;
  /**
   * How long followers wait after they last saw the Lease change before they take it, in ms.
   * Default 15 000 (client-go's). Whole seconds are written to the Lease (rounded up).
   */
  leaseDurationMs?: number;
  /**
   * How long the leader keeps leading without a successful renewal, in ms; it must be shorter
   * than `leaseDurationMs`, so that the leader stops writing before anyone else may take the
   * Lease. Default 10 000.
   */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew the Lease, in ms. Default 2 000. */
  retryPeriodMs?: number;
  /**
   * What the leader does once it has lost the Lease (after it stopped syncing): `"exit"` makes
   * the operator fail (`runOperator` resolves with an `OperatorFatalError` and the CLI exits
   * 1, so that the pod restarts with fresh state, as client-go advises); `"stepDown"` keeps
   * the process running as a follower. Default `"exit"`.
   */
  onLost?: LeaderLostAction;
}

/** The resolved leader-election options. */
export interface LeaderElectionConfig {
  /** The Lease name. */
  readonly leaseName: string;
  /**
   * The Lease's namespace, or `undefined` to use `ROPERATOR_NAMESPACE`, else `"default"`, when
   * the operator starts.
   */
  readonly namespace: string | undefined;
  /** The identity, or `undefined` for the host name plus a random suffix. */
  readonly identity: string | undefined;
  /** The lease duration, in ms. */
  readonly leaseDurationMs: number;
  /** The renew deadline, in ms. */
  readonly renewDeadlineMs: number;
  /** The retry period, in ms. */
  readonly retryPeriodMs: number;
  /** What to do when the Lease is lost. */
  readonly onLost: LeaderLostAction;
}

/** The resolved operator configuration: every default filled, validated and frozen. */
export interface OperatorConfig {
  /** The operator name. */
  readonly name: string;
  /** The parent type. */
  readonly parent: ResourceType;
  /** The child types, one entry per type, in the order given. */
  readonly children: readonly ChildConfig[];
  /** The only namespace watched, or `undefined` for all. */
  readonly namespace: string | undefined;
  /** The tracking label name (value: parent uid). */
  readonly trackingLabel: string;
  /** The ownership label name (value: operator name). */
  readonly ownershipLabel: string;
  /** The finalizer name, or `undefined` when parents get no finalizer. */
  readonly finalizer: string | undefined;
  /** The HTTP server, or `undefined` when disabled or when it would serve nothing. */
  readonly server: ServerConfig | undefined;
  /** The longest delay between retries of a failing sync, in ms. */
  readonly maxErrorBackoffMs: number;
  /** The periodic resync of every parent, in ms; 0 = off. */
  readonly resyncPeriodMs: number;
  /** The most syncs running at once. */
  readonly concurrency: number;
  /** The handler timeout, in ms. */
  readonly syncTimeoutMs: number;
  /** The watch idle timeout, in ms. */
  readonly watchIdleTimeoutMs: number;
  /** The periodic relist, in ms; 0 = off. */
  readonly relistPeriodMs: number;
  /** How long a watch may fail before `/ready` answers 503, in ms. */
  readonly readinessGraceMs: number;
  /** The parent label selector, or `undefined` for every parent. */
  readonly parentLabelSelector: string | undefined;
  /** Leader election, or `undefined` when every instance syncs. */
  readonly leaderElection: LeaderElectionConfig | undefined;
  /** Whether Events are recorded on parents. */
  readonly events: boolean;
  /** The user's cache transform, or `undefined` for the built-in pruning only. */
  readonly transform: CacheTransform | undefined;
}

/** The default tracking label name; its value on a child is the parent's uid. */
export const DEFAULT_TRACKING_LABEL = "app.kubernetes.io/instance";
/** The default ownership label name; its value on a child is the operator name. */
export const DEFAULT_OWNERSHIP_LABEL = "app.kubernetes.io/managed-by";
/** The prefix of the default finalizer, `"roperator.dev/<name>"`. */
export const DEFAULT_FINALIZER_PREFIX = "roperator.dev";

/** Options for {@linkcode OperatorConfigError}. */
export interface OperatorConfigErrorOptions extends ErrorOptions {
  /** The path of the offending field, for example `children[1].type` or `server.port`. */
  field: string;
}

/**
 * Thrown by {@linkcode operatorConfig} when a field is invalid. The message has the form
 * `Cannot configure operator "<name>": <field>: <detail>`.
 *
 * @example
 * ```ts
 * import { operatorConfig, OperatorConfigError } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * try {
 *   operatorConfig({ name: "demo", parent: k8s.apps.v1.Deployment, concurrency: 0 });
 * } catch (error) {
 *   if (error instanceof OperatorConfigError) console.error(error.field); // "concurrency"
 * }
 * ```
 */
export class OperatorConfigError extends TypeError {
  /** The path of the offending field, for example `children[1].type`. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param message the whole message, `Cannot configure operator "<name>": <field>: <detail>`
   * @param options the offending field and the underlying cause
   */
  constructor(message: string, options: OperatorConfigErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OperatorConfigError";
    this.field = options.field;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The longest delay `setTimeout` honours; longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const STRATEGIES: readonly UpdateStrategy[] = ["Replace", "Recreate", "OnDelete", "Apply"];
const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "name",
  "parent",
  "children",
  "namespace",
  "trackingLabel",
  "ownershipLabel",
  "finalizer",
  "server",
  "maxErrorBackoffMs",
  "resyncPeriodMs",
  "concurrency",
  "syncTimeoutMs",
  "watchIdleTimeoutMs",
  "relistPeriodMs",
  "readinessGraceMs",
  "parentLabelSelector",
  "leaderElection",
  "events",
  "transform",
]);
const KNOWN_LEADER_ELECTION_FIELDS: ReadonlySet<string> = new Set([
  "leaseName",
  "namespace",
  "identity",
  "leaseDurationMs",
  "renewDeadlineMs",
  "retryPeriodMs",
  "onLost",
]);
const KNOWN_SERVER_FIELDS: ReadonlySet<string> = new Set(["port", "hostname", "health", "metrics"]);

/** Why `value` is not a qualified name (`[prefix/]name`), or `undefined` when it is one. */
function qualifiedNameProblem(value: string): string | undefined {
  const parts = value.split("/");
  if (parts.length > 2) return "must have at most one '/'";
  const name = parts.length === 2 ? parts[1] ?? "" : value;
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix.length === 0) return "the prefix before '/' must not be empty";
    if (prefix.length > 253) return "the prefix must be at most 253 characters";
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return `the prefix "${prefix}" must be a lower-case DNS subdomain`;
    }
  }
  if (name.length === 0) return "the name part must not be empty";
  if (name.length > 63) return "the name part must be at most 63 characters";
  if (!QUALIFIED_NAME_PART.test(name)) {
    return `the name part "${name}" must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`;
  }
  return undefined;
}

/** Splits a selector on the commas outside parentheses. */
function splitSelector(selector: string): string[] | undefined {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    if (depth < 0 || depth > 1) return undefined;
    if (c === "," && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  terms.push(selector.slice(start));
  return terms;
}

/** Why `selector` is not a valid label selector, or `undefined` when it is one. */
function labelSelectorProblem(selector: string): string | undefined {
  const terms = splitSelector(selector);
  if (terms === undefined) return "has unbalanced parentheses";
  for (const raw of terms) {
    const term = raw.trim();
    if (term === "") return "has an empty requirement (check the commas)";
    let key: string;
    let values: string[] = [];
    let match: RegExpExecArray | null;
    if ((match = /^!\s*(\S+)$/.exec(term))) {
      key = match[1] ?? "";
    } else if ((match = /^([^\s!=<>(),]+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
      key = match[1] ?? "";
      values = (match[3] ?? "").split(",").map((v) => v.trim());
      if (values.length === 1 && values[0] === "") {
        return `requirement "${term}": the set of values must not be empty`;
      }
    } else if ((match = /^([^\s!=<>(),]+)\s*(==|=|!=)\s*([^\s!=<>(),]*)$/.exec(term))) {
      key = match[1] ?? "";
      values = [match[3] ?? ""];
    } else if ((match = /^([^\s!=<>(),]+)\s*([<>])\s*(\S+)$/.exec(term))) {
      key = match[1] ?? "";
      if (!/^-?\d+$/.test(match[3] ?? "")) {
        return `requirement "${term}": '${match[2]}' needs an integer value`;
      }
    } else if (/^[^\s!=<>(),]+$/.test(term)) {
      key = term;
    } else {
      return `requirement "${term}" is not "key", "!key", "key=value", "key!=value", "key in (a,b)", "key notin (a,b)", "key>n" or "key<n"`;
    }
    const keyProblem = qualifiedNameProblem(key);
    if (keyProblem !== undefined) return `requirement "${term}": key "${key}": ${keyProblem}`;
    for (const value of values) {
      if (value.length > 63 || !LABEL_VALUE.test(value)) {
        return `requirement "${term}": "${value}" is not a valid label value`;
      }
    }
  }
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** Builds the resolved config while reporting problems with the operator's name in them. */
class Validator {
  #operator: string;

  constructor(operator: string) {
    this.#operator = operator;
  }

  fail(field: string, detail: string): never {
    throw new OperatorConfigError(
      `Cannot configure operator ${this.#operator}: ${field}: ${detail}`,
      { field },
    );
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string") this.fail(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  boolean(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") this.fail(field, `must be a boolean, got ${describe(value)}`);
    return value;
  }

  labelKey(value: unknown, field: string, fallback: string): string {
    if (value === undefined) return fallback;
    const key = this.string(value, field);
    const problem = qualifiedNameProblem(key);
    if (problem !== undefined) {
      this.fail(field, `"${key}" is not a valid label key: ${problem}`);
    }
    return key;
  }

  /** A duration in ms: finite, at most the longest timer delay, positive (or 0 if allowed). */
  duration(value: unknown, field: string, fallback: number, options: { zeroOff?: boolean } = {}) {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      this.fail(field, `must be a finite number of milliseconds, got ${describe(value)}`);
    }
    if (options.zeroOff ? value < 0 : value <= 0) {
      this.fail(
        field,
        options.zeroOff
          ? `must be positive, or 0 to turn it off, got ${value}`
          : `must be positive, got ${value}`,
      );
    }
    if (value > MAX_TIMER_MS) {
      this.fail(
        field,
        `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), the longest timer delay, got ${value}`,
      );
    }
    return value;
  }

  resourceType(value: unknown, field: string): ResourceType {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(field, `must be a ResourceType, got ${describe(value)}`);
    }
    const type = value as Partial<Record<keyof ResourceType, unknown>>;
    for (const key of ["apiVersion", "kind", "plural"] as const) {
      if (typeof type[key] !== "string" || type[key] === "") {
        this.fail(`${field}.${key}`, `must be a non-empty string, got ${describe(type[key])}`);
      }
    }
    if (typeof type.namespaced !== "boolean") {
      this.fail(`${field}.namespaced`, `must be a boolean, got ${describe(type.namespaced)}`);
    }
    return value as ResourceType;
  }
}

function resolveChildren(
  v: Validator,
  init: OperatorConfigInit,
  parent: ResourceType,
): readonly ChildConfig[] {
  const raw = init.children;
  if (raw === undefined) return Object.freeze([]);
  let entries: unknown[];
  if (Array.isArray(raw)) {
    entries = raw;
  } else if (raw instanceof Map) {
    entries = [...raw].map(([type, updateStrategy]) => ({ type, updateStrategy }));
  } else {
    v.fail(
      "children",
      `must be an array of { type, updateStrategy } or a Map, got ${describe(raw)}`,
    );
  }
  const seen = new Map<string, number>();
  const parentKey = typeKey(parent);
  return Object.freeze(entries.map((entry, i) => {
    const field = `children[${i}]`;
    if (typeof entry !== "object" || entry === null) {
      v.fail(field, `must be { type, updateStrategy }, got ${describe(entry)}`);
    }
    const child = entry as Partial<Record<keyof ChildConfig, unknown>>;
    const type = v.resourceType(child.type, `${field}.type`);
    const key = typeKey(type);
    if (key === parentKey) {
      v.fail(`${field}.type`, `${key} is the parent type; it cannot also be a child type`);
    }
    const previous = seen.get(key);
    if (previous !== undefined) {
      v.fail(`${field}.type`, `${key} is already configured by children[${previous}]`);
    }
    seen.set(key, i);
    const strategy = child.updateStrategy;
    if (!STRATEGIES.includes(strategy as UpdateStrategy)) {
      v.fail(
        `${field}.updateStrategy`,
        `must be "Replace", "Recreate", "OnDelete" or "Apply", got ${describe(strategy)}`,
      );
    }
    return Object.freeze({ type, updateStrategy: strategy as UpdateStrategy });
  }));
}

function resolveServer(v: Validator, raw: unknown): ServerConfig | undefined {
  if (raw === false) return undefined;
  if (raw === undefined) raw = {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    v.fail("server", `must be an object or false, got ${describe(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_SERVER_FIELDS.has(key)) {
      v.fail(`server.${key}`, "is not an option (expected port, hostname, health or metrics)");
    }
  }
  const init = raw as Record<string, unknown>;
  let port = 8080;
  if (init.port !== undefined) {
    if (
      typeof init.port !== "number" || !Number.isInteger(init.port) || init.port < 0 ||
      init.port > 65535
    ) {
      v.fail("server.port", `must be an integer from 0 to 65535, got ${describe(init.port)}`);
    }
    port = init.port;
  }
  let hostname = "0.0.0.0";
  if (init.hostname !== undefined) {
    hostname = v.string(init.hostname, "server.hostname");
    if (hostname.trim() === "" || /\s/.test(hostname)) {
      v.fail("server.hostname", `must be a host name or address, got ${describe(hostname)}`);
    }
  }
  const health = v.boolean(init.health, "server.health", true);
  const metrics = v.boolean(init.metrics, "server.metrics", true);
  if (!health && !metrics) return undefined;
  return Object.freeze({ port, hostname, health, metrics });
}

function resolveLeaderElection(
  v: Validator,
  raw: unknown,
  name: string,
  namespace: string | undefined,
): LeaderElectionConfig | undefined {
  if (raw === undefined || raw === false) return undefined;
  if (raw === true) raw = {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    v.fail("leaderElection", `must be an object or a boolean, got ${describe(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_LEADER_ELECTION_FIELDS.has(key)) {
      v.fail(
        `leaderElection.${key}`,
        "is not an option (expected leaseName, namespace, identity, leaseDurationMs, renewDeadlineMs, retryPeriodMs or onLost)",
      );
    }
  }
  const init = raw as Record<string, unknown>;
  let leaseName = `${name}-leader`;
  if (init.leaseName !== undefined) {
    leaseName = v.string(init.leaseName, "leaderElection.leaseName");
    if (leaseName.length > 253 || !DNS_SUBDOMAIN.test(leaseName)) {
      v.fail("leaderElection.leaseName", `"${leaseName}" is not a valid name (a DNS subdomain)`);
    }
  }
  let leaseNamespace = namespace;
  if (init.namespace !== undefined) {
    leaseNamespace = v.string(init.namespace, "leaderElection.namespace");
    if (leaseNamespace.length > 63 || !DNS_LABEL.test(leaseNamespace)) {
      v.fail(
        "leaderElection.namespace",
        `"${leaseNamespace}" is not a valid namespace name (a DNS-1123 label)`,
      );
    }
  }
  let identity: string | undefined;
  if (init.identity !== undefined) {
    identity = v.string(init.identity, "leaderElection.identity");
    if (identity.length === 0 || identity.length > 128) {
      v.fail("leaderElection.identity", "must be 1 to 128 characters");
    }
  }
  const leaseDurationMs = v.duration(
    init.leaseDurationMs,
    "leaderElection.leaseDurationMs",
    15_000,
  );
  const renewDeadlineMs = v.duration(
    init.renewDeadlineMs,
    "leaderElection.renewDeadlineMs",
    10_000,
  );
  const retryPeriodMs = v.duration(init.retryPeriodMs, "leaderElection.retryPeriodMs", 2_000);
  if (leaseDurationMs < 1000) {
    v.fail("leaderElection.leaseDurationMs", `must be at least 1000 ms, got ${leaseDurationMs}`);
  }
  if (renewDeadlineMs >= leaseDurationMs) {
    v.fail(
      "leaderElection.renewDeadlineMs",
      `must be shorter than leaseDurationMs (${leaseDurationMs}), so that the leader stops before another can take the Lease, got ${renewDeadlineMs}`,
    );
  }
  if (retryPeriodMs * 1.2 >= renewDeadlineMs) {
    v.fail(
      "leaderElection.retryPeriodMs",
      `must be shorter than renewDeadlineMs (${renewDeadlineMs}) / 1.2, so that a renewal can be retried in time, got ${retryPeriodMs}`,
    );
  }
  const onLost = init.onLost ?? "exit";
  if (onLost !== "exit" && onLost !== "stepDown") {
    v.fail("leaderElection.onLost", `must be "exit" or "stepDown", got ${describe(onLost)}`);
  }
  return Object.freeze({
    leaseName,
    namespace: leaseNamespace,
    identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    onLost,
  });
}

/**
 * Validates an operator configuration, fills in the defaults and freezes it.
 *
 * A namespaced parent may have cluster-scoped children and the other way round; any update
 * strategy, `"Apply"` included, suits any type.
 *
 * @example
 * ```ts
 * import { operatorConfig } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * import { resourceType } from "../client/resource_type.ts";
 *
 * const EchoServer = resourceType({
 *   apiVersion: "example.roperator.dev/v1alpha1",
 *   kind: "EchoServer",
 *   plural: "echoservers",
 *   namespaced: true,
 * });
 * const config = operatorConfig({
 *   name: "echo-server",
 *   parent: EchoServer,
 *   children: [
 *     { type: k8s.core.v1.Pod, updateStrategy: "Recreate" },
 *     { type: k8s.core.v1.Service, updateStrategy: "Replace" },
 *   ],
 * });
 * config.finalizer; // "roperator.dev/echo-server"
 * ```
 *
 * @param init the configuration as written by the user
 * @returns the resolved, frozen configuration
 * @throws {OperatorConfigError} naming the first invalid field
 */
export function operatorConfig(init: OperatorConfigInit): OperatorConfig {
  if (typeof init !== "object" || init === null) {
    throw new OperatorConfigError(
      `Cannot configure operator: config: must be an object, got ${describe(init)}`,
      { field: "config" },
    );
  }
  const rawName: unknown = init.name;
  const v: Validator = new Validator(
    typeof rawName === "string" ? JSON.stringify(rawName) : "(unnamed)",
  );
  const name = v.string(rawName, "name");
  if (name.length === 0 || name.length > 63 || !DNS_LABEL.test(name)) {
    v.fail(
      "name",
      "must be a DNS-1123 label: 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit",
    );
  }
  for (const key of Object.keys(init)) {
    if (!KNOWN_FIELDS.has(key)) v.fail(key, "is not an option");
  }

  const parent = v.resourceType(init.parent, "parent");
  const children = resolveChildren(v, init, parent);

  let namespace: string | undefined;
  if (init.namespace !== undefined) {
    namespace = v.string(init.namespace, "namespace");
    if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
      v.fail("namespace", `"${namespace}" is not a valid namespace name (a DNS-1123 label)`);
    }
  }

  const trackingLabel = v.labelKey(init.trackingLabel, "trackingLabel", DEFAULT_TRACKING_LABEL);
  const ownershipLabel = v.labelKey(init.ownershipLabel, "ownershipLabel", DEFAULT_OWNERSHIP_LABEL);
  if (trackingLabel === ownershipLabel) {
    v.fail("ownershipLabel", `must differ from trackingLabel ("${trackingLabel}")`);
  }

  let finalizer: string | undefined;
  const rawFinalizer: unknown = init.finalizer;
  if (rawFinalizer === undefined || rawFinalizer === true) {
    finalizer = `${DEFAULT_FINALIZER_PREFIX}/${name}`;
  } else if (typeof rawFinalizer === "string") {
    const problem = qualifiedNameProblem(rawFinalizer);
    if (problem !== undefined) {
      v.fail("finalizer", `"${rawFinalizer}" is not a qualified name: ${problem}`);
    }
    finalizer = rawFinalizer;
  } else if (rawFinalizer !== false) {
    v.fail("finalizer", `must be a boolean or a string, got ${describe(rawFinalizer)}`);
  }

  const server = resolveServer(v, init.server);
  const maxErrorBackoffMs = v.duration(init.maxErrorBackoffMs, "maxErrorBackoffMs", 600_000);
  const resyncPeriodMs = v.duration(init.resyncPeriodMs, "resyncPeriodMs", 36_000_000, {
    zeroOff: true,
  });
  const syncTimeoutMs = v.duration(init.syncTimeoutMs, "syncTimeoutMs", 60_000);
  const watchIdleTimeoutMs = v.duration(init.watchIdleTimeoutMs, "watchIdleTimeoutMs", 70_000);
  const relistPeriodMs = v.duration(init.relistPeriodMs, "relistPeriodMs", 1_800_000, {
    zeroOff: true,
  });
  const readinessGraceMs = v.duration(init.readinessGraceMs, "readinessGraceMs", 60_000);

  let concurrency = 8;
  if (init.concurrency !== undefined) {
    const value: unknown = init.concurrency;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      v.fail("concurrency", `must be an integer of at least 1, got ${describe(value)}`);
    }
    concurrency = value;
  }

  let parentLabelSelector: string | undefined;
  if (init.parentLabelSelector !== undefined) {
    parentLabelSelector = v.string(init.parentLabelSelector, "parentLabelSelector").trim();
    if (parentLabelSelector === "") {
      v.fail("parentLabelSelector", "must not be empty (omit it to sync every parent)");
    }
    const problem = labelSelectorProblem(parentLabelSelector);
    if (problem !== undefined) v.fail("parentLabelSelector", problem);
  }

  const leaderElection = resolveLeaderElection(v, init.leaderElection, name, namespace);
  const events = v.boolean(init.events, "events", true);
  let transform: CacheTransform | undefined;
  if (init.transform !== undefined) {
    if (typeof init.transform !== "function") {
      v.fail("transform", `must be a function, got ${describe(init.transform)}`);
    }
    transform = init.transform;
  }

  return Object.freeze({
    name,
    parent,
    children,
    namespace,
    trackingLabel,
    ownershipLabel,
    finalizer,
    server,
    maxErrorBackoffMs,
    resyncPeriodMs,
    concurrency,
    syncTimeoutMs,
    watchIdleTimeoutMs,
    relistPeriodMs,
    readinessGraceMs,
    parentLabelSelector,
    leaderElection,
    events,
    transform,
  });
}

/**
 * The configuration of a child type.
 *
 * @example
 * ```ts
 * import { childConfigFor, operatorConfig } from "./operator_config.ts";
 * import { k8s } from "./resource_types.ts";
 * const config = operatorConfig({
 *   name: "demo",
 *   parent: k8s.apps.v1.Deployment,
 *   children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Apply" }],
 * });
 * childConfigFor(config, "v1/ConfigMap")?.updateStrategy; // "Apply"
 * ```
 *
 * @param config the resolved configuration
 * @param type a type key (`"<apiVersion>/<kind>"`, see `typeKey`) or anything with `apiVersion`
 * and `kind`, such as a resource type or a child object
 * @returns the child configuration, or `undefined` when the type is not a configured child type
 */
export function childConfigFor(
  config: OperatorConfig,
  type: string | Pick<ResourceType, "apiVersion" | "kind"> | KubernetesObject,
): ChildConfig | undefined {
  let key: string;
  if (typeof type === "string") {
    key = type;
  } else {
    if (type.apiVersion === undefined || type.kind === undefined) return undefined;
    key = typeKey({ apiVersion: type.apiVersion, kind: type.kind });
  }
  return config.children.find((child) => typeKey(child.type) === key);
}
