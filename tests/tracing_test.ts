// Tracing through @opentelemetry/api: a span per sync carrying the parent's identity, a client
// span per API request nested under its sync, handler spans nested under the sync when a context
// manager is registered, error status on a failed sync, and non-recording spans when no provider
// is registered. An in-memory TracerProvider and an AsyncLocalStorage context manager stand in
// for an SDK (or Deno's built-in exporter, OTEL_DENO=true).
import { eventually } from "./helpers.ts";
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context,
  type ContextManager,
  type Exception,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { ControlPlane } from "../testkit/control_plane.ts";
import { testControlPlane } from "../testkit/shared_control_plane.ts";
import { installCustomResourceDefinitions, testCustomResourceDefinition } from "../testkit/crds.ts";
import { KubeClient } from "../client/kube_client.ts";
import { ResourceClient } from "../client/resource_client.ts";
import { resourceType } from "../client/resource_type.ts";
import { k8s } from "../config/resource_types.ts";
import { operatorConfig } from "../config/operator_config.ts";
import { startOperator } from "../runner/run_operator.ts";
import { TRACER_NAME } from "../runner/tracing.ts";

const Parent = resourceType({
  apiVersion: "test.roperator.dev/v1",
  kind: "TracedParent",
  plural: "tracedparents",
  namespaced: true,
});

interface Recorded {
  name: string;
  scope: string;
  kind: SpanKind | undefined;
  attributes: Attributes;
  spanId: string;
  traceId: string;
  parentSpanId: string | undefined;
  status: SpanStatus;
  ended: boolean;
}

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

class MemorySpan implements Span {
  readonly record: Recorded;
  readonly #context: SpanContext;

  constructor(record: Recorded) {
    this.record = record;
    this.#context = { traceId: record.traceId, spanId: record.spanId, traceFlags: 1 };
  }
  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(key: string, value: AttributeValue): this {
    this.record.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.record.attributes, attributes);
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.record.status = status;
    return this;
  }
  updateName(name: string): this {
    this.record.name = name;
    return this;
  }
  end(_endTime?: TimeInput): void {
    this.record.ended = true;
  }
  isRecording(): boolean {
    return !this.record.ended;
  }
  recordException(_exception: Exception): void {}
}

class MemoryTracerProvider implements TracerProvider {
  readonly spans: Recorded[] = [];

  getTracer(scope: string): Tracer {
    const spans = this.spans;
    const startSpan = (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
      const parent = trace.getSpan(ctx ?? context.active())?.spanContext();
      const record: Recorded = {
        name,
        scope,
        kind: options.kind,
        attributes: { ...options.attributes },
        spanId: hex(8),
        traceId: parent?.traceId ?? hex(16),
        parentSpanId: parent?.spanId,
        status: { code: SpanStatusCode.UNSET },
        ended: false,
      };
      spans.push(record);
      return new MemorySpan(record);
    };
    return {
      startSpan,
      startActiveSpan: ((name: string, ...rest: unknown[]) => {
        const fn = rest.pop() as (span: Span) => unknown;
        const [options, ctx] = rest as [SpanOptions | undefined, Context | undefined];
        const span = startSpan(name, options, ctx);
        return context.with(trace.setSpan(ctx ?? context.active(), span), () => fn(span));
      }) as Tracer["startActiveSpan"],
    };
  }
}

/** A context manager on AsyncLocalStorage, as @opentelemetry/context-async-hooks provides. */
class StorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

let cp: ControlPlane;
let admin: KubeClient;
Deno.test.beforeAll(async () => {
  cp = await testControlPlane();
  admin = new KubeClient(cp.clientConfig);
  await installCustomResourceDefinitions(admin, [testCustomResourceDefinition(Parent)]);
});
Deno.test.afterAll(async () => {
  trace.disable();
  context.disable();
  admin?.close();
  await cp?.stop();
});

Deno.test("without a registered provider, spans do not record", () => {
  const span = trace.getTracer(TRACER_NAME).startSpan("roperator.sync");
  assert.equal(span.isRecording(), false);
  span.end();
});

