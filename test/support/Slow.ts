/**
 * The slow suites (crash, faults, browser) run when ETL_SLOW_TESTS=1, which
 * CI sets; otherwise they say why they are skipped.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const SLOW = process.env.ETL_SLOW_TESTS === "1"
export const root = join(import.meta.dirname, "../..")
export const bin = join(root, "bin/etl.js")

/** Prints why `what` is skipped when the slow suites are off; returns a fresh working folder. */
export const slowSuite = (what: string, prefix: string) => {
  if (!SLOW) console.log(`skipped: ${what} are slow; set ETL_SLOW_TESTS=1 to run them (CI does)`)
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, data: join(dir, "input") }
}
