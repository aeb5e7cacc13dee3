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
    expect(spawnSync(process.execPath, [bin, "generate", "--transactions", "80000", "--out", data, "--seed", "5"], { encoding: "utf8" }).status).toBe(0)
    const clean = join(dir, "clean.db")
    const started = Date.now()
    const first = run(clean)
    const took = Date.now() - started
    expect(first.status, first.stderr).toBe(0)
    const expected = fingerprint(clean)

    const crashed = join(dir, "crashed.db")
    const kills: Array<number> = []
    // Kill points spread over a clean run's duration (start-up, staging, merging), jittered; each
    // later run starts over the wreck of the last.
    for (const share of [0.2, 0.35, 0.5, 0.65, 0.8, 0.9]) {
      const ms = Math.floor(took * share * (0.9 + Math.random() * 0.2))
      const code = await killAfter(crashed, ms)
      if (code === null) kills.push(ms)
    }
    console.log(`a clean run took ${took} ms; killed ${kills.length} runs with SIGKILL at ${kills.join(", ")} ms`)
    expect(kills.length).toBeGreaterThanOrEqual(3)
    const last = run(crashed)
    expect(last.status, last.stderr).toBe(0)
    expect(fingerprint(crashed)).toEqual(expected)
  }, 300_000)
})
