import assert from "node:assert/strict";
import { createCertificateAuthority, issueCertificate } from "./certs.ts";
import { type FaultProxy, startFaultProxy } from "./fault_proxy.ts";

/** A TCP echo server on a free loopback port. */
function echoServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const copies = new Set<Promise<void>>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        const copy = (async () => {
          const buffer = new Uint8Array(16 * 1024);
          try {
            while (true) {
              const n = await conn.read(buffer);
              if (n === null) break;
              let written = 0;
              while (written < n) written += await conn.write(buffer.subarray(written, n));
            }
          } catch { /* closed */ }
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        })();
        copies.add(copy);
      }
    } catch { /* closed */ }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting;
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await Promise.all(copies);
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads a connection with at most one read pending, so a timed-out wait loses no bytes. */
class Reader {
  #pending: Promise<Uint8Array | null> | undefined;

  constructor(readonly conn: Deno.TcpConn) {}

  #read(): Promise<Uint8Array | null> {
    return this.#pending ??= (async () => {
      const buffer = new Uint8Array(4096);
      const n = await this.conn.read(buffer).catch(() => null);
      return n === null ? null : buffer.subarray(0, n);
    })();
  }

  /** Reads until `expected` bytes arrived, EOF, or the timeout. */
  async some(
    expected: number,
    timeoutMs = 5000,
  ): Promise<{ text: string; eof: boolean; timedOut: boolean }> {
    let text = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      while (text.length < expected) {
        const result = await Promise.race([this.#read(), timeout]);
        if (result === "timeout") return { text, eof: false, timedOut: true };
        this.#pending = undefined;
        if (result === null) return { text, eof: true, timedOut: false };
        text += decoder.decode(result);
      }
      return { text, eof: false, timedOut: false };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection and settles the pending read. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#pending;
  }
}

async function withProxy(body: (proxy: FaultProxy) => Promise<void>): Promise<void> {
  const echo = echoServer();
  const proxy = startFaultProxy({ target: { hostname: "127.0.0.1", port: echo.port } });
  try {
    await body(proxy);
  } finally {
    await proxy.close();
    await echo.close();
  }
}

async function connect(proxy: FaultProxy): Promise<Reader> {
  return new Reader(await Deno.connect({ hostname: proxy.hostname, port: proxy.port }));
}

async function send(reader: Reader, text: string): Promise<void> {
  await reader.conn.write(encoder.encode(text));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

Deno.test("startFaultProxy() forwards bytes both ways, counts connections and closes them all", async () => {
  await withProxy(async (proxy) => {
    const a = await connect(proxy);
    const b = await connect(proxy);
    await send(a, "hello");
    await send(b, "world");
    assert.equal((await a.some(5)).text, "hello");
    assert.equal((await b.some(5)).text, "world");
    assert.equal(proxy.connections.accepted, 2);
    assert.equal(proxy.connections.open, 2);
    await proxy.close();
    assert.equal(proxy.connections.open, 0);
    assert.ok((await a.some(1)).eof, "close() closed the connection");
    await a.close();
    await b.close();
    await proxy.close(); // a second close is harmless
  });
});

Deno.test("FaultProxy.cut() closes every open connection and still accepts new ones", async () => {
  await withProxy(async (proxy) => {
    const a = await connect(proxy);
    await send(a, "x");
    assert.equal((await a.some(1)).text, "x");
    assert.equal(proxy.cut(), 1);
    assert.ok((await a.some(1)).eof, "the client sees the connection end");
    await a.close();
    assert.equal(proxy.connections.cut, 1);
    const b = await connect(proxy);
    await send(b, "again");
    assert.equal((await b.some(5)).text, "again");
    await b.close();
  });
});

Deno.test("FaultProxy.stall() makes open connections silent until resume(), without closing them", async () => {
  await withProxy(async (proxy) => {
    const a = await connect(proxy);
    await send(a, "1");
    assert.equal((await a.some(1)).text, "1");
    proxy.stall();
    await send(a, "held");
    const silent = await a.some(4, 300);
    assert.ok(silent.timedOut && silent.text === "", "nothing arrives while stalled");
    // New connections are forwarded by default: only the old one went silent.
    const b = await connect(proxy);
    await send(b, "new");
    assert.equal((await b.some(3)).text, "new");
    proxy.resume();
    assert.equal((await a.some(4)).text, "held", "held bytes are delivered on resume");
    // With newConnections, a connection made during the stall is silent too.
    proxy.stall({ newConnections: true });
    const c = await connect(proxy);
    await send(c, "c");
    assert.ok((await c.some(1, 300)).timedOut);
    proxy.resume();
    assert.equal((await c.some(1)).text, "c");
    for (const reader of [a, b, c]) await reader.close();
  });
});

Deno.test("FaultProxy.delay() adds latency per chunk in both directions", async () => {
  await withProxy(async (proxy) => {
    const a = await connect(proxy);
    await send(a, "warm");
    await a.some(4);
    proxy.delay(150);
    assert.equal(proxy.delayMs, 150);
    const started = performance.now();
    await send(a, "slow");
    assert.equal((await a.some(4)).text, "slow");
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290, `a round trip takes two delays (took ${elapsed.toFixed(0)} ms)`);
    proxy.delay(0);
    await a.close();
    assert.throws(() => proxy.delay(-1), RangeError);
  });
});

Deno.test("FaultProxy.refuse() closes new connections at once and leaves open ones", async () => {
  await withProxy(async (proxy) => {
    const open = await connect(proxy);
    await until(() => proxy.connections.accepted === 1);
    proxy.refuse();
    const refused = await connect(proxy);
    await send(refused, "x").catch(() => {});
    assert.ok((await refused.some(1)).eof, "the refused connection is closed");
    await refused.close();
    assert.equal(proxy.connections.refused, 1);
    await send(open, "still");
    assert.equal((await open.some(5)).text, "still");
    proxy.refuse(false);
    const again = await connect(proxy);
    await send(again, "ok");
    assert.equal((await again.some(2)).text, "ok");
    await open.close();
    await again.close();
  });
});

Deno.test("a FaultProxy in front of an HTTPS server passes TLS through: the right CA works, a wrong one fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "roperator-proxy-test-" });
  const ca = await createCertificateAuthority(dir, "ca");
  const other = await createCertificateAuthority(dir, "other-ca");
  const serving = await issueCertificate(ca, "server", {
    commonName: "server",
    usage: "serverAuth",
    ipAddresses: ["127.0.0.1"],
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: serving.certificate, key: serving.key, onListen() {} },
    () => new Response("through\n"),
  );
  const proxy = startFaultProxy({ target: `https://127.0.0.1:${server.addr.port}` });
  const good = Deno.createHttpClient({ caCerts: [ca.certificate] });
  const bad = Deno.createHttpClient({ caCerts: [other.certificate] });
  try {
    const res = await fetch(`${proxy.url}/`, { client: good });
    assert.equal(await res.text(), "through\n");
    await assert.rejects(fetch(`${proxy.url}/`, { client: bad }), TypeError);
  } finally {
    good.close();
    bad.close();
    await proxy.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
