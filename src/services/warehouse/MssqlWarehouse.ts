/**
 * The SQL Server warehouse. Reads, run history, the run lock and validation
 * are SqlWarehouse's statements in the mssql Dialect; what differs in shape
 * is here, in T-SQL:
 *
 * - staging and the dead-letter store take a batch as ONE NVARCHAR(MAX) JSON
 *   parameter, unpacked by OPENJSON with a typed WITH clause: no 2,100
 *   parameter or 1,000-row VALUES limit to split around, and every decimal
 *   is converted by SQL Server from its exact text into DECIMAL, never sent
 *   as a JS number (which tedious would send as Int, turning 1.5 into 1);
 * - each merge is the origin's `MERGE … USING … WHEN MATCHED … WHEN NOT
 *   MATCHED` with GETDATE() dates, counting its changes with OUTPUT $action,
 *   in one batch and one round trip.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as MssqlClient from "@effect/sql-mssql/MssqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { WarehouseError } from "../../schema/Errors.js"
import type { Reject } from "../../schema/Reject.js"
import { mssqlOptions } from "../MssqlOptions.js"
import { Warehouse, type WarehouseService } from "../Warehouse.js"
import { mssql } from "./Dialect.js"
import { dimensionMergesFrom, SALE_COLUMNS, SALE_DATA, stagingFrom } from "./Schema.js"
import * as SqlWarehouse from "./SqlWarehouse.js"

/** T-SQL types of the staged columns, for OPENJSON's WITH clause; the rest are NVARCHAR(MAX). */
const COLUMN_TYPES: Readonly<Record<string, string>> = {
  email_valid: "BIT", registration_date: "DATE", transaction_date: "DATE",
  price: "DECIMAL(38, 12)", cost: "DECIMAL(38, 12)", unit_price: "DECIMAL(38, 12)", discount_amount: "DECIMAL(38, 12)",
  total_amount: "DECIMAL(18, 2)", cost_amount: "DECIMAL(18, 2)", profit_margin: "DECIMAL(18, 2)", commission: "DECIMAL(18, 2)",
  quantity: "BIGINT", attempts: "BIGINT"
}

/** `OPENJSON(@p) WITH (col TYPE '$.col', …)`: a JSON array of objects as a typed row set. */
export const openJson = (param: string, columns: ReadonlyArray<string>) =>
  `OPENJSON(${param}) WITH (${columns.map((c) => `${c} ${COLUMN_TYPES[c] ?? "NVARCHAR(MAX)"} '$.${c}'`).join(", ")})`

/** Rows per staged JSON batch: a few MB of text per statement. */
const ROWS_PER_BATCH = 5000

/** One JSON array per ROWS_PER_BATCH rows. */
const batches = (rows: ReadonlyArray<object>): Array<string> => {
  const out: Array<string> = []
  for (let start = 0; start < rows.length; start += ROWS_PER_BATCH) out.push(JSON.stringify(rows.slice(start, start + ROWS_PER_BATCH)))
  return out
}

const differs = (columns: ReadonlyArray<string>) =>
  columns.map((c) => `NOT EXISTS (SELECT t.${c} INTERSECT SELECT s.${c})`).join(" OR ")

/** The staging append of one JSON batch; the merge keeps the last row of each key. */
export const stageStatement = (table: string, columns: ReadonlyArray<string>) =>
  `INSERT INTO ${table} (run_id, ${columns.join(", ")})
SELECT @1, j.* FROM ${openJson("@2", columns)} AS j;`

/** Last wins: the staged rows of run @1 that a later row of the same key replaces. */
const dropSuperseded = (table: string, key: string) => `${mssql.deleteSuperseded(table, key).replace("?", "@1")};`

/** The dimension MERGE: the origin's upsert, counting inserts and real updates. */
export const dimensionMerge = (source: string, table: string, stageTable: string, columns: ReadonlyArray<string>, key: string) => {
  const data = columns.filter((c) => c !== key)
  return `SET XACT_ABORT ON;
${dropSuperseded(stageTable, key)}
DECLARE @changes TABLE (action NVARCHAR(10));
DECLARE @staged BIGINT = (SELECT COUNT_BIG(*) FROM ${stageTable} WHERE run_id = @1);
MERGE ${table} WITH (HOLDLOCK) AS t
USING (SELECT ${columns.join(", ")} FROM ${stageTable} WHERE run_id = @1) AS s
ON t.${key} = s.${key}
WHEN MATCHED AND (${differs(data)}) THEN
  UPDATE SET ${data.map((c) => `t.${c} = s.${c}`).join(", ")}, t.updated_date = GETDATE()
WHEN NOT MATCHED BY TARGET THEN
  INSERT (${columns.join(", ")}, created_date) VALUES (${columns.map((c) => `s.${c}`).join(", ")}, GETDATE())
OUTPUT $action INTO @changes;
UPDATE etl_rejects SET resolved_run = @1
WHERE source = '${source}' AND resolved_run IS NULL AND record_key IN (SELECT ${key} FROM ${stageTable} WHERE run_id = @1);
DECLARE @resolved BIGINT = @@ROWCOUNT;
DELETE FROM ${stageTable} WHERE run_id = @1;
SELECT @staged AS staged,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'INSERT') AS inserted,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'UPDATE') AS updated,
  @resolved AS resolved;`
}

