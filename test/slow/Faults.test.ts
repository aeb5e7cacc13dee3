/**
 * Faults in the middle of a run, against real databases: the SQLite file
 * locked by another process, PostgreSQL killing the warehouse's connections,
 * a source database that stops answering. Each ends with its documented
 * status and an alert, and leaves the warehouse as it was before the failed
 * batch. Slow: runs when ETL_SLOW_TESTS=1 (CI sets it, with TEST_DATABASE_URL).
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { fingerprint } from "../support/Fingerprint.js"
import { freshDatabase, skipReason } from "../support/Postgres.js"
import { bin, SLOW, slowSuite } from "../support/Slow.js"

const { data, dir } = slowSuite("fault-injection tests", "etl-faults-")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let runs = 0
/** Starts `etl run`; returns the child's exit and output, and the folder its files went to. */
const start = (args: Array<string>, env: Record<string, string>) => {
  const out = join(dir, `run${runs++}`)
  const child = spawn(process.execPath, [bin, "run", ...args], {
    env: {
      PATH: process.env.PATH ?? "", INPUT_DIR: data, OUTPUT_DIR: join(out, "output"), LOG_DIR: join(out, "logs"),
      ALERTS_DIR: join(out, "alerts"), BATCH_SIZE: "2000", ...env
    }
  })
  let stderr = ""
  let stdout = ""
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()))
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()))
  const done = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stderr, stdout })))
  const alerts = () => (existsSync(join(out, "alerts", "email_alerts.log")) ? readFileSync(join(out, "alerts", "email_alerts.log"), "utf8") : "")
  const log = () => readFileSync(join(out, "logs", "etl.log"), "utf8")
  return { done, alerts, log }
}

/** The parts a failed batch must leave as they were (its earlier batches may have recorded rejects). */
const sqliteFacts = (path: string) => fingerprint(path, ["customers", "products", "facts", "firsts", "mark"])

const pgFingerprint = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const q = async (sql: string) => (await client.query(sql)).rows
  const out = {
    customers: await q("SELECT count(*)::int n, md5(string_agg(customer_id || segment, ',' ORDER BY customer_id)) s FROM customer_dim"),
    products: await q("SELECT count(*)::int n, sum(price)::text p FROM product_dim"),
    facts: await q("SELECT count(*)::int n, sum(total_amount)::text t, sum(commission)::text c FROM sales_fact"),
    statuses: await q("SELECT customer_status, count(*)::int n FROM sales_fact GROUP BY 1 ORDER BY 1"),
    rejects: await q("SELECT source, category, count(*)::int n FROM etl_rejects WHERE resolved_run IS NULL GROUP BY 1, 2 ORDER BY 1, 2"),
    mark: await q("SELECT value FROM etl_state WHERE key = 'high_water_mark'"),
    staged: await q("SELECT (SELECT count(*) FROM etl_stage_sales)::int n")
  }
  await client.end()
  return out
}

