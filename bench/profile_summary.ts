/**
 * Summarises a V8 CPU profile (`deno run --cpu-prof`, or `bench/harness.ts --cpu-prof`): self
 * time by function and by file, and inclusive time of the library's functions.
 *
 * ```sh
 * deno run --allow-read bench/profile_summary.ts bench/results/<run>/profiles/converge-0/*.cpuprofile
 * ```
 *
 * @module
 */

/** A node of a `.cpuprofile`. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

/** A `.cpuprofile` file. */
export interface CpuProfile {
  /** The call tree. */
  nodes: ProfileNode[];
  /** Start and end, in µs. */
  startTime: number;
  /** End, in µs. */
  endTime: number;
  /** The sampled node ids. */
  samples: number[];
  /** Microseconds between samples. */
  timeDeltas: number[];
}

/** Time spent, in ms, by label. */
export type Breakdown = Array<{ label: string; ms: number }>;

/** What {@linkcode summarize} finds. */
export interface ProfileSummary {
  /** Wall time covered by the profile, in ms. */
  totalMs: number;
  /** Sampled time not idle (no `(idle)` or `(program)` frames), in ms. */
  busyMs: number;
  /** Self time by function (`name file:line`). */
  byFunction: Breakdown;
  /** Self time by file (or `(native)`). */
  byFile: Breakdown;
  /** Inclusive time by function, for the repository's own code. */
  inclusive: Breakdown;
}

function shortUrl(url: string): string {
  if (!url) return "(native)";
  const repo = url.indexOf("/work/main/");
  if (repo >= 0) return url.slice(repo + "/work/main/".length);
  const npm = url.indexOf("/npm/");
  if (npm >= 0) return url.slice(npm + 1);
  return url.replace(/^file:\/\//, "");
}

function sorted(map: Map<string, number>, top: number): Breakdown {
  return [...map].map(([label, us]) => ({ label, ms: us / 1000 }))
    .sort((a, b) => b.ms - a.ms).slice(0, top);
}

/**
 * Summarises a profile.
 *
 * @param profile the parsed `.cpuprofile`
 * @param top how many entries per breakdown
 * @param ownCode which URLs count as the project's code for the inclusive breakdown
 * @returns the summary
 */
export function summarize(
  profile: CpuProfile,
  top = 25,
  ownCode: (url: string) => boolean = (url) => url.includes("/work/main/"),
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    busy += us;
    const label = `${functionName || "(anonymous)"} ${shortUrl(url)}:${lineNumber + 1}`;
    byFunction.set(label, (byFunction.get(label) ?? 0) + us);
    byFile.set(shortUrl(url), (byFile.get(shortUrl(url)) ?? 0) + us);
    // Inclusive: every distinct own-code frame on the stack gets the sample's time once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (!ownCode(frame.url)) continue;
      const key = `${frame.functionName || "(anonymous)"} ${shortUrl(frame.url)}:${
        frame.lineNumber + 1
      }`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    byFunction: sorted(byFunction, top),
    byFile: sorted(byFile, top),
    inclusive: sorted(inclusive, top),
  };
}

/**
 * Formats a summary as text.
 *
 * @param summary the summary
 * @returns the text
 */
export function formatSummary(summary: ProfileSummary): string {
  const section = (title: string, list: Breakdown) =>
    [
      title,
      ...list.map((e) =>
        `${e.ms.toFixed(1).padStart(9)} ms ${
          ((100 * e.ms) / summary.busyMs).toFixed(1).padStart(5)
        }%  ${e.label}`
      ),
    ].join("\n");
  return [
    `profile: ${summary.totalMs.toFixed(0)} ms wall, ${summary.busyMs.toFixed(0)} ms on the CPU`,
    section("self time by function:", summary.byFunction),
    section("self time by file:", summary.byFile),
    section("inclusive time, own code:", summary.inclusive),
  ].join("\n\n");
}

if (import.meta.main) {
  if (Deno.args.length === 0) {
    console.error("usage: profile_summary.ts <file.cpuprofile>…");
    Deno.exit(2);
  }
  for (const path of Deno.args) {
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    console.log(`== ${path}`);
    console.log(formatSummary(summarize(profile)));
    console.log();
  }
}
