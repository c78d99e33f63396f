import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  type Attributes,
  type Context,
  propagation,
  type Span,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TextMapPropagator,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { type KubernetesObject, resourceType } from "../client/resource_type.ts";
import { parsePrometheusText } from "../testkit/prometheus_text.ts";
import {
  type CertifiedKey,
  createCertificateAuthority,
  issueServingCertificate,
} from "../tls/certificates.ts";
import { allow, deny, validatingWebhook } from "./admission.ts";
import { conversionWebhook } from "./conversion.ts";
import { WebhookServer, WebhookServerError } from "./server.ts";

type Widget = KubernetesObject & { spec?: { size?: number | undefined } };
const Widget = resourceType<Widget>({
  apiVersion: "example.dev/v1",
  kind: "Widget",
  plural: "widgets",
  namespaced: true,
});

const validate = validatingWebhook({
  type: Widget,
  handler: ({ object }) => (object?.spec?.size ?? 0) > 10 ? deny("too big") : allow(),
});
const convert = conversionWebhook<{ v1: Widget; v2: Widget }>({
  type: Widget,
  converters: { v1: { v2: (o) => o }, v2: { v1: (o) => o } },
});

async function pki(): Promise<{ ca: CertifiedKey; serving: CertifiedKey }> {
  const ca = await createCertificateAuthority({ commonName: "test-ca" });
  return { ca, serving: await issueServingCertificate(ca, { ipAddresses: ["127.0.0.1"] }) };
}

function admissionReview(size: number, uid = "u1"): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "example.dev", version: "v1", kind: "Widget" },
      resource: { group: "example.dev", version: "v1", resource: "widgets" },
      operation: "CREATE",
      userInfo: {},
      object: { apiVersion: "example.dev/v1", kind: "Widget", spec: { size } },
    },
  });
}

Deno.test("WebhookServer: answers reviews at each webhook's path over HTTPS, with metrics", async () => {
  const { ca, serving } = await pki();
  await using server = await WebhookServer.start({
    webhooks: [validate, convert],
    certificate: serving,
    port: 0,
    hostname: "127.0.0.1",
  });
  using client = Deno.createHttpClient({ caCerts: [ca.certificate] });
  const post = (path: string, body: string) =>
    fetch(`https://127.0.0.1:${server.port}${path}`, { method: "POST", body, client });

  const denied = await (await post(validate.path, admissionReview(20))).json();
  assert.deepEqual(denied.response, {
    uid: "u1",
    allowed: false,
    status: { code: 403, message: "too big" },
  });
  const allowed = await (await post(validate.path, admissionReview(2))).json();
  assert.equal(allowed.response.allowed, true);
  const converted = await (await post(
    convert.path,
    JSON.stringify({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      request: {
        uid: "c1",
        desiredAPIVersion: "example.dev/v2",
        objects: [{ apiVersion: "example.dev/v1", kind: "Widget", metadata: { name: "a" } }],
      },
    }),
  )).json();
  assert.equal(converted.response.convertedObjects[0].apiVersion, "example.dev/v2");
  const malformed = await post(validate.path, "{");
  assert.equal(malformed.status, 400);
  await malformed.body?.cancel();
  const missing = await post("/nothing", "{}");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();

  const samples = parsePrometheusText(server.registry.render());
  const count = (webhook: string, result: string) =>
    samples.find((s) =>
      s.name === "roperator_webhook_requests_total" && s.labels.webhook === webhook &&
      s.labels.result === result
    )?.value;
  assert.equal(count(validate.name, "denied"), 1);
  assert.equal(count(validate.name, "allowed"), 1);
  assert.equal(count(validate.name, "error"), 1);
  assert.equal(count(convert.name, "success"), 1);
  assert.equal(
    samples.find((s) =>
      s.name === "roperator_webhook_request_duration_seconds_count" &&
      s.labels.webhook === validate.name
    )?.value,
    3,
  );
});

Deno.test("WebhookServer: a new certificate is served without refusing a request", async () => {
  const first = await pki();
  const second = await pki();
  await using server = await WebhookServer.start({
    webhooks: [validate],
    certificate: first.serving,
    port: 0,
    hostname: "127.0.0.1",
  });
  // A client that trusts both CAs keeps sending requests through the swap.
  using both = Deno.createHttpClient({ caCerts: [first.ca.certificate, second.ca.certificate] });
  let stop = false;
  let sent = 0;
  const failures: unknown[] = [];
  const load = (async () => {
    while (!stop) {
      try {
        const res = await fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
          method: "POST",
          body: admissionReview(1, `u${sent}`),
          client: both,
        });
        if (!res.ok) failures.push(res.status);
        await res.body?.cancel();
      } catch (error) {
        failures.push(error);
      }
      sent++;
    }
  })();
  while (sent < 20) await new Promise((r) => setTimeout(r, 5));
  await server.setCertificate(second.serving);
  const after = sent;
  while (sent < after + 20) await new Promise((r) => setTimeout(r, 5));
  stop = true;
  await load;
  assert.deepEqual(failures, []);

  // New connections get the new certificate: a client that trusts only the old CA is refused.
  using onlySecond = Deno.createHttpClient({ caCerts: [second.ca.certificate] });
  const ok = await fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
    method: "POST",
    body: admissionReview(1),
    client: onlySecond,
  });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  using onlyFirst = Deno.createHttpClient({ caCerts: [first.ca.certificate] });
  await assert.rejects(() =>
    fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
      method: "POST",
      body: admissionReview(1),
      client: onlyFirst,
    })
  );
});