describe.skipIf(!SLOW)("faults in the middle of a run", () => {
  it("generates the input", () => {
    const r = spawnSync(process.execPath, [bin, "generate", "--transactions", "30000", "--out", data, "--seed", "9"], { encoding: "utf8" })
    expect(r.status, r.stderr).toBe(0)
  })

  it("SQLite locked by another process mid-load: exit 1, a critical alert, no partial batch; the next run completes it", async () => {
    const db = join(dir, "locked.db")
    const env = { DATABASE_URL: `sqlite:${db}`, MAX_RETRIES: "1", RETRY_BASE_DELAY_MS: "100" }
    // Before: the first quarter of the year only, so the full refresh stages and merges (into an
    // empty fact table it would write the facts directly, in one transaction).
    const before = await start(["--from", "2024-01-01", "--to", "2024-03-31"], env).done
    expect(before.code, before.stderr).toBe(0)
    const expected = sqliteFacts(db)

    const run = start(["--full-refresh"], env)
    // Lock the file as soon as the run is staging sales: mid-load, before the merge.
    const reader = new Database(db, { readonly: true, timeout: 5000 })
    const staged = reader.prepare("SELECT count(*) AS n FROM etl_stage_sales")
    for (let i = 0; i < 1500 && (staged.get() as { n: number }).n === 0; i++) await sleep(10)
    reader.close()
    const locker = new Database(db, { timeout: 20_000 })
    locker.exec("BEGIN EXCLUSIVE")
    // Longer than every branch's attempts together: customers, products and sales share one
    // connection, and each of their 2 attempts waits out the 5 s busy timeout in turn. (14 s let
    // a loaded CI machine, where the customers were still staging, succeed on a last attempt.)
    await sleep(32_000)
    locker.exec("COMMIT")
    locker.close()
    const failed = await run.done
    expect(failed.code, failed.stdout + failed.stderr).toBe(1)
    expect(failed.stdout).toMatch(/^Run \S+: FAILED/m)
    expect(failed.stdout).toMatch(/database is locked/)
    expect(run.alerts()).toMatch(/CRITICAL/)
    expect(run.log()).toMatch(/attempt 1 of 2 failed, retrying: .*database is locked/)
    // The failed batch left nothing behind in the dimensions, the facts or the high-water mark.
    expect(sqliteFacts(db)).toEqual(expected)

    const again = await start(["--full-refresh"], { ...env, CIRCUIT_BREAKER_RESET_SECONDS: "0" }).done
    expect(again.code, again.stderr).toBe(0)
    const clean = join(dir, "clean.db")
    expect((await start(["--full-refresh"], { DATABASE_URL: `sqlite:${clean}` }).done).code).toBe(0)
    expect(sqliteFacts(db)).toEqual(sqliteFacts(clean))
  }, 120_000)

  it.skipIf(skipReason !== undefined)("PostgreSQL terminating the warehouse's connections mid-load: retried, and the warehouse equals a clean run", async () => {
    const clean = await freshDatabase("etl_fault_clean")
    const victim = await freshDatabase("etl_fault_killed")
    try {
      expect((await start(["--full-refresh"], { DATABASE_URL: clean.url }).done).code).toBe(0)
      const run = start(["--full-refresh"], { DATABASE_URL: victim.url, RETRY_BASE_DELAY_MS: "50" })
      const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
      await admin.connect()
      const watcher = new pg.Client({ connectionString: victim.url })
      await watcher.connect()
      let exited = false
      void run.done.then(() => (exited = true))
      const terminate = async () => (await admin.query(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND application_name = 'etl' AND pid <> pg_backend_pid()",
        [new URL(victim.url).pathname.slice(1)]
      )).rows.length
      // Mid-load: as soon as sales are staging, then twice more while the run goes on. (Fixed
      // delays from the start missed a run that finished within them on a fast machine.)
      let killed = 0
      for (let i = 0; i < 1200 && killed === 0 && !exited; i++) {
        await sleep(25)
        const staged = await watcher.query("SELECT count(*)::int AS n FROM etl_stage_sales").catch(() => ({ rows: [{ n: 0 }] }))
        if ((staged.rows[0] as { n: number }).n > 0) killed += await terminate()
      }
      for (let i = 0; i < 2 && !exited; i++) {
        await sleep(700)
        killed += await terminate()
      }
      await watcher.end()
      await admin.end()
      const result = await run.done
      console.log(`terminated ${killed} warehouse connections during the run`)
      expect(killed).toBeGreaterThan(0)
      expect(result.code, result.stdout + result.stderr).toBe(0)
      expect(run.log()).toMatch(/attempt 1 of 4 failed, retrying: .*terminat/)
      expect(await pgFingerprint(victim.url)).toEqual(await pgFingerprint(clean.url))
    } finally {
      await clean.drop()
      await victim.drop()
    }
  }, 180_000)

  it.skipIf(skipReason !== undefined)("a source database that stops answering: the sales branch times out alone, exit 3, an alert names it", async () => {
    const source = await freshDatabase("etl_fault_source")
    const warehouse = join(dir, "timeout.db")
    try {
      const seeded = spawnSync(process.execPath, [bin, "generate", "--transactions", "2000", "--out", join(dir, "seed"), "--source-db", source.url], { encoding: "utf8" })
      expect(seeded.status, seeded.stderr).toBe(0)
      const holder = new pg.Client({ connectionString: source.url })
      await holder.connect()
      await holder.query("BEGIN")
      await holder.query("LOCK TABLE sales_transactions IN ACCESS EXCLUSIVE MODE")
      const run = start(["--full-refresh"], {
        DATABASE_URL: `sqlite:${warehouse}`, SOURCE_DATABASE_URL: source.url, SOURCE_QUERY_TIMEOUT_SECONDS: "1",
        MAX_RETRIES: "1", RETRY_BASE_DELAY_MS: "50"
      })
      const result = await run.done
      await holder.query("ROLLBACK")
      await holder.end()
      expect(result.code, result.stdout + result.stderr).toBe(3)
      expect(result.stdout + result.stderr).toContain("SOURCE_QUERY_TIMEOUT_SECONDS=1")
      expect(run.alerts()).toMatch(/sales/)
      const facts = sqliteFacts(warehouse)
      expect((facts.customers![0] as { n: number }).n).toBeGreaterThan(0)
      expect((facts.facts![0] as { n: number }).n).toBe(0)
    } finally {
      await source.drop()
    }
  }, 120_000)
})
