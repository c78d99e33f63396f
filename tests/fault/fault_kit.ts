/**
 * Shared set-up of the fault suite: a LogTape memory sink that keeps every debug line (to show on
 * a timeout and to prove that no secret is ever logged), an unhandled-rejection counter, the
 * suite's control plane and namespaces, and metric helpers. It re-exports what the suite shares
 * with `tools/soak.ts` from `tools/fault/`: the fault operator (its parent type and handler),
 * the check that every desired child exists exactly once and complete, and the retrying of
 * requests under faults.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { KubeClient } from "../../client/kube_client.ts";
import { sleep } from "../../client/_util.ts";
import { ResourceClient } from "../../client/resource_client.ts";
import { k8s } from "../../config/resource_types.ts";
import {
  type OperatorConfig,
  operatorConfig,
  type OperatorConfigInit,
} from "../../config/operator_config.ts";
import { parsePrometheusText, type PrometheusSample } from "../../testkit/prometheus_text.ts";
import {
  type ControlPlane,
  type ControlPlaneOptions,
  startControlPlane,
} from "../../testkit/control_plane.ts";
import { testControlPlane } from "../../testkit/shared_control_plane.ts";
import {
  installCustomResourceDefinitions,
  testCustomResourceDefinition,
} from "../../testkit/crds.ts";
import {
  desiredChildren,
  faultConfigInit,
  faultHandler,
  FaultParent,
  type FaultParentObject,
  type FaultSpec,
  type FaultStatus,
  OPERATOR_NAME,
} from "../../tools/fault/fault_operator.ts";
import { createRetrying } from "../../tools/fault/retrying.ts";

export { checkConvergence, type Convergence } from "../../tools/fault/convergence.ts";
export { createRetrying, isTransient, retrying } from "../../tools/fault/retrying.ts";
export {
  desiredChildren,
  faultHandler,
  FaultParent,
  type FaultParentObject,
  type FaultSpec,
  type FaultStatus,
  OPERATOR_NAME,
};

/**
 * The operator config of the suite: the FaultParent with ConfigMap children, confined to a
 * namespace, no HTTP server unless asked, short backoff so faults heal within a test.
 *
 * @param namespace the namespace to confine it to
 * @param init overrides
 * @returns the config
 */
export function faultConfig(
  namespace: string,
  init: Partial<OperatorConfigInit> = {},
): OperatorConfig {
  return operatorConfig({ ...faultConfigInit, namespace, server: false, ...init });
}

/**
 * The base64 of a string's UTF-8 bytes, as a Secret's `data` holds it.
 *
 * @param value the text
 * @returns its base64
 */