const noCustomer = `NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = s.customer_id)`
const noProduct = `NOT EXISTS (SELECT 1 FROM product_dim p WHERE p.product_id = s.product_id)`
const salePayload = `(SELECT ${SALE_COLUMNS.map((c) => `CAST(s.${c} AS NVARCHAR(MAX)) AS [${c}]`).join(", ")}
    FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)`
/** A new fact keeps updated_date NULL when only its status settles; an older fact is touched. */
const touched = `updated_date = CASE WHEN sales_fact.run_id = @1 AND sales_fact.updated_date IS NULL THEN NULL ELSE GETDATE() END`

/** The whole sales merge as one batch: @1 the run id, @2 whether the high-water mark moves. */
export const salesMerge = `SET XACT_ABORT ON;
${dropSuperseded("etl_stage_sales", "transaction_id")}
DECLARE @changes TABLE (action NVARCHAR(10));
-- 1. Quarantine facts whose dimension rows are missing; every later run retries them.
MERGE etl_rejects WITH (HOLDLOCK) AS r
USING (
  SELECT s.transaction_id, s.location,
    CASE
      WHEN ${noCustomer} AND ${noProduct}
        THEN CONCAT('customer_id ''', s.customer_id, ''' and product_id ''', s.product_id, ''' are not in the warehouse')
      WHEN ${noCustomer} THEN CONCAT('customer_id ''', s.customer_id, ''' is not in customer_dim')
      ELSE CONCAT('product_id ''', s.product_id, ''' is not in product_dim')
    END AS reason,
    ${salePayload} AS payload
  FROM etl_stage_sales s WHERE s.run_id = @1 AND (${noCustomer} OR ${noProduct})
) AS q
ON r.source = 'sales' AND r.reject_key = q.transaction_id
WHEN MATCHED THEN UPDATE SET
  category = 'referential', reason = q.reason, location = q.location, payload = q.payload, resolved_run = NULL,
  retry_requested = 0, attempts = r.attempts + CASE WHEN r.last_seen_run <> @1 THEN 1 ELSE 0 END, last_seen_run = @1
WHEN NOT MATCHED THEN
  INSERT (source, record_key, reject_key, category, reason, location, payload, attempts, first_seen_run, last_seen_run)
  VALUES ('sales', q.transaction_id, q.transaction_id, 'referential', q.reason, q.location, q.payload, 1, @1, @1);
DELETE FROM etl_stage_sales WHERE run_id = @1 AND transaction_id IN (
  SELECT reject_key FROM etl_rejects WHERE source = 'sales' AND category = 'referential' AND resolved_run IS NULL AND last_seen_run = @1);
DECLARE @referential BIGINT = @@ROWCOUNT;
DECLARE @staged BIGINT = (SELECT COUNT_BIG(*) FROM etl_stage_sales WHERE run_id = @1);
-- 2. Customers whose first transaction may move: those of new or re-dated facts, and those a fact left.
INSERT INTO etl_dirty_customers (customer_id)
SELECT x.customer_id FROM (
  SELECT s.customer_id FROM etl_stage_sales s LEFT JOIN sales_fact f ON f.transaction_id = s.transaction_id
  WHERE s.run_id = @1 AND (f.transaction_id IS NULL OR f.customer_id <> s.customer_id OR f.transaction_date <> s.transaction_date)
  UNION
  SELECT f.customer_id FROM etl_stage_sales s JOIN sales_fact f ON f.transaction_id = s.transaction_id
  WHERE s.run_id = @1 AND f.customer_id <> s.customer_id
) AS x
WHERE NOT EXISTS (SELECT 1 FROM etl_dirty_customers d WHERE d.customer_id = x.customer_id);
-- 3. The merge itself. New facts start as Repeat; step 4 settles First-time.
MERGE sales_fact WITH (HOLDLOCK) AS t
USING (SELECT ${SALE_COLUMNS.join(", ")} FROM etl_stage_sales WHERE run_id = @1) AS s
ON t.transaction_id = s.transaction_id
WHEN MATCHED AND (${differs(SALE_DATA)}) THEN
  UPDATE SET ${SALE_DATA.map((c) => `t.${c} = s.${c}`).join(", ")}, t.run_id = @1, t.updated_date = GETDATE()
WHEN NOT MATCHED BY TARGET THEN
  INSERT (${SALE_COLUMNS.join(", ")}, customer_status, run_id, created_date)
  VALUES (${SALE_COLUMNS.map((c) => `s.${c}`).join(", ")}, 'Repeat', @1, GETDATE())
OUTPUT $action INTO @changes;
-- 4. First-time for each dirty customer's earliest transaction (one index seek each), Repeat for the rest.
UPDATE d SET first_id = (
  SELECT TOP (1) f.transaction_id FROM sales_fact f WHERE f.customer_id = d.customer_id
  ORDER BY f.transaction_date, f.transaction_id)
FROM etl_dirty_customers d;
UPDATE sales_fact SET customer_status = 'Repeat', ${touched}
WHERE customer_status = 'First-time' AND customer_id IN (SELECT customer_id FROM etl_dirty_customers)
  AND transaction_id NOT IN (SELECT first_id FROM etl_dirty_customers WHERE first_id IS NOT NULL);
DECLARE @demoted BIGINT = @@ROWCOUNT;
UPDATE sales_fact SET customer_status = 'First-time', ${touched}
WHERE transaction_id IN (SELECT first_id FROM etl_dirty_customers WHERE first_id IS NOT NULL)
  AND (customer_status IS NULL OR customer_status <> 'First-time');
DECLARE @promoted BIGINT = @@ROWCOUNT;
DELETE FROM etl_dirty_customers;
UPDATE etl_rejects SET resolved_run = @1
WHERE source = 'sales' AND resolved_run IS NULL AND record_key IN (SELECT transaction_id FROM etl_stage_sales WHERE run_id = @1);
DECLARE @resolved BIGINT = @@ROWCOUNT;
-- 5. The high-water mark moves in the same transaction.
IF @2 = 1
  MERGE etl_state WITH (HOLDLOCK) AS t
  USING (SELECT 'high_water_mark' AS k, CONVERT(NVARCHAR(10), MAX(transaction_date), 23) AS v FROM sales_fact
         HAVING MAX(transaction_date) IS NOT NULL) AS s
  ON t."key" = s.k
  WHEN MATCHED THEN UPDATE SET value = s.v, updated_at = GETDATE()
  WHEN NOT MATCHED THEN INSERT ("key", value, updated_at) VALUES (s.k, s.v, GETDATE());
DELETE FROM etl_stage_sales WHERE run_id = @1;
SELECT @staged AS staged, @referential AS referential, @resolved AS resolved,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'INSERT') AS inserted,
  (SELECT COUNT_BIG(*) FROM @changes WHERE action = 'UPDATE') AS updated,
  @demoted + @promoted
    - (SELECT COUNT_BIG(*) FROM sales_fact WHERE run_id = @1 AND updated_date IS NULL AND customer_status = 'First-time')
    AS status_changes;`

