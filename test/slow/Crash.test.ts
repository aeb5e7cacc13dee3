/**
 * Crash consistency: a child `etl run` is killed with SIGKILL at random
 * points; a new run then gives exactly the warehouse of a clean run (counts,
 * sums, statuses, open rejects). Slow: runs when ETL_SLOW_TESTS=1 (CI sets it).
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import { join } from "node:path"
import { fingerprint } from "../support/Fingerprint.js"
import { bin, SLOW, slowSuite } from "../support/Slow.js"

const { data, dir } = slowSuite("crash tests", "etl-crash-")
const env = (db: string) => ({ PATH: process.env.PATH ?? "", INPUT_DIR: data, DATABASE_URL: `sqlite:${db}`, OUTPUT_DIR: join(dir, "out"), LOG_DIR: join(dir, "logs"), BATCH_SIZE: "2000" })

const run = (db: string) => spawnSync(process.execPath, [bin, "run", "--full-refresh"], { env: env(db), encoding: "utf8", timeout: 120_000 })

/** Starts a run and kills it with SIGKILL after `ms`; resolves when it is dead. */
const killAfter = (db: string, ms: number) =>
  new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [bin, "run", "--full-refresh"], { env: env(db), stdio: "ignore" })
    const timer = setTimeout(() => child.kill("SIGKILL"), ms)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })

describe.skipIf(!SLOW)("crash consistency", () => {
  it("a run killed at any point, then a clean run, equals one clean run", async () => {
    expect(spawnSync(process.execPath, [bin, "generate", "--transactions", "40000", "--out", data, "--seed", "5"], { encoding: "utf8" }).status).toBe(0)
    const clean = join(dir, "clean.db")
    const first = run(clean)
    expect(first.status, first.stderr).toBe(0)
    const expected = fingerprint(clean)

    const crashed = join(dir, "crashed.db")
    const kills: Array<number> = []
    // Kill points spread over start-up, staging and merging; each later run starts over the wreck of the last.
    for (const ms of [900, 1600, 2200, 2800, 3400, 4200]) {
      const code = await killAfter(crashed, ms + Math.floor(Math.random() * 300))
      if (code === null) kills.push(ms)
    }
    console.log(`killed ${kills.length} runs with SIGKILL at about ${kills.join(", ")} ms`)
    expect(kills.length).toBeGreaterThanOrEqual(3)
    const last = run(crashed)
    expect(last.status, last.stderr).toBe(0)
    expect(fingerprint(crashed)).toEqual(expected)
  }, 300_000)
})