Deno.test("a sync is a span with the parent's identity; its requests and the handler's spans nest under it", async () => {
  const provider = new MemoryTracerProvider();
  assert.ok(trace.setGlobalTracerProvider(provider));
  assert.ok(context.setGlobalContextManager(new StorageContextManager()));
  const ns = `tr-${Date.now().toString(36)}`;
  await new ResourceClient(admin, k8s.core.v1.Namespace).create({ metadata: { name: ns } });
  const parents = new ResourceClient(admin, Parent, ns);
  const config = operatorConfig({
    name: "trace-test",
    parent: Parent,
    children: [{ type: k8s.core.v1.ConfigMap, updateStrategy: "Replace" }],
    namespace: ns,
    server: false,
  });
  const op = await startOperator(config, ({ parent }) => {
    if ((parent.spec as { fail?: boolean } | undefined)?.fail) throw new Error("traced failure");
    return trace.getTracer("user-handler").startActiveSpan("compute-children", (span) => {
      span.end();
      return {
        status: { ok: true },
        children: [{
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `${parent.metadata!.name}-child` },
          data: {},
        }],
      };
    });
  }, { clientConfig: cp.clientConfig });
  try {
    await op.ready;
    const created = await parents.create({ metadata: { name: "traced" } });
    await eventually(
      "the status",
      async () =>
        ((await parents.get("traced")).status as { ok?: boolean } | undefined)?.ok === true,
    );
    const sync = await eventually("an ended sync span with a child write", () =>
      Promise.resolve(
        provider.spans.find((s) =>
          s.name === "roperator.sync" && s.ended &&
          s.attributes["roperator.parent.name"] === "traced" &&
          provider.spans.some((r) => r.parentSpanId === s.spanId && r.name === "POST")
        ),
      ));
    assert.equal(sync.scope, TRACER_NAME);
    assert.deepEqual(
      {
        namespace: sync.attributes["k8s.namespace.name"],
        name: sync.attributes["roperator.parent.name"],
        uid: sync.attributes["roperator.parent.uid"],
        kind: sync.attributes["roperator.parent.kind"],
        operator: sync.attributes["roperator.operator"],
        phase: sync.attributes["roperator.sync.phase"],
      },
      {
        namespace: ns,
        name: "traced",
        uid: created.metadata?.uid,
        kind: "TracedParent",
        operator: "trace-test",
        phase: "sync",
      },
    );
    assert.notEqual(sync.status.code, SpanStatusCode.ERROR);
    const children = provider.spans.filter((s) => s.parentSpanId === sync.spanId);
    const post = children.find((s) => s.name === "POST")!;
    assert.equal(post.kind, 2 /* SpanKind.CLIENT */);
    assert.equal(post.traceId, sync.traceId);
    assert.match(String(post.attributes["url.path"]), new RegExp(`/namespaces/${ns}/configmaps`));
    assert.equal(post.attributes["http.request.method"], "POST");
    assert.equal(post.attributes["http.response.status_code"], 201);
    assert.ok(post.ended);
    const handlerSpan = children.find((s) => s.name === "compute-children");
    assert.ok(handlerSpan, "the handler's own span is a child of the sync span");
    // The informers' requests are spans too, outside any sync.
    assert.ok(
      provider.spans.some((s) =>
        s.name === "GET" && s.parentSpanId === undefined &&
        String(s.attributes["url.path"]).includes(`/namespaces/${ns}/tracedparents`)
      ),
      "the parent list is a root span",
    );

    await parents.create({ metadata: { name: "broken" }, spec: { fail: true } });
    const failed = await eventually("a failed sync span", () =>
      Promise.resolve(
        provider.spans.find((s) =>
          s.name === "roperator.sync" && s.ended &&
          s.attributes["roperator.parent.name"] === "broken"
        ),
      ));
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.match(failed.status.message ?? "", /traced failure/);
  } finally {
    await op.stop();
  }
});
