/**
 * Crash consistency: a child `etl run` is killed with SIGKILL at random
 * points; a new run then gives exactly the warehouse of a clean run (counts,
 * sums, statuses, open rejects). Slow: runs when ETL_SLOW_TESTS=1 (CI sets it).
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const SLOW = process.env.ETL_SLOW_TESTS === "1"
if (!SLOW) console.log("skipped: crash tests are slow; set ETL_SLOW_TESTS=1 to run them (CI does)")

const root = join(import.meta.dirname, "../..")
const bin = join(root, "bin/etl.js")
const dir = mkdtempSync(join(tmpdir(), "etl-crash-"))
const data = join(dir, "input")
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

/** What a user would compare: counts, money sums, statuses, and the open rejects. */
const fingerprint = (path: string) => {
  const db = new Database(path, { readonly: true })
  const q = (sql: string) => db.prepare(sql).all()
  const out = {
    customers: q("SELECT count(*) n, group_concat(segment) s FROM (SELECT segment FROM customer_dim ORDER BY customer_id)"),
    products: q("SELECT count(*) n, sum(price) p FROM product_dim"),
    facts: q("SELECT count(*) n, sum(total_amount) t, sum(commission) c, sum(coalesce(cost_amount, 0)) k FROM sales_fact"),
    statuses: q("SELECT customer_status, count(*) n FROM sales_fact GROUP BY 1 ORDER BY 1"),
    firsts: q("SELECT customer_id, transaction_id FROM sales_fact WHERE customer_status = 'First-time' ORDER BY 1"),
    rejects: q("SELECT source, reject_key, category, reason FROM etl_rejects WHERE resolved_run IS NULL ORDER BY 1, 2"),
    mark: q("SELECT value FROM etl_state WHERE key = 'high_water_mark'"),
    staged: q("SELECT (SELECT count(*) FROM etl_stage_sales) + (SELECT count(*) FROM etl_stage_customers) + (SELECT count(*) FROM etl_stage_products) n")
  }
  db.close()
  return out
}

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
