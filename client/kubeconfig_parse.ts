/**
 * The kubeconfig file format: its types ({@linkcode Kubeconfig} and the entries it lists) and
 * {@linkcode parseKubeconfig}, which checks the shape of one file.
 *
 * @module
 */

import { loadAll, mapTag, nullCoreTag, Schema, seqTag, strTag, YAMLException } from "js-yaml";
import {
  describeType,
  FieldReader,
  isMapping,
  put,
  type YamlMapping,
} from "./kubeconfig_fields.ts";

// ---------------------------------------------------------------------------------------------
// File types
// ---------------------------------------------------------------------------------------------

/** A kubeconfig file (`apiVersion: v1`, `kind: Config`), with the keys spelt as in the file. */
export interface Kubeconfig {
  /** Usually `v1`. */
  apiVersion?: string;
  /** Usually `Config`. */
  kind?: string;
  /** The clusters, by name. */
  clusters: NamedKubeconfigCluster[];
  /** The users (credentials), by name. */
  users: NamedKubeconfigUser[];
  /** The contexts (cluster + user + namespace), by name. */
  contexts: NamedKubeconfigContext[];
  /** The context used when none is named. */
  "current-context"?: string;
}

/** An entry of a kubeconfig's `clusters` list. */
export interface NamedKubeconfigCluster {
  /** The cluster's name, referred to by contexts. */
  name: string;
  /** The cluster. */
  cluster: KubeconfigCluster;
}

/** How to reach an API server (kubeconfig `clusters[].cluster`). */
export interface KubeconfigCluster {
  /** The API server's URL, for example `https://127.0.0.1:6443`. */
  server?: string;
  /** The name the server's certificate must carry, when it differs from the host in `server`. */
  "tls-server-name"?: string;
  /** Do not verify the server's certificate. */
  "insecure-skip-tls-verify"?: boolean;
  /** Path of a PEM file of CA certificates; relative to the kubeconfig file. */
  "certificate-authority"?: string;
  /** Base64-encoded PEM CA certificates; overrides nothing, conflicts with the path. */
  "certificate-authority-data"?: string;
  /** A proxy URL (`http`, `https` or `socks5`). */
  "proxy-url"?: string;
  /** Ask the server not to compress responses. */
  "disable-compression"?: boolean;
}

/** An entry of a kubeconfig's `users` list. */
export interface NamedKubeconfigUser {
  /** The user's name, referred to by contexts. */
  name: string;
  /** The user's credentials. */
  user: KubeconfigUser;
}

/** Credentials and impersonation settings (kubeconfig `users[].user`). */
export interface KubeconfigUser {
  /** Path of a PEM client certificate; relative to the kubeconfig file. */
  "client-certificate"?: string;
  /** Base64-encoded PEM client certificate. */
  "client-certificate-data"?: string;
  /** Path of the PEM private key of the client certificate; relative to the kubeconfig file. */
  "client-key"?: string;
  /** Base64-encoded PEM private key of the client certificate. */
  "client-key-data"?: string;
  /** A bearer token. */
  token?: string;
  /** Path of a file holding a bearer token; relative to the kubeconfig file. */
  tokenFile?: string;
  /** User name to impersonate. */
  as?: string;
  /** UID to impersonate. */
  "as-uid"?: string;
  /** Groups to impersonate. */
  "as-groups"?: string[];
  /** Extra fields to impersonate. */
  "as-user-extra"?: Record<string, string[]>;
  /** Basic-authentication user name. */
  username?: string;
  /** Basic-authentication password. */
  password?: string;
  /** A legacy in-tree authentication provider (`gcp`, `azure`, `oidc`); not supported. */
  "auth-provider"?: KubeconfigAuthProvider;
  /** An exec credential plugin. */
  exec?: KubeconfigExec;
}

/** A legacy authentication provider (kubeconfig `users[].user.auth-provider`). */
export interface KubeconfigAuthProvider {
  /** The provider's name, for example `gcp` or `oidc`. */
  name: string;
  /** The provider's settings; may hold secrets. */
  config?: Record<string, string>;
}

/** An exec credential plugin (kubeconfig `users[].user.exec`). */
export interface KubeconfigExec {
  /** The command; relative to the kubeconfig file when it contains a slash. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: KubeconfigExecEnvVar[];
  /** `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`. */
  apiVersion: string;
  /** Shown when the command is missing. */
  installHint?: string;
  /** Whether to pass the cluster to the plugin in `KUBERNETES_EXEC_INFO`. */
  provideClusterInfo?: boolean;
  /** `Never`, `IfAvailable` or `Always`. */
  interactiveMode?: string;
}

