import assert from "node:assert/strict";
import {
  type BackoffConfig,
  backoffConfig,
  DEFAULT_BACKOFF,
  ExponentialBackoff,
  KeyedBackoff,
} from "./backoff.ts";

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

function take(backoff: ExponentialBackoff, count: number): (number | undefined)[] {
  return Array.from({ length: count }, () => backoff.next());
}

Deno.test("backoffConfig: defaults", () => {
  assert.deepEqual({ ...backoffConfig() }, {
    initialMs: 500,
    maxMs: 600_000,
    multiplier: 1.5,
    jitter: 0.5,
  });
  assert.deepEqual(backoffConfig(), DEFAULT_BACKOFF);
  assert.equal(backoffConfig({ maxMs: 1_000 }).maxMs, 1_000);
  assert.ok(Object.isFrozen(backoffConfig({ jitter: 0 })));
});

Deno.test("backoffConfig: rejects out-of-range values", async (t) => {
  const cases: [Partial<BackoffConfig>, RegExp][] = [
    [{ initialMs: -1 }, /initialMs/],
    [{ initialMs: Infinity }, /initialMs/],
    [{ initialMs: NaN }, /initialMs/],
    [{ maxMs: 100 }, /maxMs must be a finite number of at least initialMs \(500\)/],
    [{ multiplier: 0.5 }, /multiplier/],
    [{ jitter: 1.5 }, /jitter/],
    [{ jitter: -0.1 }, /jitter/],
    [{ giveUpAfterMs: -1 }, /giveUpAfterMs/],
  ];
  for (const [config, message] of cases) {
    await t.step(JSON.stringify(config), () => {
      assert.throws(() => backoffConfig(config), (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /^Cannot configure backoff: /);
        assert.match(error.message, message);
        return true;
      });
    });
  }
  await t.step("unknown option", () => {
    assert.throws(
      () => backoffConfig({ initialDelay: 5 } as Partial<BackoffConfig>),
      { name: "TypeError", message: 'Cannot configure backoff: "initialDelay" is not an option' },
    );
  });
});

