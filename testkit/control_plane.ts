/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver (RBAC on, service-account
 * tokens working) and kube-controller-manager (garbage collector, namespace and
 * service-account controllers) on free loopback ports, in a temporary directory.
 *
 * ```ts ignore
 * import { startControlPlane } from "@roperator/core/testkit";
 * await using cp = await startControlPlane();
 * console.log(cp.server, cp.kubeconfigPath, `${cp.startupMs} ms`);
 * ```
 *
 * @module
 */
import { dump as toYaml } from "js-yaml";
import type { ClientConfig } from "../client/client_config.ts";
import { sleep } from "../client/_util.ts";
import {
  type ControlPlaneBinaries,
  type EnsureBinariesOptions,
  ensureControlPlaneBinaries,
  WITHOUT_CONTROLLER_MANAGER,
} from "./binaries.ts";
import { createCertificateAuthority, createSigningKey, issueCertificate } from "./certs.ts";
import { freePort, logTail, type ManagedProcess, spawn, stopProcess } from "./managed_process.ts";
import { makeControlPlane } from "./control_plane_handle.ts";

/** Options for {@linkcode startControlPlane}. */
export interface ControlPlaneOptions {
  /** A directory searched first for the binaries. */
  binDir?: string;
  /**
   * How the binaries are found, downloaded or built (see `ensureControlPlaneBinaries`): the
   * environment read, the cache, the download index, the Go command. Default: the process's
   * environment and the default cache.
   */
  binaries?: Omit<EnsureBinariesOptions, "need" | "binDir">;
  /**
   * Run kube-controller-manager (its garbage collector, namespace and service-account
   * controllers): `true` requires it, `false` leaves it out, and by default it runs when it can
   * be found or built with Go, else the control plane starts without it and says what is lost
   * (garbage collection of children, namespace deletion, service-account tokens in new
   * namespaces).
   */
  controllerManager?: boolean;
  /** How long to wait for readiness, in milliseconds (default 90 000). */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, such as `--watch-cache=false`. */
  apiServerArgs?: string[];
  /** Users that get a static bearer token (`--token-auth-file`), by name. */
  tokenUsers?: ReadonlyArray<{ name: string; groups?: string[] }>;
  /** Keep the directory (logs, certificates) after `stop()`, for debugging. */
  keepDir?: boolean;
}

/** Credentials of a user of the test control plane. */
export interface UserCredentials {
  /** The user name. */
  name: string;
  /** The groups. */
  groups: string[];
  /** A client certificate for the user, signed by the cluster's client CA. */
  certificate: string;
  /** Its private key, PEM. */
  key: string;
  /** A static bearer token, when the user was named in `tokenUsers`. */
  token?: string;
  /** A kubeconfig file that authenticates with the certificate. */
  kubeconfigPath: string;
}

/** The admin kubeconfig as an object. */
export interface AdminKubeconfig {
  /** Always `v1`. */
  apiVersion: string;
  /** Always `Config`. */
  kind: string;
  /** The one cluster. */
  clusters: Array<{ name: string; cluster: Record<string, string> }>;
  /** The admin user. */
  users: Array<{ name: string; user: Record<string, string> }>;
  /** The one context. */
  contexts: Array<{ name: string; context: Record<string, string> }>;
  /** The context's name. */
  "current-context": string;
}

/** The state of a running control plane, written to `control-plane.json` in its directory. */
export interface ControlPlaneState {
  /** The API server's URL. */
  server: string;
  /** The temporary directory. */
  dir: string;
  /** The etcd client URL. */
  etcdUrl: string;
  /** Path of the admin kubeconfig. */
  kubeconfigPath: string;
  /** The serving CA certificate, PEM. */
  caCertificate: string;
  /** A static bearer token of the admin user (group system:masters). */
  adminToken: string;
  /** Static tokens of `tokenUsers`, by name. */
  tokens: Record<string, string>;
  /** Milliseconds from the call to a ready cluster. */
  startupMs: number;
}