Deno.test("WebhookServer: two webhooks on one path are refused", async () => {
  const { serving } = await pki();
  await assert.rejects(
    () =>
      WebhookServer.start({
        webhooks: [
          validate,
          validatingWebhook({
            type: Widget,
            handler: () => allow(),
            path: validate.path,
            name: "other.widgets.example.dev",
          }),
        ],
        certificate: serving,
        port: 0,
      }),
    WebhookServerError,
  );
});

interface RecordedSpan {
  name: string;
  attributes: Attributes;
  traceId: string;
  parentSpanId: string | undefined;
  status: SpanStatus;
  ended: boolean;
}

/** Records spans in memory (an SDK's job), enough to see names, attributes, parents, status. */
class MemoryTracerProvider implements TracerProvider {
  readonly spans: RecordedSpan[] = [];
  getTracer(): Tracer {
    const spans = this.spans;
    const startSpan = (name: string, options: SpanOptions = {}, ctx?: Context): Span => {
      const parent = ctx ? trace.getSpanContext(ctx) : undefined;
      const record: RecordedSpan = {
        name,
        attributes: { ...options.attributes },
        traceId: parent?.traceId ?? "0af7651916cd43dd8448eb211c80319c",
        parentSpanId: parent?.spanId,
        status: { code: SpanStatusCode.UNSET },
        ended: false,
      };
      spans.push(record);
      const span: Span = {
        spanContext: () => ({ traceId: record.traceId, spanId: "00f067aa0ba902b7", traceFlags: 1 }),
        setAttribute: (key, value) => {
          record.attributes[key] = value;
          return span;
        },
        setAttributes: (attributes) => {
          Object.assign(record.attributes, attributes);
          return span;
        },
        addEvent: () => span,
        addLink: () => span,
        addLinks: () => span,
        setStatus: (status) => {
          record.status = status;
          return span;
        },
        updateName: () => span,
        end: () => {
          record.ended = true;
        },
        isRecording: () => !record.ended,
        recordException: () => {},
      };
      return span;
    };
    return { startSpan, startActiveSpan: (() => {}) as unknown as Tracer["startActiveSpan"] };
  }
}

/** Reads a W3C `traceparent` (what @opentelemetry/core's propagator does). */
const traceparentPropagator: TextMapPropagator = {
  inject: () => {},
  extract: (ctx, carrier, getter) => {
    const value = getter.get(carrier, "traceparent");
    const match = typeof value === "string" &&
      /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value);
    if (!match) return ctx;
    return trace.setSpanContext(ctx, {
      traceId: match[1]!,
      spanId: match[2]!,
      traceFlags: Number.parseInt(match[3]!, 16),
      isRemote: true,
    });
  },
  fields: () => ["traceparent"],
};

Deno.test("WebhookServer: a span per request, a child of the API server's traceparent", async () => {
  const provider = new MemoryTracerProvider();
  assert.ok(trace.setGlobalTracerProvider(provider));
  assert.ok(propagation.setGlobalPropagator(traceparentPropagator));
  try {
    const { ca, serving } = await pki();
    await using server = await WebhookServer.start({
      webhooks: [validate],
      certificate: serving,
      port: 0,
      hostname: "127.0.0.1",
    });
    using client = Deno.createHttpClient({ caCerts: [ca.certificate] });
    const res = await fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
      method: "POST",
      body: admissionReview(20),
      headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-a3ce929d0e0e4736-01" },
      client,
    });
    await res.body?.cancel();
    const bad = await fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
      method: "POST",
      body: "not json",
      client,
    });
    await bad.body?.cancel();
    const [denied, failed] = provider.spans.filter((s) => s.name === "roperator.webhook");
    assert.equal(denied?.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(denied?.parentSpanId, "a3ce929d0e0e4736");
    assert.deepEqual(denied?.attributes, {
      "roperator.webhook.name": validate.name,
      "roperator.webhook.kind": "validating",
      "url.path": validate.path,
      "roperator.webhook.operation": "CREATE",
      "roperator.webhook.dry_run": false,
      "roperator.webhook.result": "denied",
    });
    assert.equal(denied?.ended, true);
    assert.equal(failed?.parentSpanId, undefined);
    assert.equal(failed?.status.code, SpanStatusCode.ERROR);
    assert.equal(failed?.attributes["roperator.webhook.result"], "error");
  } finally {
    trace.disable();
    propagation.disable();
  }
});

Deno.test("WebhookServer: a handler that throws is an HTTP 500 (the API server applies the failurePolicy), logged under roperator.webhook", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["roperator", "webhook"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    const broken = validatingWebhook({
      type: Widget,
      name: "broken.widgets.example.dev",
      handler: () => {
        throw new Error("the handler's bug");
      },
    });
    const { ca, serving } = await pki();
    await using server = await WebhookServer.start({
      webhooks: [broken, validate],
      certificate: serving,
      port: 0,
      hostname: "127.0.0.1",
    });
    using client = Deno.createHttpClient({ caCerts: [ca.certificate] });
    const res = await fetch(`https://127.0.0.1:${server.port}${broken.path}`, {
      method: "POST",
      body: admissionReview(1),
      client,
    });
    assert.equal(res.status, 500);
    assert.match(await res.text(), /the handler's bug/);
    const ok = await fetch(`https://127.0.0.1:${server.port}${validate.path}`, {
      method: "POST",
      body: admissionReview(20),
      client,
    });
    await ok.body?.cancel();
    const errors = records.filter((r) => r.level === "error");
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.properties.webhook, broken.name);
    const debug = records.find((r) => r.level === "debug" && r.properties.result === "denied");
    assert.equal(debug?.properties.webhook, validate.name);
    assert.equal(debug?.properties.message, "too big");
    assert.ok(records.every((r) => r.category.join(".") === "roperator.webhook"));
  } finally {
    await reset();
  }
});
