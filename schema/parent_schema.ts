/**
 * {@linkcode parentSchema}: declare a custom resource once, with TypeBox schemas for its `spec`
 * and `status`, and get from that one declaration the TypeScript type of the object (spec and
 * status, for the handler), the {@linkcode ResourceType} the operator watches, and the
 * CustomResourceDefinition (structural schema, status and scale subresources, printer columns,
 * short names, categories, CEL rules, several versions). A declaration Kubernetes would refuse is
 * refused here, with a {@linkcode ParentSchemaError} naming the field.
 *
 * @example
 * ```ts
 * import Type from "typebox";
 * import { parentSchema } from "./parent_schema.ts";
 *
 * const Greeting = parentSchema({
 *   apiVersion: "example.roperator.dev/v1",
 *   kind: "Greeting",
 *   plural: "greetings",
 *   namespaced: true,
 *   spec: Type.Object({
 *     message: Type.String({ minLength: 1 }),
 *     replicas: Type.Integer({ minimum: 0, default: 1 }),
 *   }),
 *   status: Type.Object({ phase: Type.Optional(Type.String()) }),
 *   printerColumns: [{ name: "Phase", type: "string", jsonPath: ".status.phase" }],
 * });
 * Greeting.crd().metadata?.name; // "greetings.example.roperator.dev"
 * ```
 *
 * @module
 */
import type { Static, TSchema } from "./type.ts";
import {
  groupOf,
  type KubernetesObject,
  type ResourceType,
  resourceType,
} from "../client/resource_type.ts";
import { toStructuralSchema } from "./convert.ts";
export { isParentSchema } from "./is_parent_schema.ts";
import {
  type SchemaProblem,
  structuralProblems,
  type StructuralSchema,
  type ValidationRule,
} from "./structural.ts";

/** A column of `kubectl get` (a CRD version's `additionalPrinterColumns` entry). */
export interface PrinterColumn {
  /** The column's header. */
  name: string;
  /** How the value is shown: `integer`, `number`, `string`, `boolean` or `date`. */
  type: "integer" | "number" | "string" | "boolean" | "date";
  /** A JSONPath into the object, such as `.status.phase`. */
  jsonPath: string;
  /** What the column shows. */
  description?: string;
  /** A format, such as `int64` or `date-time`. */
  format?: "int32" | "int64" | "float" | "double" | "byte" | "date" | "date-time" | "password";
  /** 0 (default) shows the column always; higher only with `-o wide`. */
  priority?: number;
}

/** The scale subresource: where `kubectl scale` and the HorizontalPodAutoscaler read and write. */
export interface ScaleSubresource {
  /** The desired replicas, an integer field under `.spec` (for example `.spec.replicas`). */
  specReplicasPath: string;
  /** The observed replicas, an integer field under `.status`. */
  statusReplicasPath: string;
  /** The label selector (a string) under `.spec` or `.status`, for the HorizontalPodAutoscaler. */
  labelSelectorPath?: string;
}

/** What a version of the resource declares, besides the version the operator reads. */
export interface VersionInit {
  /** The version's name, such as `v1beta1`. */
  name: string;
  /** The schema of `spec`: a TypeBox object. */
  spec: TSchema;
  /** The schema of `status`: a TypeBox object. Default: an empty object. */
  status?: TSchema;
  /** Whether the API server serves this version. Default `true`. */
  served?: boolean;
  /** Whether objects are stored in this version (exactly one version is). Default `false`. */
  storage?: boolean;
  /** Whether clients using this version get a deprecation warning. */
  deprecated?: boolean;
  /** The deprecation warning's text. */
  deprecationWarning?: string;
  /** Columns of `kubectl get`. */
  printerColumns?: readonly PrinterColumn[];
  /** The scale subresource. */
  scale?: ScaleSubresource;
  /** CEL rules on the whole object (`self.spec`, `self.status`, `self.metadata.name`). */
  validations?: readonly ValidationRule[];
}