/** A running control plane. */
export interface ControlPlane extends ControlPlaneState, AsyncDisposable {
  /** The admin kubeconfig as an object (client certificate and key inlined). */
  readonly kubeconfig: AdminKubeconfig;
  /** A client config for the admin (its static token), for `KubeClient` or `startOperator`. */
  readonly clientConfig: ClientConfig;
  /** The process ids, for tests that need to signal them. */
  readonly pids: Readonly<Record<string, number>>;
  /**
   * Mints credentials for a user: a client certificate (CN = name, O = groups), and the static
   * token when the user was named in `tokenUsers`.
   */
  mintUser(name: string, options?: { groups?: string[] }): Promise<UserCredentials>;
  /** Requests a bound token for a service account through the TokenRequest API. */
  serviceAccountToken(
    namespace: string,
    name: string,
    options?: { expirationSeconds?: number; create?: boolean },
  ): Promise<string>;
  /** Sends an authenticated admin request; for tests and set-up. */
  adminFetch(path: string, init?: RequestInit): Promise<Response>;
  /**
   * Kills kube-apiserver with SIGKILL and waits until it has exited. etcd, its data and
   * kube-controller-manager keep running. Only for a control plane this process started.
   *
   * @throws {TypeError} when the control plane was attached or is stopped
   */
  killApiServer(): Promise<void>;
  /**
   * Starts kube-apiserver again after {@linkcode ControlPlane.killApiServer}, with the same port,
   * certificates, flags and etcd, and waits until `/readyz` answers ok. Does nothing when it runs.
   *
   * @returns milliseconds until it was ready
   * @throws {TypeError} when the control plane was attached or is stopped
   * @throws {ControlPlaneStartError} when it exits or is not ready in time
   */
  startApiServer(): Promise<number>;
  /**
   * {@linkcode ControlPlane.killApiServer} then {@linkcode ControlPlane.startApiServer}.
   *
   * @returns milliseconds from the kill until it was ready again
   */
  restartApiServer(): Promise<number>;
  /** Ends every process and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Thrown when the control plane cannot start. */
export class ControlPlaneStartError extends Error {
  /** The directory with the logs (kept on failure). */
  readonly dir: string;
  /**
   * Creates an error for a control plane that failed to start.
   *
   * @param message what failed
   * @param dir the directory holding the logs
   * @param options the cause
   */
  constructor(message: string, dir: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlPlaneStartError";
    this.dir = dir;
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function b64(text: string): string {
  return btoa(text);
}

let warnedWithoutKcm = false;

/**
 * Starts etcd, kube-apiserver and kube-controller-manager and waits until the API server is
 * ready and the `default` namespace exists.
 *
 * The binaries are found, downloaded or built on first use (see `ensureControlPlaneBinaries`).
 *
 * @param options binaries, timeouts and extra flags
 * @returns the running control plane; call `stop()` (or use `await using`) to end it
 * @throws {ControlPlaneStartError} when a process exits early or readiness times out
 * @throws {ControlPlaneBinariesNotFoundError} when etcd or kube-apiserver cannot be provided
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const wantKcm = options.controllerManager ?? "when-available";
  const binaries: ControlPlaneBinaries = await ensureControlPlaneBinaries({
    ...options.binaries,
    ...(options.binDir === undefined ? {} : { binDir: options.binDir }),
    need: wantKcm === false
      ? ["etcd", "kube-apiserver"]
      : ["etcd", "kube-apiserver", "kube-controller-manager"],
  });
  if (wantKcm !== false && binaries.kubeControllerManager === undefined) {
    const message = `Cannot start kube-controller-manager: it is not in KUBEBUILDER_ASSETS, ` +
      `ROPERATOR_CONTROLPLANE_DIR or the cache, and it is only built with Go (1.26 or later), ` +
      `which is missing or failed. Without it: ${WITHOUT_CONTROLLER_MANAGER}`;
    if (wantKcm === true) {
      throw new ControlPlaneStartError(
        `${message}. Pass { controllerManager: false } to run without it`,
        "",
      );
    }
    if (!warnedWithoutKcm) {
      warnedWithoutKcm = true;
      console.warn(`${message}. Starting without it.`);
    }
  }
  const started = performance.now(); // after a download or build: start-up time only
  const dir = await Deno.makeTempDir({ prefix: "roperator-controlplane-" });
  const processes: ManagedProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const proc of [...processes].reverse()) await stopProcess(proc);
    if (!options.keepDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  const fail = async (message: string, proc?: ManagedProcess): Promise<never> => {
    const tail = proc ? `\n--- last lines of ${proc.logPath}:\n${await logTail(proc)}` : "";
    for (const p of [...processes].reverse()) await stopProcess(p);
    stopped = true;
    throw new ControlPlaneStartError(`${message} (logs kept in "${dir}")${tail}`, dir);
  };

  try {
    const pki = `${dir}/pki`;
    await Deno.mkdir(pki);
    const [servingCa, clientCa] = await Promise.all([
      createCertificateAuthority(pki, "serving-ca"),
      createCertificateAuthority(pki, "client-ca"),
    ]);
    const [serving, admin, saKey] = await Promise.all([
      issueCertificate(servingCa, "apiserver", {
        commonName: "kube-apiserver",
        usage: "serverAuth",
        dnsNames: ["localhost", "kubernetes", "kubernetes.default.svc"],
        ipAddresses: ["127.0.0.1"],
      }),
      issueCertificate(clientCa, "admin", {
        commonName: "admin",
        organizations: ["system:masters"],
        usage: "clientAuth",
      }),
      createSigningKey(`${pki}/sa-signer`),
    ]);

    const adminToken = randomToken();
    const tokens: Record<string, string> = {};
    const tokenLines = [`${adminToken},admin-token,admin-token-uid,"system:masters"`];
    for (const user of options.tokenUsers ?? []) {
      const token = randomToken();
      tokens[user.name] = token;
      tokenLines.push(
        `${token},${user.name},${user.name}-uid,"${(user.groups ?? []).join(",")}"`,
      );
    }
    await Deno.writeTextFile(`${pki}/tokens.csv`, tokenLines.join("\n") + "\n");

    const etcdPort = freePort();
    const peerPort = freePort();
    const apiPort = freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const etcd = spawn("etcd", [
      binaries.etcd,
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
      "--quota-backend-bytes=4294967296",
      "--log-level=warn",
    ], dir);
    processes.push(etcd);
    while (true) {
      if (etcd.exited) await fail("Cannot start etcd: it exited", etcd);
      if (Date.now() > deadline) await fail("Cannot start etcd: not healthy in time", etcd);
      try {
        const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
        const body = await res.text();
        if (res.ok && body.includes("true")) break;
      } catch { /* not up yet */ }
      await sleep(100);
    }