const REJECT_COLUMNS = ["source", "record_key", "reject_key", "category", "reason", "location", "payload"] as const

/** The dead-letter upsert of one JSON batch of rejects: @1 the run id, @2 the batch. */
export const rejectsMerge = `MERGE etl_rejects WITH (HOLDLOCK) AS r
USING ${openJson("@2", REJECT_COLUMNS)} AS j
ON r.source = j.source AND r.reject_key = j.reject_key
WHEN MATCHED THEN UPDATE SET
  category = j.category, reason = j.reason, location = j.location, payload = j.payload, record_key = j.record_key,
  resolved_run = NULL, retry_requested = 0,
  attempts = r.attempts + CASE WHEN r.last_seen_run <> @1 THEN 1 ELSE 0 END, last_seen_run = @1
WHEN NOT MATCHED THEN
  INSERT (${REJECT_COLUMNS.join(", ")}, attempts, first_seen_run, last_seen_run)
  VALUES (${REJECT_COLUMNS.map((c) => `j.${c}`).join(", ")}, 1, @1, @1);`

const num = (v: unknown) => Number(v ?? 0)

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const base = yield* SqlWarehouse.make(mssql)
  const run = (text: string, params: ReadonlyArray<unknown>) => sql.unsafe(text, params)

  const stage = (operation: string, table: string, columns: ReadonlyArray<string>) => {
    const statement = stageStatement(table, columns)
    return (runId: string, rows: ReadonlyArray<object>) =>
      Effect.forEach(batches(rows), (json) => run(statement, [runId, json]), { discard: true }).pipe(
        SqlWarehouse.transaction(sql, mssql),
        Effect.mapError(SqlWarehouse.warehouseError(operation))
      )
  }

  const mergeDimension = (source: string, table: string, stageTable: string, columns: ReadonlyArray<string>, key: string) => {
    const statement = dimensionMerge(source, table, stageTable, columns, key)
    return (runId: string) =>
      run(statement, [runId]).pipe(
        Effect.map((rows) => {
          const r = rows.at(-1) as Record<string, unknown>
          const staged = num(r.staged), inserted = num(r.inserted), updated = num(r.updated)
          return { inserted, updated, unchanged: staged - inserted - updated }
        }),
        SqlWarehouse.transaction(sql, mssql),
        Effect.mapError(SqlWarehouse.warehouseError(`merge ${table}`))
      )
  }

  const recordRejects = (runId: string, rejects: ReadonlyArray<Reject>) => {
    const rows = rejects.map((r) => {
      const payload = JSON.stringify(r.payload)
      return {
        source: r.source, record_key: r.record_key, reject_key: SqlWarehouse.rejectKey(r, payload), category: r.category,
        reason: r.reason, location: r.location, payload
      }
    })
    // A MERGE may touch a row once: of a key twice in one batch, the last is sent.
    const last = new Map(rows.map((r) => [`${r.source}\u0000${r.reject_key}`, r]))
    return Effect.forEach(batches([...last.values()]), (json) => run(rejectsMerge, [runId, json]), { discard: true }).pipe(
      SqlWarehouse.transaction(sql, mssql),
      Effect.mapError(SqlWarehouse.warehouseError("record rejects"))
    )
  }

  const unpartitioned = new WarehouseError({
    operation: "plan partitions",
    reason: "partitioned runs (--partition-by) need a SQLite or PostgreSQL warehouse; run without --partition-by on SQL Server",
    transient: false
  })
  const service: WarehouseService = {
    ...base,
    ...stagingFrom(stage),
    recordRejects,
    ...dimensionMergesFrom(mergeDimension),
    mergeSales: (runId, _now, moveMark) =>
      run(salesMerge, [runId, moveMark ? 1 : 0]).pipe(
        Effect.map((rows) => {
          const r = rows.at(-1) as Record<string, unknown>
          const staged = num(r.staged), inserted = num(r.inserted), updated = num(r.updated)
          return {
            inserted, updated, unchanged: staged - inserted - updated, referential: num(r.referential),
            resolved: num(r.resolved), statusChanges: num(r.status_changes)
          }
        }),
        SqlWarehouse.transaction(sql, mssql),
        Effect.mapError(SqlWarehouse.warehouseError("merge sales_fact"))
      ),
    // Facts go through staging and the one MERGE statement above, first load or not.
    loadFactsDirectly: () => Effect.succeedNone,
    offersSideFile: Effect.succeed(false),
    // Customers go through staging and the merge, first load or not.
    loadCustomersDirectly: () => Effect.succeedNone,
    // The partition merge is the SQLite/PostgreSQL statement sequence; SQL Server loads unpartitioned.
    planPartitions: () => Effect.fail(unpartitioned),
    mergePartition: () => Effect.fail(unpartitioned),
    backup: (runId, _dir, keep) =>
      Effect.gen(function* () {
        const schema = `etl_backup_${runId.replace(/[^A-Za-z0-9]/g, "_").toLowerCase()}`
        yield* run(`EXEC('CREATE SCHEMA ${schema}')`, [])
        for (const t of ["customer_dim", "product_dim", "sales_fact", "etl_rejects", "etl_state"]) {
          yield* run(`SELECT * INTO ${schema}.${t} FROM ${t}`, [])
        }
        const schemas = (yield* run(`SELECT name FROM sys.schemas WHERE name LIKE 'etl\\_backup\\_%' ESCAPE '\\' ORDER BY name`, []))
          .map((r) => String((r as { name: string }).name))
        for (const old of schemas.slice(0, -keep)) {
          const tables = yield* run(
            `SELECT t.name FROM sys.tables t JOIN sys.schemas s ON s.schema_id = t.schema_id WHERE s.name = @1`, [old]
          )
          for (const t of tables) yield* run(`DROP TABLE ${old}.${String((t as { name: string }).name)}`, [])
          yield* run(`DROP SCHEMA ${old}`, [])
        }
        return schema
      }).pipe(Effect.mapError(SqlWarehouse.warehouseError("back up")))
  }
  return service
})

/** A SQL Server warehouse at `url`, with its SqlClient for direct queries. */
export const layerMssql = (url: Redacted.Redacted<string>) =>
  Layer.effect(Warehouse, make).pipe(
    Layer.provideMerge(MssqlClient.layer(mssqlOptions(new URL(Redacted.value(url)))))
  )