/** An environment variable of an exec plugin. */
export interface KubeconfigExecEnvVar {
  /** Its name. */
  name: string;
  /** Its value. */
  value: string;
}

/** An entry of a kubeconfig's `contexts` list. */
export interface NamedKubeconfigContext {
  /** The context's name. */
  name: string;
  /** The context. */
  context: KubeconfigContext;
}

/** A cluster, a user and a default namespace (kubeconfig `contexts[].context`). */
export interface KubeconfigContext {
  /** The name of an entry of `clusters`. */
  cluster?: string;
  /** The name of an entry of `users`; anonymous when absent. */
  user?: string;
  /** The default namespace. */
  namespace?: string;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Options for {@linkcode parseKubeconfig}. */
export interface ParseKubeconfigOptions {
  /** The file the text was read from, for error messages. */
  path?: string;
}

/**
 * Scalars stay strings (as Go reads them into string fields: `token: 0123` keeps its zero);
 * booleans are parsed per field. Only `null` is resolved.
 */
const KUBECONFIG_SCHEMA = new Schema([strTag, seqTag, mapTag, nullCoreTag]);

interface RawEntry {
  name: string;
  body: YamlMapping;
  field: string;
}

function namedEntries(
  r: FieldReader,
  doc: YamlMapping,
  listKey: "clusters" | "users" | "contexts",
  bodyKey: "cluster" | "user" | "context",
): RawEntry[] {
  const items = r.list(doc[listKey], listKey) ?? [];
  return items.map((item, i) => {
    const entry = r.mapping(item, `${listKey}[${i}]`);
    if (entry === undefined) r.fail(`${listKey}[${i}]`, "must be a mapping, found null");
    const name = r.string(entry["name"], `${listKey}[${i}].name`);
    if (!name) r.fail(`${listKey}[${i}].name`, "must be a non-empty string");
    const field = `${listKey}[${name}]`;
    return { name, body: r.mapping(entry[bodyKey], `${field}.${bodyKey}`) ?? {}, field };
  });
}

function parseCluster(r: FieldReader, o: YamlMapping, f: string): KubeconfigCluster {
  const c: KubeconfigCluster = {};
  put(c, "server", r.string(o["server"], `${f}.server`));
  put(c, "tls-server-name", r.string(o["tls-server-name"], `${f}.tls-server-name`));
  put(
    c,
    "insecure-skip-tls-verify",
    r.boolean(o["insecure-skip-tls-verify"], `${f}.insecure-skip-tls-verify`),
  );
  put(
    c,
    "certificate-authority",
    r.string(o["certificate-authority"], `${f}.certificate-authority`),
  );
  put(
    c,
    "certificate-authority-data",
    r.string(o["certificate-authority-data"], `${f}.certificate-authority-data`),
  );
  put(c, "proxy-url", r.string(o["proxy-url"], `${f}.proxy-url`));
  put(c, "disable-compression", r.boolean(o["disable-compression"], `${f}.disable-compression`));
  return c;
}

function parseUser(r: FieldReader, o: YamlMapping, f: string): KubeconfigUser {
  const u: KubeconfigUser = {};
  for (
    const key of [
      "client-certificate",
      "client-certificate-data",
      "client-key",
      "client-key-data",
      "token",
      "tokenFile",
      "as",
      "as-uid",
      "username",
      "password",
    ] as const
  ) {
    put(u, key, r.string(o[key], `${f}.${key}`));
  }
  put(u, "as-groups", r.stringList(o["as-groups"], `${f}.as-groups`));
  const extra = r.mapping(o["as-user-extra"], `${f}.as-user-extra`);
  if (extra !== undefined) {
    u["as-user-extra"] = Object.fromEntries(
      Object.entries(extra).map((
        [key, values],
      ) => [key, r.stringList(values, `${f}.as-user-extra.${key}`) ?? []]),
    );
  }
  const provider = r.mapping(o["auth-provider"], `${f}.auth-provider`);
  if (provider !== undefined) {
    const p: KubeconfigAuthProvider = {
      name: r.string(provider["name"], `${f}.auth-provider.name`) ?? "",
    };
    const config = r.mapping(provider["config"], `${f}.auth-provider.config`);
    if (config !== undefined) {
      p.config = Object.fromEntries(
        Object.entries(config).map((
          [key, value],
        ) => [key, r.string(value, `${f}.auth-provider.config.${key}`) ?? ""]),
      );
    }
    u["auth-provider"] = p;
  }
  const exec = r.mapping(o["exec"], `${f}.exec`);
  if (exec !== undefined) u.exec = parseExec(r, exec, `${f}.exec`);
  return u;
}

function parseExec(r: FieldReader, o: YamlMapping, f: string): KubeconfigExec {
  const e: KubeconfigExec = {
    command: r.string(o["command"], `${f}.command`) ?? "",
    apiVersion: r.string(o["apiVersion"], `${f}.apiVersion`) ?? "",
  };
  put(e, "args", r.stringList(o["args"], `${f}.args`));
  const env = r.list(o["env"], `${f}.env`);
  if (env !== undefined) {
    e.env = env.map((item, i) => {
      const v = r.mapping(item, `${f}.env[${i}]`) ?? {};
      const name = r.string(v["name"], `${f}.env[${i}].name`);
      if (!name) r.fail(`${f}.env[${i}].name`, "must be a non-empty string");
      return { name, value: r.string(v["value"], `${f}.env[${i}].value`) ?? "" };
    });
  }
  put(e, "installHint", r.string(o["installHint"], `${f}.installHint`));
  put(e, "provideClusterInfo", r.boolean(o["provideClusterInfo"], `${f}.provideClusterInfo`));
  put(e, "interactiveMode", r.string(o["interactiveMode"], `${f}.interactiveMode`));
  return e;
}

function parseContext(r: FieldReader, o: YamlMapping, f: string): KubeconfigContext {
  const c: KubeconfigContext = {};
  put(c, "cluster", r.string(o["cluster"], `${f}.cluster`));
  put(c, "user", r.string(o["user"], `${f}.user`));
  put(c, "namespace", r.string(o["namespace"], `${f}.namespace`));
  return c;
}

/**
 * Parses the text of one kubeconfig file and checks its shape. Relative paths are left as they
 * are (see {@linkcode readKubeconfigs}). An empty file is an empty kubeconfig.
 *
 * When an entry name appears twice in the file, the last one wins, as in kubectl.
 *
 * @param text the YAML (or JSON) text
 * @param options the file name, for error messages
 * @returns the kubeconfig
 * @throws {ClientConfigError} on invalid YAML or a field of the wrong type; the message gives the
 * line and column but never the file's content
 */
export function parseKubeconfig(text: string, options?: ParseKubeconfigOptions): Kubeconfig {
  const r: FieldReader = new FieldReader(options?.path);
  let docs: unknown[];
  try {
    docs = loadAll(text, { schema: KUBECONFIG_SCHEMA, maxAliases: 1000 });
  } catch (error) {
    // Not passed as `cause`: a YAMLException's message quotes the source, which may hold secrets.
    if (error instanceof YAMLException) {
      const at = error.mark === undefined
        ? ""
        : ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`;
      r.fail(undefined, `invalid YAML${at}: ${error.reason}`);
    }
    r.fail(undefined, "invalid YAML");
  }
  if (docs.length > 1) r.fail(undefined, "invalid YAML: more than one document");
  const doc = docs[0] ?? {};
  if (!isMapping(doc)) r.fail(undefined, `not a YAML mapping (found ${describeType(doc)})`);
  const config: Kubeconfig = {
    clusters: dedupe(namedEntries(r, doc, "clusters", "cluster")).map((e) => ({
      name: e.name,
      cluster: parseCluster(r, e.body, `${e.field}.cluster`),
    })),
    users: dedupe(namedEntries(r, doc, "users", "user")).map((e) => ({
      name: e.name,
      user: parseUser(r, e.body, `${e.field}.user`),
    })),
    contexts: dedupe(namedEntries(r, doc, "contexts", "context")).map((e) => ({
      name: e.name,
      context: parseContext(r, e.body, `${e.field}.context`),
    })),
  };
  put(config, "apiVersion", r.string(doc["apiVersion"], "apiVersion"));
  put(config, "kind", r.string(doc["kind"], "kind"));
  put(config, "current-context", r.string(doc["current-context"], "current-context"));
  return config;
}

/** Keeps the last entry of each name, in first-appearance order. */
function dedupe(entries: RawEntry[]): RawEntry[] {
  const byName = new Map<string, RawEntry>();
  for (const entry of entries) byName.set(entry.name, entry);
  return [...byName.values()];
}