Deno.test("ExponentialBackoff: grows by the multiplier up to maxMs", () => {
  const backoff = new ExponentialBackoff({
    initialMs: 100,
    maxMs: 1_000,
    multiplier: 2,
    jitter: 0,
  });
  assert.deepEqual(take(backoff, 7), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  assert.equal(backoff.attempts, 7);
});

Deno.test("ExponentialBackoff: the default sequence without jitter", () => {
  const backoff = new ExponentialBackoff({ jitter: 0 });
  assert.deepEqual(take(backoff, 4), [500, 750, 1_125, 1_688]);
  // Far along, it stays at the cap.
  for (let i = 0; i < 100; i++) backoff.next();
  assert.equal(backoff.next(), 600_000);
});

Deno.test("ExponentialBackoff: the first delay is initialMs, also after a reset", () => {
  // Jitter at its extremes does not move the first delay.
  for (const random of [() => 0, () => 0.999999]) {
    const backoff = new ExponentialBackoff({}, { random });
    assert.equal(backoff.next(), 500);
    backoff.next();
    backoff.next();
    backoff.reset();
    assert.equal(backoff.attempts, 0);
    assert.equal(backoff.next(), 500);
  }
});

Deno.test("ExponentialBackoff: jitter spreads later delays by ±jitter", () => {
  const low = new ExponentialBackoff({ initialMs: 1_000, multiplier: 2 }, { random: () => 0 });
  assert.deepEqual(take(low, 3), [1_000, 1_000, 2_000]); // 2000 × 0.5, 4000 × 0.5
  const high = new ExponentialBackoff({ initialMs: 1_000, multiplier: 2 }, {
    random: () => 0.999999,
  });
  const [, second, third] = take(high, 3);
  assert.ok(second! > 2_999 && second! <= 3_000, String(second));
  assert.ok(third! > 5_999 && third! <= 6_000, String(third));
  const middle = new ExponentialBackoff({ initialMs: 1_000, multiplier: 2 }, {
    random: () => 0.5,
  });
  assert.deepEqual(take(middle, 3), [1_000, 2_000, 4_000]);
});

Deno.test("ExponentialBackoff: jitter never goes above maxMs", () => {
  const backoff = new ExponentialBackoff({ initialMs: 100, maxMs: 150, multiplier: 2 }, {
    random: () => 0.999999,
  });
  assert.deepEqual(take(backoff, 4), [100, 150, 150, 150]);
});

Deno.test("ExponentialBackoff: real randomness stays within bounds", () => {
  const backoff = new ExponentialBackoff({ initialMs: 1_000, multiplier: 1, maxMs: 10_000 });
  assert.equal(backoff.next(), 1_000);
  for (let i = 0; i < 200; i++) {
    const delay = backoff.next()!;
    assert.ok(delay >= 500 && delay <= 1_500, String(delay));
    assert.ok(Number.isInteger(delay));
  }
});

Deno.test("ExponentialBackoff: gives up after giveUpAfterMs until reset", () => {
  const time = clock();
  const backoff = new ExponentialBackoff(
    { initialMs: 100, multiplier: 2, jitter: 0, giveUpAfterMs: 1_000 },
    { now: time.now },
  );
  const delays: (number | undefined)[] = [];
  for (;;) {
    const delay = backoff.next();
    delays.push(delay);
    if (delay === undefined) break;
    time.advance(delay);
  }
  // Retries at 100, 300, 700 ms; the next would be at 1500 ms > 1000 ms.
  assert.deepEqual(delays, [100, 200, 400, undefined]);
  assert.equal(backoff.gaveUp, true);
  assert.equal(backoff.next(), undefined);
  assert.equal(backoff.attempts, 3);
  backoff.reset();
  assert.equal(backoff.gaveUp, false);
  assert.equal(backoff.next(), 100);
});

Deno.test("ExponentialBackoff: giveUpAfterMs 0 never retries", () => {
  const backoff = new ExponentialBackoff({ giveUpAfterMs: 0 });
  assert.equal(backoff.next(), undefined);
  assert.equal(backoff.attempts, 0);
});

Deno.test("ExponentialBackoff: initialMs 0 always retries at once", () => {
  const backoff = new ExponentialBackoff({ initialMs: 0, jitter: 0 });
  assert.deepEqual(take(backoff, 3), [0, 0, 0]);
});

Deno.test("KeyedBackoff: one sequence per key", () => {
  const backoff = new KeyedBackoff({ initialMs: 100, multiplier: 2, jitter: 0 });
  assert.equal(backoff.next("a"), 100);
  assert.equal(backoff.next("a"), 200);
  assert.equal(backoff.next("b"), 100);
  assert.equal(backoff.next("a"), 400);
  assert.equal(backoff.attempts("a"), 3);
  assert.equal(backoff.attempts("b"), 1);
  assert.equal(backoff.attempts("c"), 0);
  assert.equal(backoff.size, 2);
  backoff.reset("a");
  assert.equal(backoff.size, 1);
  assert.equal(backoff.next("a"), 100);
  assert.equal(backoff.delete("b"), true);
  assert.equal(backoff.delete("b"), false);
  assert.equal(backoff.next("b"), 100);
  backoff.clear();
  assert.equal(backoff.size, 0);
});

Deno.test("KeyedBackoff: giving up is per key", () => {
  const time = clock();
  const backoff = new KeyedBackoff({ initialMs: 100, jitter: 0, giveUpAfterMs: 150 }, {
    now: time.now,
  });
  assert.equal(backoff.next("a"), 100);
  time.advance(100);
  assert.equal(backoff.next("a"), undefined); // 100 + 150 > 150
  assert.equal(backoff.next("b"), 100);
  backoff.reset("a");
  assert.equal(backoff.next("a"), 100);
});

Deno.test("KeyedBackoff: forgets keys left idle for long", () => {
  const time = clock();
  const backoff = new KeyedBackoff({ initialMs: 100, maxMs: 1_000, jitter: 0 }, {
    now: time.now,
  });
  backoff.next("gone");
  backoff.next("gone");
  backoff.next("busy");
  time.advance(50_000);
  backoff.next("busy");
  time.advance(20_000); // "gone" idle 70 s > max(2 × 1 s, 60 s); "busy" idle 20 s
  backoff.next("other");
  assert.equal(backoff.attempts("gone"), 0);
  assert.equal(backoff.attempts("busy"), 2);
  assert.equal(backoff.size, 2);
  assert.equal(backoff.next("gone"), 100);
});

Deno.test("KeyedBackoff: keys of any type", () => {
  const backoff = new KeyedBackoff<number>({ jitter: 0 });
  assert.equal(backoff.next(1), 500);
  assert.equal(backoff.next(1), 750);
  assert.equal(backoff.next(2), 500);
});
