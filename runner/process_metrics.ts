/**
 * The process and runtime metrics every Prometheus client exports — resident memory, CPU time,
 * start time, open file descriptors — and the runtime's own: V8 heap used and total, and the
 * event-loop lag from a cheap timer-drift sampler ({@linkcode trackProcessMetrics}).
 *
 * @module
 */
import process from "node:process";
import type { Registry } from "./metrics/registry.ts";

/** What {@linkcode trackProcessMetrics} reads of the process; each field replaceable in tests. */
export interface ProcessProbe {
  /** `Deno.memoryUsage()`: RSS, V8 heap used and total, external memory, in bytes. */
  memory(): { rss: number; heapUsed: number; heapTotal: number; external: number };
  /** User plus system CPU time of the process, in seconds. */
  cpuSeconds(): number;
  /** When the process started, in seconds since the Unix epoch. */
  startTimeSeconds(): number;
  /** Open file descriptors, or `undefined` when they cannot be counted (no permission, no /proc). */
  openFds(): number | undefined;
}

/** Options for {@linkcode trackProcessMetrics}. */
export interface ProcessMetricsOptions {
  /** How the process is read; the real process by default ({@linkcode defaultProcessProbe}). */
  probe?: ProcessProbe;
  /** How often the event-loop lag sampler fires, in milliseconds (default 500; 0: no sampler). */
  lagSampleMs?: number;
  /** The clock of the lag sampler, in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** The event-loop lag sampler started by {@linkcode trackProcessMetrics}; stop it on shutdown. */
export interface ProcessMetrics extends Disposable {
  /** Stops the lag sampler. Idempotent. */
  stop(): void;
}

/**
 * Reads the real process: `Deno.memoryUsage()`, `process.cpuUsage()`, `performance.timeOrigin`
 * and the entries of `/proc/self/fd` when reading it is already allowed (never prompts).
 */
export const defaultProcessProbe: ProcessProbe = {
  memory: () => Deno.memoryUsage(),
  cpuSeconds: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
  startTimeSeconds: () => performance.timeOrigin / 1000,
  openFds: () => {
    try {
      const state = Deno.permissions.querySync({ name: "read", path: "/proc/self/fd" }).state;
      if (state !== "granted") return undefined;
      let n = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
      // One of them is the directory being read.
      return n - 1;
    } catch {
      return undefined;
    }
  },
};

/**
 * Measures how late a periodic timer fires: the event loop's lag. Pure arithmetic over the times
 * it is given; {@linkcode trackProcessMetrics} drives it with `setInterval`.
 */
export class LagSampler {
  readonly #periodMs: number;
  #expected: number;
  #maxSinceRead = 0;
  #last = 0;
  #fresh = false;

  /**
   * Creates a sampler for a timer armed at `start`.
   *
   * @param periodMs the period of the timer
   * @param start when the timer was armed
   */
  constructor(periodMs: number, start: number) {
    this.#periodMs = periodMs;
    this.#expected = start + periodMs;
  }

  /**
   * Records one firing of the timer.
   *
   * @param now when it fired
   */
  tick(now: number): void {
    const lag = Math.max(0, now - this.#expected);
    this.#last = lag;
    this.#maxSinceRead = this.#fresh ? Math.max(this.#maxSinceRead, lag) : lag;
    this.#fresh = true;
    this.#expected = now + this.#periodMs;
  }

  /**
   * The largest lag since the previous read, or the last one when the timer has not fired since,
   * in milliseconds.
   *
   * @returns the lag
   */
  read(): number {
    const lag = this.#fresh ? this.#maxSinceRead : this.#last;
    this.#fresh = false;
    return lag;
  }
}

/**
 * Registers the standard process metrics (`process_resident_memory_bytes`,
 * `process_cpu_seconds_total`, `process_start_time_seconds`, `process_open_fds` when
 * `/proc/self/fd` may be read) and the runtime's (`deno_heap_used_bytes`,
 * `deno_heap_total_bytes`, `deno_external_memory_bytes`, `deno_eventloop_lag_seconds`). Every
 * value is read at render time, except the lag, which an unref'd timer samples.
 *
 * @param registry where to register them
 * @param options the probe and the lag sampler's period
 * @returns the sampler, to stop on shutdown
 */
export function trackProcessMetrics(
  registry: Registry,
  options: ProcessMetricsOptions = {},
): ProcessMetrics {
  const probe = options.probe ?? defaultProcessProbe;
  const now = options.now ?? (() => performance.now());
  const periodMs = options.lagSampleMs ?? 500;
  // One read of the memory per render, shared by the gauges that follow the first.
  let memory = probe.memory();
  registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {
    collect: (g) => {
      memory = probe.memory();
      g.set(memory.rss);
      // The counter has no collect callback: bring it up to the process's CPU time here.
      const cpu = probe.cpuSeconds();
      const seen = cpuTotal.get();
      if (cpu > seen) cpuTotal.inc(cpu - seen);
    },
  });
  const cpuTotal = registry.counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
  );
  registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
    { collect: (g) => g.set(probe.startTimeSeconds()) },
  );
  // Only when the descriptors can be counted (read permission on /proc/self/fd): else omitted.
  if (probe.openFds() !== undefined) {
    registry.gauge("process_open_fds", "Number of open file descriptors.", {
      collect: (g) => g.set(probe.openFds() ?? Number.NaN),
    });
  }
  registry.gauge("deno_heap_used_bytes", "V8 heap used, in bytes (Deno.memoryUsage).", {
    collect: (g) => g.set(memory.heapUsed),
  });
  registry.gauge("deno_heap_total_bytes", "V8 heap committed, in bytes (Deno.memoryUsage).", {
    collect: (g) => g.set(memory.heapTotal),
  });
  registry.gauge(
    "deno_external_memory_bytes",
    "Memory of objects outside the V8 heap (buffers), in bytes (Deno.memoryUsage).",
    { collect: (g) => g.set(memory.external) },
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  const sampler = new LagSampler(periodMs, now());
  registry.gauge(
    "deno_eventloop_lag_seconds",
    "Largest delay of a periodic timer since the previous scrape, in seconds.",
    { collect: (g) => g.set(sampler.read() / 1000) },
  );
  if (periodMs > 0) {
    const id = setInterval(() => sampler.tick(now()), periodMs);
    Deno.unrefTimer(id);
    timer = id;
  }
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  return { stop, [Symbol.dispose]: stop };
}