/** What {@linkcode parentSchema} is given. */
export interface ParentSchemaInit<Spec extends TSchema, Status extends TSchema> {
  /** `group/version` of the version the operator reads, such as `example.dev/v1`. */
  apiVersion: string;
  /** The kind, UpperCamelCase. */
  kind: string;
  /** The lower-case plural used in URLs. */
  plural: string;
  /** The lower-case singular. Default: the kind in lower case. */
  singular?: string;
  /** Whether objects live in a namespace. */
  namespaced: boolean;
  /** Short names for `kubectl get`, such as `gr`. */
  shortNames?: readonly string[];
  /** Categories for `kubectl get <category>`, such as `all`. */
  categories?: readonly string[];
  /** The schema of `spec`: a TypeBox object. */
  spec: Spec;
  /**
   * The schema of `status`: a TypeBox object. Default: an empty object. An `observedGeneration`
   * integer is added when absent (the runner writes it).
   */
  status?: Status;
  /** Columns of `kubectl get`. */
  printerColumns?: readonly PrinterColumn[];
  /** The scale subresource. */
  scale?: ScaleSubresource;
  /** CEL rules on the whole object (`self.spec`, `self.status`, `self.metadata.name`). */
  validations?: readonly ValidationRule[];
  /** Whether objects are stored in this version. Default: unless another version is. */
  storage?: boolean;
  /** Whether clients using this version get a deprecation warning. */
  deprecated?: boolean;
  /** The deprecation warning's text. */
  deprecationWarning?: string;
  /** Other versions the API server serves (no conversion webhook: the schemas must agree). */
  otherVersions?: readonly VersionInit[];
}

/** What the runner adds to every status it writes. */
export interface ObservedGeneration {
  /** The parent's `metadata.generation` when the status was computed. */
  observedGeneration?: number;
}

/** The object a {@linkcode ParentSchema} describes: `spec` as declared, `status` once written. */
export type ParentObject<Spec, Status> = KubernetesObject & {
  /** The desired state, as the spec schema declares it. */
  spec: Spec;
  /** The observed state, as the status schema declares it; absent until first written. */
  status?: Status & ObservedGeneration;
};

/** A parent declared with {@linkcode parentSchema}: a resource type that knows its CRD. */
export interface ParentSchema<Spec extends TSchema = TSchema, Status extends TSchema = TSchema>
  extends ResourceType<ParentObject<Static<Spec>, Static<Status>>> {
  /** The API group. */
  readonly group: string;
  /** The version the operator reads. */
  readonly version: string;
  /** The TypeBox schema of `spec`. */
  readonly specSchema: Spec;
  /** The TypeBox schema of `status`. */
  readonly statusSchema: Status;
  /** The `openAPIV3Schema` of the version the operator reads. */
  readonly openAPIV3Schema: StructuralSchema;
  /**
   * The CustomResourceDefinition (`apiextensions.k8s.io/v1`), a fresh object on every call.
   *
   * @returns the CRD
   */
  crd(): KubernetesObject;
}

/** The object type of a {@linkcode ParentSchema}. */
export type ObjectOf<P> = P extends ResourceType<infer T> ? T : never;
/** The spec type of a {@linkcode ParentSchema}. */
export type SpecOf<P> = P extends ParentSchema<infer Spec, TSchema> ? Static<Spec> : never;
/** The status type of a {@linkcode ParentSchema}, as the handler returns it. */
export type StatusOf<P> = P extends ParentSchema<TSchema, infer Status> ? Static<Status> : never;

/** One reason a declaration is refused. */
export interface ParentSchemaProblem extends SchemaProblem {
  /** The version the problem is in, when it is in one version's schema or columns. */
  version?: string;
}

/** A parent declaration Kubernetes would refuse (or that cannot work as declared). */
export class ParentSchemaError extends TypeError {
  /** The kind being declared. */
  readonly kind: string;
  /** Every problem, with its field. */
  readonly problems: readonly ParentSchemaProblem[];

