/**
 * SPLIT_READ's default (`auto`) on a sales file large enough to split: the
 * binary's first load reads it with two threads and leaves the warehouse a
 * one-thread run leaves; a split run killed halfway leaves no side file behind
 * the run after it, which again equals a clean run. Slow: a 70 MB file, runs
 * when ETL_SLOW_TESTS=1 (CI sets it).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { SPLIT_AUTO_BYTES } from "../../src/programs/SplitRead.js"
import { fingerprint } from "../support/Fingerprint.js"
import { bin, SLOW, slowSuite } from "../support/Slow.js"

const { data, dir } = slowSuite("split-read tests", "etl-split-auto-")
const env = (db: string, extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? "", INPUT_DIR: data, DATABASE_URL: `sqlite:${join(dir, db)}`, OUTPUT_DIR: join(dir, "out"),
  LOG_DIR: join(dir, `logs-${db}`), LOG_LEVEL: "debug", ...extra
})
const run = (db: string, extra: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, "run", "--full-refresh"], { env: env(db, extra), encoding: "utf8", timeout: 180_000 })
const log = (db: string) => {
  const path = join(dir, `logs-${db}`, "etl.log")
  return existsSync(path) ? readFileSync(path, "utf8") : ""
}
const sideFiles = () => readdirSync(dir).filter((f) => f.includes("-split-"))

describe.skipIf(!SLOW)("SPLIT_READ=auto", () => {
  it("splits a first load of a large sales file, and leaves what one thread leaves", async () => {
    const generated = spawnSync(process.execPath, [bin, "generate", "--transactions", "900000", "--out", data, "--seed", "3"], { encoding: "utf8" })
    expect(generated.status, generated.stderr).toBe(0)
    expect(statSync(join(data, "sales_transactions.csv")).size).toBeGreaterThan(SPLIT_AUTO_BYTES)

    const one = run("one.db", { SPLIT_READ: "off" })
    expect(one.status, one.stderr).toBe(0)
    expect(log("one.db")).not.toContain("second thread")
    const split = run("split.db")
    expect(split.status, split.stderr).toBe(0)
    expect(log("split.db")).toContain("took in the second thread's sales")
    expect(fingerprint(join(dir, "split.db"))).toEqual(fingerprint(join(dir, "one.db")))
    expect(split.stdout.split("\n").filter((l) => /^\s*sales\s/.test(l))).toEqual(one.stdout.split("\n").filter((l) => /^\s*sales\s/.test(l)))

    // Killed while both threads read: the next run starts over the wreck.
    const killedAfter = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [bin, "run", "--full-refresh"], { env: env("killed.db"), stdio: "ignore" })
      const timer = setInterval(() => {
        if (log("killed.db").includes("on a second thread")) {
          clearInterval(timer)
          setTimeout(() => child.kill("SIGKILL"), 500)
        }
      }, 50)
      child.on("exit", (code) => {
        clearInterval(timer)
        resolve(code)
      })
    })
    expect(killedAfter).toBeNull()
    const again = run("killed.db")
    expect(again.status, again.stderr).toBe(0)
    expect(log("killed.db")).toContain("took in the second thread's sales")
    expect(sideFiles()).toEqual([])
    expect(fingerprint(join(dir, "killed.db"))).toEqual(fingerprint(join(dir, "one.db")))
  }, 300_000)
})
