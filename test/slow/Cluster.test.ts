/**
 * Scale-out: three `etl runner` processes on 127.0.0.1 share cluster storage
 * in PostgreSQL; `etl run --partition-by day` submits a twenty-day window; one
 * runner is killed with SIGKILL while it stages a partition. Every partition
 * must merge exactly once, and the warehouse must equal a single-process run
 * of the same input, row for row. Slow: ETL_SLOW_TESTS=1 and TEST_DATABASE_URL
 * (CI sets both).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { freshDatabase, skipReason } from "../support/Postgres.js"
import { bin, SLOW, slowSuite } from "../support/Slow.js"

const { data, dir } = slowSuite("cluster tests", "etl-cluster-")
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every row of the star schema and the open rejects, without the columns a run stamps (ids, times). */
const contents = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const digest = async (sql: string) => (await client.query(sql)).rows[0] as Record<string, unknown>
  const table = (name: string, key: string, where = "TRUE") =>
    digest(`SELECT count(*)::int n, md5(string_agg((to_jsonb(t) - 'created_date' - 'updated_date' - 'run_id' - 'reject_id'
              - 'first_seen_run' - 'last_seen_run')::text, '|' ORDER BY ${key})) d FROM ${name} t WHERE ${where}`)
  const out = {
    customers: await table("customer_dim", "customer_id"),
    products: await table("product_dim", "product_id"),
    facts: await table("sales_fact", "transaction_id"),
    rejects: await table("etl_rejects", "source, reject_key", "resolved_run IS NULL"),
    mark: await digest(`SELECT count(*)::int n, max(value) v FROM etl_state WHERE key = 'high_water_mark'`),
    staged: await digest(`SELECT (SELECT count(*) FROM etl_stage_sales)::int n`)
  }
  await client.end()
  return out
}

interface Exit { readonly code: number | null; readonly output: string }

const children: Array<ChildProcess> = []
afterAll(() => {
  for (const c of children) c.kill("SIGKILL")
})

const launch = (args: ReadonlyArray<string>, env: Record<string, string>) => {
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? "", ...env } })
  children.push(child)
  let output = ""
  child.stdout!.on("data", (b: Buffer) => (output += b.toString()))
  child.stderr!.on("data", (b: Buffer) => (output += b.toString()))
  const exit = new Promise<Exit>((resolve) => child.on("exit", (code) => resolve({ code, output })))
  return { child, exit, output: () => output }
}