  /**
   * Creates the error.
   *
   * @param kind the kind being declared
   * @param problems what is wrong, with the fields
   */
  constructor(kind: string, problems: readonly ParentSchemaProblem[]) {
    const details = problems.map((p) =>
      `${p.version ? `version ${p.version}: ` : ""}${
        p.path === "" ? "(root)" : p.path
      }: ${p.message}`
    );
    super(`Cannot declare parent ${kind}: ${details.join("; ")}`);
    this.name = "ParentSchemaError";
    this.kind = kind;
    this.problems = problems;
  }
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const COLUMN_TYPES = new Set(["integer", "number", "string", "boolean", "date"]);
const COLUMN_FORMATS = new Set([
  "int32",
  "int64",
  "float",
  "double",
  "byte",
  "date",
  "date-time",
  "password",
]);

interface BuiltVersion {
  name: string;
  served: boolean;
  storage: boolean;
  root: StructuralSchema;
  object: Record<string, unknown>;
}

function fieldAt(root: StructuralSchema, jsonPath: string): StructuralSchema | undefined | null {
  // null: the path cannot be followed in the schema (a map, preserved fields): not known.
  const parts = jsonPath.slice(1).split(".");
  let node: StructuralSchema | undefined = root;
  for (const part of parts) {
    if (!node) return undefined;
    if (node["x-kubernetes-preserve-unknown-fields"] === true && !node.properties?.[part]) {
      return null;
    }
    if (typeof node.additionalProperties === "object") {
      node = node.additionalProperties;
      continue;
    }
    if (/[\[\]*?@()]/.test(part)) return null;
    node = node.properties?.[part];
  }
  return node;
}

function buildVersion(
  version: VersionInit,
  problems: ParentSchemaProblem[],
  several: boolean,
): BuiltVersion {
  const name = version.name;
  const add = (path: string, message: string) =>
    problems.push(several ? { version: name, path, message } : { path, message });
  const spec = toStructuralSchema(version.spec, "spec");
  const status = toStructuralSchema(version.status ?? { type: "object", properties: {} }, "status");
  const converted = new Set<string>();
  for (const p of [...spec.problems, ...status.problems]) {
    add(p.path, p.message);
    converted.add(p.path);
  }
  if (spec.schema.type !== "object") add("spec", "must be an object (Type.Object)");
  if (status.schema.type !== "object") add("status", "must be an object (Type.Object)");
  const statusSchema: StructuralSchema = { ...status.schema };
  if (
    statusSchema.type === "object" && statusSchema.additionalProperties === undefined &&
    !statusSchema.properties?.observedGeneration
  ) {
    statusSchema.properties = {
      ...statusSchema.properties,
      observedGeneration: {
        type: "integer",
        format: "int64",
        description: "The metadata.generation the status was computed from.",
      },
    };
  }
  const root: StructuralSchema = {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: spec.schema,
      status: statusSchema,
    },
  };
  if (version.validations && version.validations.length > 0) {
    root["x-kubernetes-validations"] = version.validations.map((r) => ({ ...r }));
  }
  for (const p of structuralProblems(root)) {
    // A field that could not be converted is reported once, by the conversion.
    if (!converted.has(p.path)) add(p.path, p.message);
  }

  const columns = version.printerColumns ?? [];
  const seen = new Set<string>();
  for (const column of columns) {
    const at = `printerColumns[${column.name}]`;
    if (!column.name) add(at, "name must not be empty");
    if (seen.has(column.name)) add(at, "name is used twice");
    seen.add(column.name);
    if (!COLUMN_TYPES.has(column.type)) {
      add(at, `type "${column.type}" is not one of ${[...COLUMN_TYPES].join(", ")}`);
    }
    if (column.format !== undefined && !COLUMN_FORMATS.has(column.format)) {
      add(at, `format "${column.format}" is not one of ${[...COLUMN_FORMATS].join(", ")}`);
    }
    if ((column.priority ?? 0) < 0 || !Number.isInteger(column.priority ?? 0)) {
      add(at, "priority must be an integer of 0 or more");
    }
    if (!column.jsonPath.startsWith(".")) {
      add(at, `jsonPath "${column.jsonPath}" must start with "." (such as .status.phase)`);
    } else if (/^\.(spec|status)\b/.test(column.jsonPath)) {
      if (fieldAt(root, column.jsonPath) === undefined) {
        add(at, `jsonPath "${column.jsonPath}" names a field the schema does not declare`);
      }
    }
  }

