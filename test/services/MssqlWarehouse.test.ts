/**
 * The SQL Server warehouse, rendered without a server: the real
 * @effect/sql-mssql compiler over a connection that records each statement
 * and its parameters and answers with canned rows.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import { MssqlClient } from "@effect/sql-mssql"
import { Effect } from "effect"
import Tedious from "tedious"
import type { Reject } from "../../src/schema/Reject.js"
import type { CustomerRow } from "../../src/schema/Records.js"
import { mssqlParameterTypes } from "../../src/services/MssqlOptions.js"
import type { StagedSale } from "../../src/services/Warehouse.js"
import * as MssqlWarehouse from "../../src/services/warehouse/MssqlWarehouse.js"

interface Sent {
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
}

/** Canned answers, by what the statement asks. */
const answer = (sql: string): ReadonlyArray<object> =>
  /OUTPUT \$action INTO @changes/.test(sql)
    ? [{ staged: 3, inserted: 2, updated: 1, resolved: 0, referential: 0, status_changes: 0 }]
    : /@@ROWCOUNT AS affected/.test(sql)
    ? [{ affected: 1 }]
    : /\bAS n\b/.test(sql)
    ? [{ n: 0 }]
    : []

const recording = Effect.gen(function* () {
  const sent: Array<Sent> = []
  const connection: Connection = {
    execute: (sql, params) => Effect.sync(() => (sent.push({ sql, params }), answer(sql))),
    executeRaw: (sql, params) => Effect.sync(() => (sent.push({ sql, params }), answer(sql))),
    executeValues: (sql, params) => Effect.sync(() => (sent.push({ sql, params }), [])),
    executeUnprepared: (sql, params) => Effect.sync(() => (sent.push({ sql, params }), answer(sql))),
    executeStream: () => Effect.dieMessage("not used") as never
  }
  const sql = yield* SqlClient.make({
    acquirer: Effect.succeed(connection),
    compiler: MssqlClient.makeCompiler(),
    spanAttributes: [],
    beginTransaction: "BEGIN TRANSACTION",
    commit: "COMMIT TRANSACTION",
    rollback: "ROLLBACK TRANSACTION"
  })
  const warehouse = yield* MssqlWarehouse.make.pipe(Effect.provideService(SqlClient.SqlClient, sql))
  return { sent, warehouse }
}).pipe(Effect.provide(Reactivity.layer))

const sale = (i: number): StagedSale => ({
  transaction_id: `T${i}`, customer_id: `C${i % 97}`, product_id: `P${i % 13}`, quantity: 3, unit_price: "19.99",
  discount_amount: "5.00", total_amount: "54.97", cost_amount: "37.50", profit_margin: "17.47", commission: "1.65",
  value_tier: "Low Value", transaction_date: "2024-03-01", sales_rep_id: "R1", location: `sales.csv line ${i + 2}`
})