export function toBase64(value: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function render(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) {
    return `${value.name}: ${value.message}${
      value.cause ? ` (cause: ${render(value.cause)})` : ""
    }`;
  }
  try {
    return JSON.stringify(
      value,
      (_key, v) => v instanceof Error ? { name: v.name, message: v.message, cause: v.cause } : v,
    ) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Every log line of the runtime at debug level, kept in memory: the whole message and every
 * structured property, so that a secret hidden in a property is found too.
 */
export class LogCapture {
  /** The lines, oldest first. */
  readonly lines: string[] = [];
  readonly #sensitive = new Map<string, string>();

  /**
   * Configures LogTape to send the `roperator` category, from debug up, to this capture.
   *
   * @returns the capture
   */
  static async start(): Promise<LogCapture> {
    const capture = new LogCapture();
    await configure({
      sinks: { memory: (record: LogRecord) => capture.#add(record) },
      loggers: [
        { category: ["roperator"], lowestLevel: "debug", sinks: ["memory"] },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
      ],
    });
    return capture;
  }

  #add(record: LogRecord): void {
    const message = record.message.map(render).join("");
    const properties = Object.keys(record.properties).length ? render(record.properties) : "";
    this.lines.push(
      `${new Date(record.timestamp).toISOString()} ${record.level} ${
        record.category.join(".")
      } ${message} ${properties}`,
    );
  }

  /**
   * The last lines, for a failure message.
   *
   * @param count how many
   * @returns the lines joined by newlines
   */
  recent(count = 60): string {
    return this.lines.slice(-count).join("\n");
  }

  /**
   * The warnings and errors logged since line `from`, grouped by message with names, numbers and
   * quoted values blanked out, most frequent first: what a fault made the operator report.
   *
   * @param from the first line to look at (`lines.length` before the fault)
   * @returns one line per kind, with its count
   */
  summary(from = 0): string {
    const kinds = new Map<string, number>();
    for (const line of this.lines.slice(from)) {
      const match = /^\S+ (warning|error|fatal) (\S+) (.*?) ?(\{.*)?$/.exec(line);
      if (!match) continue;
      const kind = `${match[1]} ${match[2]} ${match[3]}`
        .replace(/"[^"]*"/g, '"…"')
        .replace(/fault-[a-z0-9-]+(\/[a-z0-9-]+)?/g, "NS/NAME")
        .replace(/\d+/g, "N");
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    return [...kinds].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n}× ${kind}`).join(
      "\n",
    );
  }

  /**
   * Counts lines matching a pattern.
   *
   * @param pattern what to look for
   * @returns the number of matching lines
   */
  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }

  /**
   * Registers a value that must never be logged: checked as is and base64-encoded.
   *
   * @param label what it is, for the failure message (the value itself is never printed)
   * @param value the secret
   */
  sensitive(label: string, value: string): void {
    if (value.length >= 8) this.#sensitive.set(value, label);
  }

  /**
   * Throws when a registered secret (or its base64) appears in any line, naming the secret's
   * label and the line's position but never the value.
   *
   * @returns the number of lines and secrets checked
   */
  assertNoSecrets(): { lines: number; secrets: number } {
    const found: string[] = [];
    for (const [value, label] of this.#sensitive) {
      const forms = [value, toBase64(value)];
      this.lines.forEach((line, i) => {
        if (forms.some((form) => line.includes(form))) found.push(`${label} in log line ${i}`);
      });
    }
    if (found.length) {
      throw new Error(`Cannot pass the log check: secrets were logged: ${found.join(", ")}`);
    }
    return { lines: this.lines.length, secrets: this.#sensitive.size };
  }

  /** Stops capturing. */
  async stop(): Promise<void> {
    await reset();
  }
}

/** Counts unhandled promise rejections in this isolate instead of letting them end the run. */
export class RejectionCounter {
  /** The rejection reasons seen. */
  readonly reasons: unknown[] = [];
  readonly #listener = (event: PromiseRejectionEvent) => {
    this.reasons.push(event.reason);
    event.preventDefault();
  };

  /** Starts counting. */
  constructor() {
    globalThis.addEventListener("unhandledrejection", this.#listener);
  }

  /** How many were seen. */
  get count(): number {
    return this.reasons.length;
  }

  /**
   * The reasons, for a failure message.
   *
   * @returns one line per reason
   */
  describe(): string {
    return this.reasons.map((r) => render(r)).join("\n");
  }

  /** Stops counting. */
  stop(): void {
    globalThis.removeEventListener("unhandledrejection", this.#listener);
  }
}

/** What a fault test file shares between its tests. */
export interface FaultSuite {
  /** The control plane. */
  cp: ControlPlane;
  /** An admin client. */
  admin: KubeClient;
  /** Every runtime log line. */
  logs: LogCapture;
  /** Unhandled rejections. */
  rejections: RejectionCounter;
  /**
   * Creates a namespace of its own for a test.
   *
   * @param tag a short word in its name
   * @returns the namespace
   */
  namespace(tag: string): Promise<string>;
  /**
   * Waits until `probe` returns something other than `undefined` or `false`.
   *
   * @param what what is awaited, for the error
   * @param probe the check; errors count as "not yet"
   * @param timeoutMs how long to wait (default 60 000 ms)
   * @returns the probe's value
   */
  eventually<T>(
    what: string,
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs?: number,
  ): Promise<T>;
  /**
   * Checks that no secret was logged and no promise rejection went unhandled in the whole file,
   * then stops the control plane and the capture (also when a check fails).
   */
  close(): Promise<void>;
}

/** Options for {@linkcode openSuite}. */
export interface OpenSuiteOptions {
  /** Start a control plane of its own with these options, instead of the shared one. */
  privateControlPlane?: ControlPlaneOptions;
}

let namespaces = 0;

/**
 * Starts what a fault test file needs: logs, the rejection counter, the control plane (shared
 * unless `privateControlPlane`), an admin client and the FaultParent CRD.
 *
 * @param options a private control plane's options
 * @returns the suite; `close()` it in `afterAll`
 */
export async function openSuite(options: OpenSuiteOptions = {}): Promise<FaultSuite> {
  const logs = await LogCapture.start();
  const rejections = new RejectionCounter();
  const cp = options.privateControlPlane
    ? await startControlPlane(options.privateControlPlane)
    : await testControlPlane();
  logs.sensitive("the admin token", cp.adminToken);
  const adminKey = cp.kubeconfig.users[0]?.user["client-key-data"];
  if (adminKey) {
    logs.sensitive("the admin client key (base64)", adminKey);
    const pem = atob(adminKey).split("\n").filter((l) => l && !l.startsWith("-----"));
    if (pem[0]) logs.sensitive("the admin client key (PEM line)", pem[0]);
  }
  const admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(FaultParent)]);
  const eventually = async <T>(
    what: string,
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs = 60_000,
  ): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      let value: T | undefined | false;
      try {
        value = await probe();
      } catch {
        value = undefined;
      }
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for ${what}; the last runtime logs:\n${logs.recent()}`,
        );
      }
      await sleep(100);
    }
  };
  return {
    cp,
    admin,
    logs,
    rejections,
    async namespace(tag: string): Promise<string> {
      const name = `fault-${tag}-${Date.now().toString(36)}-${namespaces++}`;
      await createRetrying(new ResourceClient(admin, k8s.core.v1.Namespace), {
        metadata: { name },
      });
      return name;
    },
    eventually,
    async close(): Promise<void> {
      try {
        const checked = logs.assertNoSecrets();
        console.log(
          `log check: ${checked.lines} debug lines, ${checked.secrets} secrets, none logged; ` +
            `${rejections.count} unhandled rejections`,
        );
        if (rejections.count) {
          throw new Error(`Cannot pass: unhandled rejections:\n${rejections.describe()}`);
        }
      } finally {
        rejections.stop();
        admin.close();
        await cp.stop();
        await logs.stop();
      }
    },
  };
}