  const scale = version.scale;
  if (scale) {
    const check = (key: keyof ScaleSubresource, under: RegExp, label: string, type: string) => {
      const path = scale[key];
      if (path === undefined) return;
      if (!under.test(path)) {
        add(`scale.${key}`, `"${path}" must be a path under ${label}`);
        return;
      }
      const node = fieldAt(root, path);
      if (node === undefined) add(`scale.${key}`, `"${path}" is not declared in the schema`);
      else if (node !== null && node.type !== type) {
        add(`scale.${key}`, `"${path}" must be a field of type ${type}`);
      }
    };
    check("specReplicasPath", /^\.spec\.[^\[]+$/, ".spec", "integer");
    check("statusReplicasPath", /^\.status\.[^\[]+$/, ".status", "integer");
    check("labelSelectorPath", /^\.(spec|status)\.[^\[]+$/, ".spec or .status", "string");
  }

  const subresources: Record<string, unknown> = { status: {} };
  if (scale) subresources.scale = { ...scale };
  const object: Record<string, unknown> = {
    name,
    served: version.served ?? true,
    storage: version.storage ?? false,
  };
  if (version.deprecated !== undefined) object.deprecated = version.deprecated;
  if (version.deprecationWarning !== undefined) {
    object.deprecationWarning = version.deprecationWarning;
  }
  object.schema = { openAPIV3Schema: root };
  object.subresources = subresources;
  if (columns.length > 0) object.additionalPrinterColumns = columns.map((c) => ({ ...c }));
  return { name, served: version.served ?? true, storage: version.storage ?? false, root, object };
}

/**
 * Declares a parent (custom resource) from TypeBox schemas of its `spec` and `status`. The
 * result is a {@linkcode ResourceType} typed with the object the schemas describe (use it as the
 * operator's `parent`), and makes the CRD with `crd()`.
 *
 * @example
 * ```ts
 * import Type from "typebox";
 * import { parentSchema } from "./parent_schema.ts";
 *
 * const Backup = parentSchema({
 *   apiVersion: "example.roperator.dev/v1",
 *   kind: "Backup",
 *   plural: "backups",
 *   namespaced: true,
 *   shortNames: ["bk"],
 *   spec: Type.Object({ schedule: Type.String({ pattern: "^\\S+ \\S+ \\S+ \\S+ \\S+$" }) }),
 *   status: Type.Object({ lastRun: Type.Optional(Type.String({ format: "date-time" })) }),
 * });
 * const crd = Backup.crd();
 * ```
 *
 * @param init names, scope, the spec and status schemas, columns, subresources, versions
 * @returns the parent's resource type, which also makes its CRD
 * @throws {ParentSchemaError} when Kubernetes would refuse the declaration
 */
export function parentSchema<Spec extends TSchema, Status extends TSchema = TSchema>(
  init: ParentSchemaInit<Spec, Status>,
): ParentSchema<Spec, Status> {
  const problems: ParentSchemaProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  let type: ResourceType | undefined;
  try {
    type = resourceType({
      apiVersion: init.apiVersion,
      kind: init.kind,
      plural: init.plural,
      namespaced: init.namespaced,
    });
  } catch (error) {
    add("", (error as Error).message.replace(/^Cannot declare resource type "[^"]*": /, ""));
  }
  const group = groupOf(init);
  const version = init.apiVersion.slice(group.length + 1);
  if (type && (group === "" || !group.includes("."))) {
    add("", `group "${group}" must be a domain name with a dot, such as example.dev`);
  }
  const singular = init.singular ?? init.kind.toLowerCase();
  if (!DNS_LABEL.test(singular)) add("", `singular "${singular}" must be a lower-case DNS label`);
  for (const name of init.shortNames ?? []) {
    if (!DNS_LABEL.test(name)) add("", `short name "${name}" must be a lower-case DNS label`);
  }
  for (const name of init.categories ?? []) {
    if (!DNS_LABEL.test(name)) add("", `category "${name}" must be a lower-case DNS label`);
  }
  const others = init.otherVersions ?? [];
  const mainStorage = init.storage ?? !others.some((v) => v.storage === true);
  const main: VersionInit = { name: version, spec: init.spec, storage: mainStorage };
  if (init.status !== undefined) main.status = init.status;
  if (init.printerColumns !== undefined) main.printerColumns = init.printerColumns;
  if (init.scale !== undefined) main.scale = init.scale;
  if (init.validations !== undefined) main.validations = init.validations;
  if (init.deprecated !== undefined) main.deprecated = init.deprecated;
  if (init.deprecationWarning !== undefined) main.deprecationWarning = init.deprecationWarning;
  const built = [main, ...others].map((v) => buildVersion(v, problems, others.length > 0));
  const names = new Set<string>();
  for (const v of built) {
    if (!DNS_LABEL.test(v.name)) add("", `version name "${v.name}" must be a DNS label like v1`);
    if (names.has(v.name)) add("", `version "${v.name}" is declared twice`);
    names.add(v.name);
  }
  const storage = built.filter((v) => v.storage).map((v) => v.name);
  if (storage.length !== 1) {
    add(
      "",
      `exactly one version must be the storage version (${
        storage.length === 0 ? "none is" : `${storage.join(", ")} are`
      })`,
    );
  }
  if (!built[0]!.served) {
    add("", `version ${version} is the one the operator reads: it must be served`);
  }
  if (problems.length > 0 || !type) throw new ParentSchemaError(init.kind, problems);

  const crd = {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${init.plural}.${group}` },
    spec: {
      group,
      scope: init.namespaced ? "Namespaced" : "Cluster",
      names: {
        plural: init.plural,
        singular,
        kind: init.kind,
        listKind: `${init.kind}List`,
        ...(init.shortNames?.length ? { shortNames: [...init.shortNames] } : {}),
        ...(init.categories?.length ? { categories: [...init.categories] } : {}),
      },
      versions: built.map((v) => v.object),
    },
  };
  const json = JSON.stringify(crd);
  return Object.freeze({
    apiVersion: type.apiVersion,
    kind: type.kind,
    plural: type.plural,
    namespaced: type.namespaced,
    group,
    version,
    specSchema: init.spec,
    statusSchema: (init.status ?? { type: "object", properties: {} }) as Status,
    openAPIV3Schema: JSON.parse(JSON.stringify(built[0]!.root)) as StructuralSchema,
    crd: (): KubernetesObject => JSON.parse(json) as KubernetesObject,
  });
}