    const apiServerArgv = [
      binaries.kubeApiServer,
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${pki}`,
      `--tls-cert-file=${serving.certificatePath}`,
      `--tls-private-key-file=${serving.keyPath}`,
      `--client-ca-file=${clientCa.certificatePath}`,
      `--token-auth-file=${pki}/tokens.csv`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${saKey.publicKeyPath}`,
      `--service-account-signing-key-file=${saKey.keyPath}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--disable-admission-plugins=ServiceAccount",
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      ...(options.apiServerArgs ?? []),
    ];
    const apiServer = spawn("kube-apiserver", apiServerArgv, dir);
    processes.push(apiServer);

    const httpClient = Deno.createHttpClient({ caCerts: [servingCa.certificate] });
    const adminFetch = (path: string, init: RequestInit = {}): Promise<Response> => {
      const headers = new Headers(init.headers);
      headers.set("Authorization", `Bearer ${adminToken}`);
      if (!headers.has("Accept")) headers.set("Accept", "application/json");
      return fetch(`${server}${path}`, { ...init, headers, client: httpClient });
    };
    const closeClient = () => {
      try {
        httpClient.close();
      } catch { /* closed */ }
    };

    try {
      while (true) {
        if (apiServer.exited) await fail("Cannot start kube-apiserver: it exited", apiServer);
        if (Date.now() > deadline) {
          await fail("Cannot start kube-apiserver: /readyz not ok in time", apiServer);
        }
        try {
          const res = await adminFetch("/readyz", { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          if (res.ok) break;
        } catch { /* not up yet */ }
        await sleep(200);
      }
    } catch (error) {
      closeClient();
      throw error;
    }

    const kubeconfig: AdminKubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "roperator-test",
        cluster: { server, "certificate-authority-data": b64(servingCa.certificate) },
      }],
      users: [{
        name: "admin",
        user: {
          "client-certificate-data": b64(admin.certificate),
          "client-key-data": b64(admin.key),
        },
      }],
      contexts: [{ name: "roperator-test", context: { cluster: "roperator-test", user: "admin" } }],
      "current-context": "roperator-test",
    };
    const kubeconfigPath = `${dir}/kubeconfig`;
    await Deno.writeTextFile(kubeconfigPath, toYaml(kubeconfig));

    if (wantKcm !== false && binaries.kubeControllerManager !== undefined) {
      const kcm = spawn("kube-controller-manager", [
        binaries.kubeControllerManager,
        `--kubeconfig=${kubeconfigPath}`,
        "--controllers=namespace,garbagecollector,serviceaccount",
        "--leader-elect=false",
        "--secure-port=0",
        `--root-ca-file=${servingCa.certificatePath}`,
        "--use-service-account-credentials=false",
        "--concurrent-gc-syncs=20",
        "--concurrent-namespace-syncs=10",
        "--profiling=false",
      ], dir);
      processes.push(kcm);
    }

    try {
      while (true) {
        const kcm = processes.find((p) => p.name === "kube-controller-manager");
        if (kcm?.exited) await fail("Cannot start kube-controller-manager: it exited", kcm);
        if (Date.now() > deadline) {
          await fail('Cannot start the control plane: namespace "default" not created in time');
        }
        try {
          const res = await adminFetch("/api/v1/namespaces/default", {
            signal: AbortSignal.timeout(2000),
          });
          await res.body?.cancel();
          if (res.ok) break;
        } catch { /* retry */ }
        await sleep(100);
      }
    } catch (error) {
      closeClient();
      throw error;
    }

    const state: ControlPlaneState = {
      server,
      dir,
      etcdUrl,
      kubeconfigPath,
      caCertificate: servingCa.certificate,
      adminToken,
      tokens,
      startupMs: Math.round(performance.now() - started),
    };
    await Deno.writeTextFile(`${dir}/control-plane.json`, JSON.stringify(state, null, 2));

    const pids: Record<string, number> = Object.fromEntries(
      processes.map((p) => [p.name, p.child.pid]),
    );
    const killApiServer = async (): Promise<void> => {
      if (stopped) throw new TypeError("Cannot kill kube-apiserver: the control plane is stopped");
      const proc = processes.find((p) => p.name === "kube-apiserver");
      if (!proc || proc.exited) return;
      try {
        proc.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await proc.exit;
    };
    const startApiServer = async (): Promise<number> => {
      if (stopped) {
        throw new TypeError("Cannot start kube-apiserver: the control plane is stopped");
      }
      const started = performance.now();
      const index = processes.findIndex((p) => p.name === "kube-apiserver");
      const current = processes[index];
      if (current && !current.exited) return 0;
      const proc = spawn("kube-apiserver", apiServerArgv, dir);
      if (index < 0) processes.push(proc);
      else processes[index] = proc;
      pids["kube-apiserver"] = proc.child.pid;
      const until = Date.now() + (options.startTimeoutMs ?? 90_000);
      while (true) {
        if (proc.exited) {
          throw new ControlPlaneStartError(
            `Cannot restart kube-apiserver: it exited\n--- last lines of ${proc.logPath}:\n${await logTail(
              proc,
            )}`,
            dir,
          );
        }
        if (Date.now() > until) {
          throw new ControlPlaneStartError(
            "Cannot restart kube-apiserver: /readyz not ok in time",
            dir,
          );
        }
        try {
          const res = await adminFetch("/readyz", { signal: AbortSignal.timeout(2000) });
          await res.body?.cancel();
          if (res.ok) return Math.round(performance.now() - started);
        } catch { /* not up yet */ }
        await sleep(100);
      }
    };

    return makeControlPlane(state, {
      kubeconfig,
      clientCa,
      adminFetch,
      pids,
      killApiServer,
      startApiServer,
      stop: async () => {
        closeClient();
        await stop();
      },
    });
  } catch (error) {
    await stop();
    throw error;
  }
}