/**
 * Sums the samples of a metric whose labels include `labels`.
 *
 * @param samples parsed samples
 * @param name the sample name
 * @param labels labels that must match
 * @returns the sum (0 when none match)
 */
export function metricSum(
  samples: readonly PrometheusSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) =>
      s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value)
    )
    .reduce((sum, s) => sum + s.value, 0);
}

/**
 * Reads an operator's `/metrics` over HTTP.
 *
 * @param port the operator's HTTP port
 * @returns the parsed samples
 */
export async function scrapeOperator(port: number): Promise<PrometheusSample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return parsePrometheusText(await res.text());
}

/**
 * Reads kube-apiserver's own `/metrics`.
 *
 * @param cp the control plane
 * @returns the parsed samples
 */
export async function scrapeApiServer(cp: ControlPlane): Promise<PrometheusSample[]> {
  const res = await cp.adminFetch("/metrics", { headers: { Accept: "text/plain" } });
  return parsePrometheusText(await res.text());
}

/**
 * A percentile of some numbers.
 *
 * @param values the numbers
 * @param p the percentile, 0 to 100
 * @returns the value (NaN when empty)
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A small seeded random generator (mulberry32), so a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits `ms` milliseconds (the shared helper, for the fault tests). */
export { sleep } from "../../client/_util.ts";

export { createObjects } from "../../testkit/service_account.ts";
