/**
 * The health and metrics HTTP server of an operator: the options as written
 * ({@linkcode ServerConfigInit}), resolved ({@linkcode ServerConfig}), and their validation.
 *
 * @module
 */
import { describe, type Validator } from "./validate.ts";

/** The HTTP server options of `OperatorConfigInit` (its `server` field). */
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

const KNOWN_SERVER_FIELDS: ReadonlySet<string> = new Set(["port", "hostname", "health", "metrics"]);

/** Validates `server` of the operator config; `undefined` when it is off or would serve nothing. */
export function resolveServer(v: Validator, raw: unknown): ServerConfig | undefined {
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
