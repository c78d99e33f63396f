/**
 * Where an error came from, for logs and Events: the stack frames of the user's code (file:line),
 * without the frames of this library and of Deno's internals, and a note that fits a size limit.
 *
 * @module
 */

/** The root of this library's sources (the directory above `runner/`). */
const LIBRARY_ROOT = new URL("../", import.meta.url).href;
/**
 * The library's own source directories; `tests/`, `examples/`, `*_test.ts` files and the like are
 * user code.
 */
const LIBRARY_DIRS = ["client/", "config/", "deploy/", "handler/", "runner/", "testkit/", "mod.ts"];

/** `    at name (location:line:column)` or `    at location:line:column`. */
const FRAME = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;

/** Options for {@linkcode userFrames}. */
export interface UserFramesOptions {
  /** The most frames returned. Default 8. */
  max?: number;
  /**
   * Whether a location belongs to the library (its frames are dropped). Default: a file under
   * the library's own source directories.
   */
  isLibrary?: (location: string) => boolean;
}

function isLibraryLocation(location: string): boolean {
  if (!location.startsWith(LIBRARY_ROOT)) return false;
  const rest = location.slice(LIBRARY_ROOT.length);
  // The library's own tests call it like a user would.
  if (rest.endsWith("_test.ts")) return false;
  return LIBRARY_DIRS.some((dir) => rest.startsWith(dir));
}

function isInternal(location: string): boolean {
  return !/^(file|https?|jsr|npm):/.test(location);
}

/**
 * The stack frames of user code in an error, or in the first error of its `cause` chain that
 * has some, as `name (file:///path/file.ts:12:5)` or `file:///path/file.ts:12:5`. Frames of this
 * library and of Deno's internals (`ext:`, `node:`, `<anonymous>`) are dropped.
 *
 * @example
 * ```ts
 * import { userFrames } from "./error_frames.ts";
 * const error = new Error("boom");
 * error.stack = "Error: boom\n    at sync (file:///app/main.ts:12:11)\n    at ext:core/01_core.js:1:1";
 * userFrames(error); // ["sync (file:///app/main.ts:12:11)"]
 * ```
 *
 * @param error what was thrown
 * @param options the most frames, and what counts as the library
 * @returns the frames, innermost first; empty when there are none
 */
export function userFrames(error: unknown, options: UserFramesOptions = {}): string[] {
  const max = options.max ?? 8;
  const isLibrary = options.isLibrary ?? isLibraryLocation;
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const frames: string[] = [];
    for (const line of (e.stack ?? "").split("\n")) {
      const match = FRAME.exec(line);
      if (!match) continue;
      const [, name, location, lineNo, column] = match;
      if (isInternal(location!) || isLibrary(location!)) continue;
      const where = `${location}:${lineNo}:${column}`;
      frames.push(name ? `${name} (${where})` : where);
      if (frames.length >= max) break;
    }
    if (frames.length > 0) return frames;
  }
  return [];
}

/**
 * A text followed by as many of the frames (`\n    at <frame>`) as fit in `limitBytes` of
 * UTF-8; the text alone is cut to the limit (ending in `...`) when it does not fit by itself.
 *
 * @param text the message
 * @param frames the frames, from {@linkcode userFrames}
 * @param limitBytes the most bytes
 * @returns the note
 */
export function withFrames(text: string, frames: readonly string[], limitBytes: number): string {
  const encoder = new TextEncoder();
  let out = cutBytes(text, limitBytes);
  let size = encoder.encode(out).length;
  for (const frame of frames) {
    const line = `\n    at ${frame}`;
    const bytes = encoder.encode(line).length;
    if (size + bytes > limitBytes) break;
    out += line;
    size += bytes;
  }
  return out;
}

function cutBytes(text: string, limit: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= limit) return text;
  return new TextDecoder().decode(bytes.subarray(0, limit - 3)).replace(/\uFFFD$/, "") + "...";
}
