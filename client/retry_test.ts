// The retry policy of KubeClient, against a local server that counts attempts: one budget for
// every kind of failure, permanent errors sent once, and nothing sent after the caller aborts.
import assert from "node:assert/strict";
import { KubeClient, type RetryOptions } from "./kube_client.ts";
import { ApiError, NetworkError } from "./errors.ts";
import { fakeServer, statusResponse } from "./testdata/fake_server.ts";

/** Runs `fn` against a server answering with `answer`, and returns the attempts it saw. */
async function attempts(
  answer: (request: Request, attempt: number) => Response | Promise<Response>,
  fn: (client: KubeClient) => Promise<unknown>,
  retry: RetryOptions = {},
): Promise<{ count: number; result: unknown }> {
  let count = 0;
  const server = fakeServer((request) => answer(request, ++count));
  using client = new KubeClient({ server: server.url }, {
    retry: { initialDelayMs: 1, maxDelayMs: 2, ...retry },
  });
  try {
    const result = await fn(client).then((value) => value, (error: unknown) => error);
    return { count, result };
  } finally {
    await server.close();
  }
}

const TOO_LARGE = "etcdserver: request is too large";

Deno.test("KubeClient: how often each kind of failure is sent", async (t) => {
  const cases: Array<{
    name: string;
    method: string;
    answer: () => Response;
    attempts: number;
  }> = [
    { name: "GET 500", method: "GET", answer: () => statusResponse(500), attempts: 6 },
    { name: "PUT 503", method: "PUT", answer: () => statusResponse(503), attempts: 6 },
    { name: "GET 504", method: "GET", answer: () => statusResponse(504), attempts: 6 },
    { name: "POST 500", method: "POST", answer: () => statusResponse(500), attempts: 1 },
    { name: "POST 429", method: "POST", answer: () => statusResponse(429), attempts: 6 },
    { name: "PATCH 429", method: "PATCH", answer: () => statusResponse(429), attempts: 6 },
    { name: "GET 408", method: "GET", answer: () => statusResponse(408), attempts: 6 },
    { name: "POST 408", method: "POST", answer: () => statusResponse(408), attempts: 1 },
    { name: "GET 501", method: "GET", answer: () => statusResponse(501), attempts: 1 },
    {
      name: "PUT 500 etcd request too large",
      method: "PUT",
      answer: () => statusResponse(500, TOO_LARGE),
      attempts: 1,
    },
    {
      name: "GET 500 etcd request too large",
      method: "GET",
      answer: () => statusResponse(500, TOO_LARGE),
      attempts: 1,
    },
    { name: "GET 400", method: "GET", answer: () => statusResponse(400), attempts: 1 },
    { name: "GET 403", method: "GET", answer: () => statusResponse(403), attempts: 1 },
    { name: "GET 404", method: "GET", answer: () => statusResponse(404), attempts: 1 },
    { name: "PUT 409", method: "PUT", answer: () => statusResponse(409), attempts: 1 },
    { name: "GET 410", method: "GET", answer: () => statusResponse(410), attempts: 1 },
    { name: "PUT 422", method: "PUT", answer: () => statusResponse(422), attempts: 1 },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { count, result } = await attempts(
        () => c.answer(),
        (client) => client.request(c.method, "/api/v1/x", c.method === "GET" ? {} : { body: {} }),
      );
      assert.ok(result instanceof ApiError, String(result));
      assert.equal(count, c.attempts);
    });
  }
});

Deno.test("KubeClient: errors of every kind share one budget of maxRetries", async () => {
  // A 500, then a 200 whose body breaks off, again and again: each retry counts once.
  const { count, result } = await attempts(
    (_, attempt) =>
      attempt % 2 === 1 ? statusResponse(500) : new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"kind":'));
            controller.error(new Error("cut"));
          },
        }),
      ),
    (client) => client.request("GET", "/api/v1/x"),
  );
  assert.ok(result instanceof ApiError || result instanceof NetworkError, String(result));
  assert.equal(count, 6);
});

Deno.test("KubeClient: maxRetries bounds the attempts", async () => {
  const { count } = await attempts(
    () => statusResponse(503),
    (client) => client.request("GET", "/api/v1/x"),
    { maxRetries: 2 },
  );
  assert.equal(count, 3);
});

Deno.test("KubeClient: no retry starts past maxElapsedMs", async () => {
  const { count, result } = await attempts(
    () => statusResponse(429, "slow down", { "Retry-After": "1" }),
    (client) => client.request("POST", "/api/v1/x", { body: {} }),
    { maxElapsedMs: 500 },
  );
  assert.ok(result instanceof ApiError && result.isTooManyRequests, String(result));
  assert.equal(count, 1, "a retry after 1 s would end past 500 ms");
  const within = await attempts(
    (_, attempt) =>
      attempt < 3 ? statusResponse(429, "slow down", { "Retry-After": "0" }) : Response.json({}),
    (client) => client.request("POST", "/api/v1/x", { body: {} }),
    { maxElapsedMs: 60_000 },
  );
  assert.deepEqual(within, { count: 3, result: {} });
});

Deno.test("KubeClient: nothing is sent again once the signal aborted", async (t) => {
  const answers: Array<[string, () => Response]> = [
    ["429", () => statusResponse(429, "slow down", { "Retry-After": "0" })],
    ["503", () => statusResponse(503)],
    [
      "401 (no re-send with refreshed credentials)",
      () => Response.json({ kind: "Status", code: 401 }, { status: 401 }),
    ],
  ];
  for (const method of ["GET", "PUT", "POST"]) {
    for (const [name, answer] of answers) {
      await t.step(`${method} answered ${name}`, async () => {
        const controller = new AbortController();
        const reason = new Error("leadership lost");
        const { count, result } = await attempts(
          () => {
            // The abort comes while the server answers: the answer may be retriable, but
            // nothing may be sent after the abort.
            controller.abort(reason);
            return answer();
          },
          (client) =>
            client.request(method, "/api/v1/x", {
              ...(method === "GET" ? {} : { body: {} }),
              signal: controller.signal,
            }),
        );
        assert.equal(count, 1);
        assert.equal(result, reason);
      });
    }
  }
});
