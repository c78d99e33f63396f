/**
 * Matching labels against a label selector in the string form of the API server
 * (`a=b,c!=d,e in (f,g),h notin (i),j,!k`), for the related references a parent gives as
 * selectors: the runner decides which cached objects they select.
 *
 * @module
 */

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

const cache = new Map<string, Requirement[]>();

function parse(selector: string): Requirement[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((raw) => raw.trim()).filter((t) => t !== "").map((term): Requirement => {
    let m: RegExpExecArray | null;
    if ((m = /^!\s*(\S+)$/.exec(term))) {
      const key = m[1]!;
      return (labels) => !Object.hasOwn(labels, key);
    }
    if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
      const key = m[1]!;
      const values = new Set(m[3]!.split(",").map((v) => v.trim()));
      return m[2] === "in"
        ? (labels) => Object.hasOwn(labels, key) && values.has(labels[key]!)
        : (labels) => !Object.hasOwn(labels, key) || !values.has(labels[key]!);
    }
    if ((m = /^([^\s!=]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const key = m[1]!;
      const value = m[3]!;
      return m[2] === "!="
        ? (labels) => labels[key] !== value
        : (labels) => Object.hasOwn(labels, key) && labels[key] === value;
    }
    if ((m = /^(\S+?)\s*([<>])\s*(-?\d+)$/.exec(term))) {
      const key = m[1]!;
      const bound = Number(m[3]);
      const greater = m[2] === ">";
      return (labels) => {
        const value = labels[key];
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        return greater ? Number(value) > bound : Number(value) < bound;
      };
    }
    const key = term;
    return (labels) => Object.hasOwn(labels, key);
  });
}

/**
 * Whether labels match a label selector. An empty selector matches everything.
 *
 * @example
 * ```ts
 * import { matchesLabelSelector } from "./label_selector.ts";
 * matchesLabelSelector("app=web,tier in (a,b)", { app: "web", tier: "a" }); // true
 * ```
 *
 * @param selector the selector, as the API server takes it (assumed valid)
 * @param labels the object's labels
 * @returns whether every requirement holds
 */
export function matchesLabelSelector(
  selector: string,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  let requirements = cache.get(selector);
  if (requirements === undefined) {
    requirements = parse(selector);
    if (cache.size > 1000) cache.clear();
    cache.set(selector, requirements);
  }
  const actual = labels ?? {};
  return requirements.every((requirement) => requirement(actual));
}
