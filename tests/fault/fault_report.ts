/**
 * The fault suite's results table: each test records, for its fault, how many runs it made, how
 * many the operator survived, and how many objects were lost. Each test file prints its own rows
 * in `afterAll`, so the table works when `deno test --parallel` runs files in separate workers.
 *
 * @module
 */

import { messageOf } from "../../client/_util.ts";

/** One row of the table. */
export interface FaultResult {
  /** The fault, as a short phrase. */
  fault: string;
  /** How many times the fault was injected. */
  runs: number;
  /** How many of those the operator came through with every object right. */
  survived: number;
  /** Desired objects missing, wrong or duplicated at the end. */
  objectsLost: number;
  /** A measurement worth reading, such as a latency. */
  note?: string;
}

/** What a test body fills in while it runs; recorded even when the test fails. */
export interface FaultRun {
  /** How many times the fault was injected (default 1). */
  runs: number;
  /** How many of those were survived; set by the body when it passes (default `runs`). */
  survived?: number;
  /** Objects lost (default 0; unknown, shown as `?`, when the test failed before counting). */
  objectsLost?: number;
  /** A measurement worth reading. */
  note?: string;
}

/** The rows of one test file. */
export class FaultReport {
  readonly #file: string;
  readonly #rows: FaultResult[] = [];

  /**
   * Creates the report of one test file.
   *
   * @param file the test file's name, printed above its rows
   */
  constructor(file: string) {
    this.#file = file;
  }

  /** The rows so far. */
  get rows(): readonly FaultResult[] {
    return this.#rows;
  }

  /**
   * Wraps a test body: runs it and records its row, whether it passes or throws (a test that
   * throws survived nothing).
   *
   * @param fault the fault's name in the table
   * @param body the test body; it sets `runs`, `objectsLost` and `note` on its argument
   * @returns the test function for `Deno.test`
   */
  test(fault: string, body: (run: FaultRun) => Promise<void>): () => Promise<void> {
    return async () => {
      const run: FaultRun = { runs: 1 };
      try {
        await body(run);
        this.#rows.push({
          fault,
          runs: run.runs,
          survived: run.survived ?? run.runs,
          objectsLost: run.objectsLost ?? 0,
          ...(run.note === undefined ? {} : { note: run.note }),
        });
      } catch (error) {
        this.#rows.push({
          fault,
          runs: run.runs,
          survived: 0,
          objectsLost: run.objectsLost ?? Number.NaN,
          note: `FAILED: ${messageOf(error).split("\n")[0]}`
            .slice(0, 120),
        });
        throw error;
      }
    };
  }

  /**
   * The table as Markdown.
   *
   * @returns the table, one line per row
   */
  render(): string {
    const lines = [
      `fault suite: ${this.#file}`,
      "| fault | runs | survived | objects lost | note |",
      "| --- | ---: | ---: | ---: | --- |",
    ];
    for (const row of this.#rows) {
      const lost = Number.isNaN(row.objectsLost) ? "?" : String(row.objectsLost);
      lines.push(
        `| ${row.fault} | ${row.runs} | ${row.survived} | ${lost} | ${row.note ?? ""} |`,
      );
    }
    return lines.join("\n");
  }

  /** Prints the table to stdout. */
  print(): void {
    console.log(`\n${this.render()}\n`);
  }
}