describe.skipIf(!SLOW || skipReason !== undefined)("partitioned runs on three runners", () => {
  it("lose a runner to SIGKILL mid-way, merge every partition once, and load what one process loads", async () => {
    const generated = spawnSync(process.execPath, [bin, "generate", "--transactions", "200000", "--out", data, "--seed", "11"])
    expect(generated.status).toBe(0)
    const [warehouse, single, state] = await Promise.all([
      freshDatabase("etl_cluster_wh"), freshDatabase("etl_cluster_single"), freshDatabase("etl_cluster_state")
    ])
    try {
      const env = (name: string, url: string) => ({
        INPUT_DIR: data, DATABASE_URL: url, CLUSTER_DATABASE_URL: state.url,
        OUTPUT_DIR: join(dir, name, "output"), LOG_DIR: join(dir, name, "logs"), ALERTS_DIR: join(dir, name, "alerts")
      })
      const window = ["--from", "2024-01-01", "--to", "2024-01-20"]
      // Below Linux's ephemeral range (32768 and up), where outgoing connections take their ports.
      const base = 20000 + Math.floor(Math.random() * 12000)
      const runners = [0, 1, 2].map((i) => launch(["runner", "--port", String(base + i)], env(`runner${i}`, warehouse.url)))
      await sleep(3000)
      const run = launch(["run", "--partition-by", "day", ...window], env("cluster", warehouse.url))

      // Wait until partitions are in flight, then kill the runner staging one of them.
      const db = new pg.Client({ connectionString: warehouse.url })
      await db.connect()
      let victim: { pid: number; key: string } | undefined
      for (let i = 0; i < 600 && victim === undefined; i++) {
        await sleep(100)
        const rows = await db.query(`SELECT partition_key, runner FROM etl_partitions WHERE state = 'staging' ORDER BY seq`).catch(() => ({ rows: [] }))
        const row = (rows.rows as Array<{ partition_key: string; runner: string }>).find((r) => r.partition_key !== "2024-01-20")
        if (row !== undefined) victim = { pid: Number(/pid (\d+)/.exec(row.runner)![1]), key: row.partition_key }
      }
      expect(victim, "no partition was ever seen staging").toBeDefined()
      const merged = Number((await db.query(`SELECT count(*) n FROM etl_partitions WHERE state = 'merged'`)).rows[0].n)
      process.kill(victim!.pid, "SIGKILL")

      const result = await run.exit
      expect(result.code, result.output).toBe(0)
      expect(merged, "the kill came after every partition had merged").toBeLessThan(20)
      const partitions = (await db.query(
        `SELECT partition_key, state, merges::int, stage_attempts::int, runner FROM etl_partitions ORDER BY seq`
      )).rows as Array<{ partition_key: string; state: string; merges: number; stage_attempts: number; runner: string }>
      await db.end()
      expect(partitions).toHaveLength(20)
      for (const p of partitions) expect([p.partition_key, p.state, p.merges]).toEqual([p.partition_key, "merged", 1])
      // The partition the dead runner was staging was staged again elsewhere, and only it.
      const resumed = partitions.find((p) => p.partition_key === victim!.key)!
      expect(resumed.stage_attempts).toBe(2)
      expect(resumed.runner).not.toContain(`pid ${victim!.pid}`)
      const dead = runners.filter((r) => r.child.pid !== victim!.pid && (r.child.exitCode !== null || r.child.signalCode !== null))
      expect(dead.map((r) => r.output()), "a runner that was not killed stopped").toEqual([])

      const alone = launch(["run", ...window], env("single", single.url))
      const aloneResult = await alone.exit
      expect(aloneResult.code, aloneResult.output).toBe(0)
      expect(await contents(warehouse.url)).toEqual(await contents(single.url))

      // The two runs' summaries count the same records.
      const summary = (name: string) => {
        const out = join(dir, name, "output")
        const file = readFileSync(join(out, readdirSync(out).find((f) => f.startsWith("run_"))!), "utf8")
        const sources = (JSON.parse(file) as { sources: Record<string, Record<string, unknown>> }).sources
        return Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, [v.read, v.loaded, v.rejected, v.filtered, v.rejectedBy, v.filteredBy]]))
      }
      expect(summary("cluster")).toEqual(summary("single"))
    } finally {
      for (const c of children) c.kill("SIGKILL")
      await Promise.all([warehouse.drop(), single.drop(), state.drop()])
    }
  }, 300_000)

  it("fail the partitions of a runner set up differently from the run, saying what differs", async () => {
    const [warehouse, state] = await Promise.all([freshDatabase("etl_cluster_odd"), freshDatabase("etl_cluster_odd_state")])
    try {
      const env = (name: string) => ({
        INPUT_DIR: data, DATABASE_URL: warehouse.url, CLUSTER_DATABASE_URL: state.url,
        OUTPUT_DIR: join(dir, name, "output"), LOG_DIR: join(dir, name, "logs"), ALERTS_DIR: join(dir, name, "alerts")
      })
      launch(["runner", "--port", String(20000 + Math.floor(Math.random() * 12000))], { ...env("odd-runner"), COMMISSION_RATE: "0.07" })
      await sleep(3000)
      const result = await launch(["run", "--partition-by", "day", "--from", "2024-01-01", "--to", "2024-01-02"], env("odd-run")).exit
      expect(result.code, result.output).toBe(3)
      expect(result.output).toContain("is set up differently from run")
      expect(result.output).toContain("commissionRate: 0.07 here, 0.03 in the run")
    } finally {
      for (const c of children) c.kill("SIGKILL")
      await Promise.all([warehouse.drop(), state.drop()])
    }
  }, 120_000)
})