/** What any statement sent to SQL Server must never carry. */
const checkStatement = ({ params, sql }: Sent) => {
  expect(params.length, sql).toBeLessThanOrEqual(2100)
  // A JS number with a fraction would be sent as a number: the parameter types make it FLOAT, but money never goes that way.
  for (const p of params) if (typeof p === "number") expect(Number.isInteger(p), sql).toBe(true)
  expect(sql).not.toMatch(/\?|ON CONFLICT|\bLIMIT\b|\|\||excluded\.|IS DISTINCT FROM|RETURNING/)
  const values = /VALUES\s*((?:\([^()]*\)\s*,?\s*)+)/.exec(sql)
  if (values !== null) expect(values[1]!.match(/\(/g)!.length, sql).toBeLessThanOrEqual(1000)
}

describe("SQL Server warehouse, rendered", () => {
  it.effect("migrates with T-SQL: binary-collated NVARCHAR keys, DECIMAL money, the origin's indexes", () =>
    Effect.gen(function* () {
      const { sent, warehouse } = yield* recording
      yield* warehouse.migrate
      const ddl = sent.map((s) => s.sql)
      expect(ddl[0]).toMatch(/^IF OBJECT_ID\(N'etl_migrations', N'U'\) IS NULL\s+CREATE TABLE \[etl_migrations\]/)
      const create = ddl.find((s) => s.startsWith("CREATE TABLE sales_fact"))!
      expect(create).toContain("transaction_id NVARCHAR(450) COLLATE Latin1_General_100_BIN2 NOT NULL")
      expect(create).toContain("total_amount DECIMAL(18, 2) NOT NULL")
      expect(create).toContain("unit_price DECIMAL(38, 12) NOT NULL CHECK (unit_price >= 0)")
      expect(create).toContain("created_date DATETIME2(3) NOT NULL DEFAULT GETDATE()")
      expect(create).toContain("CONSTRAINT fk_sales_customer FOREIGN KEY (customer_id) REFERENCES customer_dim (customer_id)")
      expect(ddl.filter((s) => s.startsWith("CREATE INDEX"))).toEqual([
        "CREATE INDEX ix_sales_fact_customer_order ON sales_fact (customer_id, transaction_date, transaction_id)",
        "CREATE INDEX ix_sales_fact_product ON sales_fact (product_id)",
        "CREATE INDEX ix_sales_fact_date ON sales_fact (transaction_date) INCLUDE (total_amount, commission)",
        "CREATE INDEX ix_sales_fact_first_time ON sales_fact (customer_id) WHERE customer_status = 'First-time'",
        "CREATE INDEX ix_etl_rejects_open ON etl_rejects (source, category) WHERE resolved_run IS NULL",
        "CREATE INDEX ix_etl_rejects_last_seen ON etl_rejects (last_seen_run, reject_id)",
        "CREATE INDEX ix_etl_run_history_status ON etl_run_history (status, started_at)",
        "CREATE INDEX ix_etl_lineage_run ON etl_lineage (run_id)"
      ])
      sent.forEach(checkStatement)
    }))

  it.effect("upserts customers with the origin's MERGE … USING … WHEN MATCHED … WHEN NOT MATCHED and GETDATE()", () =>
    Effect.gen(function* () {
      const { sent, warehouse } = yield* recording
      const counts = yield* warehouse.mergeCustomers("run-1", "2024-03-01T00:00:00.000Z")
      expect(counts).toEqual({ inserted: 2, updated: 1, unchanged: 0 })
      const merge = sent.find((s) => s.sql.includes("MERGE customer_dim"))!
      expect(merge.params).toEqual(["run-1"])
      const data = ["first_name", "last_name", "name", "email", "email_valid", "phone", "address", "base_segment", "segment", "registration_date", "quality_flags"]
      const all = ["customer_id", ...data]
      expect(merge.sql).toBe(`SET XACT_ABORT ON;
WITH ranked AS (SELECT ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY seq DESC) AS n FROM etl_stage_customers WHERE run_id = @1)
     DELETE FROM ranked WHERE n > 1;
DECLARE @changes TABLE (action NVARCHAR(10));
DECLARE @staged BIGINT = (SELECT COUNT_BIG(*) FROM etl_stage_customers WHERE run_id = @1);
MERGE customer_dim WITH (HOLDLOCK) AS t
USING (SELECT ${all.join(", ")} FROM etl_stage_customers WHERE run_id = @1) AS s
ON t.customer_id = s.customer_id
WHEN MATCHED AND (${data.map((c) => `NOT EXISTS (SELECT t.${c} INTERSECT SELECT s.${c})`).join(" OR ")}) THEN
  UPDATE SET ${data.map((c) => `t.${c} = s.${c}`).join(", ")}, t.updated_date = GETDATE()
WHEN NOT MATCHED BY TARGET THEN
  INSERT (${all.join(", ")}, created_date) VALUES (${all.map((c) => `s.${c}`).join(", ")}, GETDATE())
OUTPUT $action INTO @changes;
UPDATE etl_rejects SET resolved_run = @1
WHERE source = 'customers' AND resolved_run IS NULL AND record_key IN (SELECT customer_id FROM etl_stage_customers WHERE run_id = @1);
DECLARE @resolved BIGINT = @@ROWCOUNT;
DELETE FROM etl_stage_customers WHERE run_id = @1;
SELECT @staged AS staged,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'INSERT') AS inserted,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'UPDATE') AS updated,
  @resolved AS resolved;`)
      expect(sent.map((s) => s.sql)).toEqual(["BEGIN TRANSACTION", merge.sql, "COMMIT TRANSACTION"])
    }))

  it.effect("stages 12,345 facts as three JSON parameters, money as exact text typed DECIMAL by OPENJSON", () =>
    Effect.gen(function* () {
      const { sent, warehouse } = yield* recording
      const rows = Array.from({ length: 12_345 }, (_, i) => sale(i))
      // Staging appends; the merge keeps the last row of a key (see the merge's first statement).
      rows.push({ ...sale(7), total_amount: "99.99" })
      yield* warehouse.stageSales("run-1", rows)
      const statements = sent.filter((s) => s.sql.startsWith("INSERT INTO etl_stage_sales"))
      expect(statements).toHaveLength(3)
      expect(statements[0]!.sql).toBe(`INSERT INTO etl_stage_sales (run_id, transaction_id, customer_id, product_id, quantity, \
unit_price, discount_amount, total_amount, cost_amount, profit_margin, commission, value_tier, transaction_date, sales_rep_id, location)
SELECT @1, j.* FROM OPENJSON(@2) WITH (transaction_id NVARCHAR(MAX) '$.transaction_id', \
customer_id NVARCHAR(MAX) '$.customer_id', product_id NVARCHAR(MAX) '$.product_id', quantity BIGINT '$.quantity', \
unit_price DECIMAL(38, 12) '$.unit_price', discount_amount DECIMAL(38, 12) '$.discount_amount', \
total_amount DECIMAL(18, 2) '$.total_amount', cost_amount DECIMAL(18, 2) '$.cost_amount', \
profit_margin DECIMAL(18, 2) '$.profit_margin', commission DECIMAL(18, 2) '$.commission', \
value_tier NVARCHAR(MAX) '$.value_tier', transaction_date DATE '$.transaction_date', \
sales_rep_id NVARCHAR(MAX) '$.sales_rep_id', location NVARCHAR(MAX) '$.location') AS j;`)
      const batches = statements.map((s) => {
        expect(s.params).toHaveLength(2)
        expect(s.params[0]).toBe("run-1")
        return JSON.parse(s.params[1] as string) as Array<Record<string, unknown>>
      })
      expect(batches.map((b) => b.length)).toEqual([5000, 5000, 2346])
      expect(batches[0]![0]).toMatchObject({ total_amount: "54.97", commission: "1.65", unit_price: "19.99", quantity: 3 })
      expect(batches[2]!.at(-1)).toMatchObject({ transaction_id: "T7", total_amount: "99.99" })
      expect(sent.map((s) => s.sql).filter((s) => !s.startsWith("INSERT"))).toEqual(["BEGIN TRANSACTION", "COMMIT TRANSACTION"])
      sent.forEach(checkStatement)
    }))

  it.effect("merges facts in one batch: quarantine, MERGE with OUTPUT $action, first transactions, high-water mark", () =>
    Effect.gen(function* () {
      const { sent, warehouse } = yield* recording
      const merged = yield* warehouse.mergeSales("run-1", "2024-03-01T00:00:00.000Z", true)
      expect(merged).toEqual({ inserted: 2, updated: 1, unchanged: 0, referential: 0, resolved: 0, statusChanges: 0 })
      const batch = sent.find((s) => s.sql.includes("MERGE sales_fact"))!
      expect(batch.params).toEqual(["run-1", 1])
      expect(batch.sql).toContain("MERGE etl_rejects WITH (HOLDLOCK) AS r")
      expect(batch.sql).toContain(`MERGE sales_fact WITH (HOLDLOCK) AS t
USING (SELECT transaction_id, customer_id, product_id, quantity, unit_price, discount_amount, total_amount, cost_amount, \
profit_margin, commission, value_tier, transaction_date, sales_rep_id FROM etl_stage_sales WHERE run_id = @1) AS s
ON t.transaction_id = s.transaction_id`)
      expect(batch.sql).toContain("VALUES (s.transaction_id, s.customer_id, s.product_id, s.quantity, s.unit_price, s.discount_amount, s.total_amount, s.cost_amount, s.profit_margin, s.commission, s.value_tier, s.transaction_date, s.sales_rep_id, 'Repeat', @1, GETDATE())")
      expect(batch.sql).toContain("SELECT TOP (1) f.transaction_id FROM sales_fact f WHERE f.customer_id = d.customer_id")
      expect(batch.sql).toContain(`ON t."key" = s.k`)
      expect(batch.sql).toContain("CONVERT(NVARCHAR(10), MAX(transaction_date), 23)")
      sent.forEach(checkStatement)
    }))

  it.effect("every other operation renders as T-SQL within the limits", () =>
    Effect.gen(function* () {
      const { sent, warehouse } = yield* recording
      const customer: CustomerRow = {
        customer_id: "C1", first_name: "Ada", last_name: "Lovelace", name: "Ada Lovelace", email: "ada@example.com", email_valid: 1,
        phone: "555-0100", address: "1 Main St", base_segment: "Premium", segment: "Premium", registration_date: "2020-01-01",
        quality_flags: null
      }
      const rejects: Array<Reject> = Array.from({ length: 2500 }, (_, i) => ({
        source: "sales", record_key: `T${i}`, category: "validation", reason: "quantity must be at least 1",
        location: `line ${i + 2}`, payload: { transaction_id: `T${i}`, quantity: "0" }
      }))
      yield* warehouse.stageCustomers("run-1", [customer, { ...customer, customer_id: "C2", name: "Zoë Ünal" }])
      yield* warehouse.recordRejects("run-1", rejects)
      yield* warehouse.beginRun({ runId: "run-1", env: "prod", startedAt: "2024-03-01T00:00:00.000Z", mode: "incremental", windowFrom: null, windowTo: null })
      yield* warehouse.heartbeat("run-1", "2024-03-01T00:01:00.000Z")
      yield* warehouse.finishRun({
        runId: "run-1", finishedAt: "2024-03-01T00:02:00.000Z", status: "success", recordsRead: 10, recordsLoaded: 9,
        recordsRejected: 1, recordsFiltered: 0, errorRate: 0.1, durationSeconds: 1.5, summaryJson: "{}"
      })
      yield* warehouse.validate("0.03")
      yield* warehouse.listRejects({ limit: 20 })
      yield* warehouse.recentRuns(5)
      yield* warehouse.runHistory(30)
      yield* warehouse.lastSuccessfulRun
      yield* warehouse.requeue("validation", "sales")
      yield* warehouse.releaseLock("run-1")
      const text = sent.map((s) => s.sql)
      expect(text).toContain(
        `INSERT INTO etl_state ("key", value, updated_at) SELECT x.* FROM (SELECT 'run_lock', @1, CONVERT(DATETIME2(3), @2, 127)) AS x ("key", value, updated_at)
     WHERE NOT EXISTS (SELECT 1 FROM etl_state t WITH (UPDLOCK, HOLDLOCK) WHERE t."key" = x."key");
SELECT @@ROWCOUNT AS affected`
      )
      expect(text.find((s) => s.includes("FROM etl_rejects WHERE resolved_run IS NULL\n"))).toMatch(/^SELECT TOP \(20\) \*/)
      expect(text.find((s) => s.includes("abs(commission"))).toContain("ROUND(total_amount * CAST(@1 AS DECIMAL(38, 12)), 2)")
      // Fractions travel as FLOAT, never as Int; the rate of the check travels as text.
      const finish = sent.find((s) => s.sql.includes("SET finished_at"))!
      expect(finish.params).toContain(1.5)
      const rejectBatches = sent.filter((s) => s.sql.startsWith("MERGE etl_rejects"))
      expect(rejectBatches.map((s) => (JSON.parse(s.params[1] as string) as Array<unknown>).length)).toEqual([2500])
      sent.filter((s) => s.params.every((p) => typeof p !== "number" || Number.isInteger(p))).forEach(checkStatement)
      for (const s of sent) expect(s.params.length).toBeLessThanOrEqual(2100)
    }))

  it("sends strings as NVARCHAR and numbers as FLOAT: the driver's defaults would lose text and truncate 1.5 to 1", () => {
    expect(MssqlClient.defaultParameterTypes.number).toBe(Tedious.TYPES.Int)
    expect(Tedious.TYPES.Int.validate(1.5, undefined)).toBe(1)
    expect(mssqlParameterTypes.number).toBe(Tedious.TYPES.Float)
    expect(Tedious.TYPES.Float.validate(1.5, undefined)).toBe(1.5)
    expect(mssqlParameterTypes.string).toBe(Tedious.TYPES.NVarChar)
  })
})
