/**
 * The Warehouse for SQLite (the embedded default), over `@effect/sql`.
 */
import * as Migrator from "@effect/sql/Migrator"
import { SqlClient, type SqlError } from "@effect/sql"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { createHash } from "node:crypto"
import { Data, Duration, Effect, Layer, Option } from "effect"
import { WarehouseError } from "../../schema/Errors.js"
import type { Reject } from "../../schema/Reject.js"
import { AppConfig } from "../AppConfig.js"
import { Warehouse, type OpenReject, type WarehouseService } from "../Warehouse.js"
import { CUSTOMER_COLUMNS, PRODUCT_COLUMNS, SALE_COLUMNS, schemaV1 } from "./SqliteSchema.js"

/** Locked or busy databases clear up; everything else is not worth retrying. */
const isTransient = (error: SqlError.SqlError): boolean => {
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || code === "SQLITE_BUSY_SNAPSHOT"
}

const warehouseError = (operation: string) => (error: SqlError.SqlError) =>
  new WarehouseError({
    operation,
    reason: String((error.cause as { message?: unknown } | undefined)?.message ?? error.message),
    transient: isTransient(error),
    cause: error
  })

// SQLite binds at most 32766 parameters per statement; 500 rows of 17 columns stay far below.
const ROWS_PER_STATEMENT = 500

const placeholders = (columns: number, rows: number): string => {
  const row = `(${Array.from({ length: columns }, () => "?").join(",")})`
  return Array.from({ length: rows }, () => row).join(",")
}

/** `a IS NOT s.a OR b IS NOT s.b …`: a row really changed (NULL-safe). */
const differs = (table: string, columns: ReadonlyArray<string>) =>
  columns.map((c) => `${table}.${c} IS NOT s.${c}`).join(" OR ")

class DryRunRollback<A> extends Data.TaggedError("DryRunRollback")<{ readonly value: A }> {}

export const rejectKey = (reject: Reject, payload: string): string =>
  reject.record_key ?? "#" + createHash("sha1").update(payload).digest("hex")

export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const exec = (text: string, params: ReadonlyArray<unknown> = []) => sql.unsafe(text, params)
  const changes = (text: string, params: ReadonlyArray<unknown>) =>
    sql.unsafe(text, params).raw.pipe(Effect.map((r) => Number((r as { changes?: number }).changes ?? 0)))
  /** A merge step, logged at DEBUG with its duration: where a slow merge spends its time. */
  const step = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
    Effect.timed(effect).pipe(
      Effect.tap(([d, a]) => Effect.logDebug(`${label}: ${typeof a === "number" ? `${a} rows, ` : ""}${Duration.toMillis(d).toFixed(0)} ms`)),
      Effect.map(([, a]) => a)
    )

  yield* exec("PRAGMA foreign_keys = ON")
  yield* exec("PRAGMA busy_timeout = 5000")
  // WAL with synchronous=NORMAL: a commit survives a killed process (not a power cut
  // in its last instant), and batches stop paying an fsync each. A 64 MiB page cache.
  yield* exec("PRAGMA synchronous = NORMAL")
  yield* exec("PRAGMA cache_size = -65536")

  const stage = (
    operation: string,
    table: string,
    columns: ReadonlyArray<string>,
    key: string,
    extra: ReadonlyArray<string> = []
  ) => {
    const all = ["run_id", ...columns, ...extra]
    const update = [...columns, ...extra].filter((c) => c !== key).map((c) => `${c} = excluded.${c}`).join(", ")
    const statement = (rows: number) =>
      `INSERT INTO ${table} (${all.join(",")}) VALUES ${placeholders(all.length, rows)}
       ON CONFLICT (run_id, ${key}) DO UPDATE SET ${update}`
    return (runId: string, rows: ReadonlyArray<object>) =>
      Effect.gen(function* () {
        for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
          const slice = rows.slice(start, start + ROWS_PER_STATEMENT)
          const params: Array<unknown> = []
          for (const item of slice) {
            const row = item as Readonly<Record<string, unknown>>
            params.push(runId)
            for (const c of columns) params.push(row[c] ?? null)
            for (const c of extra) params.push(row[c] ?? null)
          }
          yield* exec(statement(slice.length), params)
        }
      }).pipe(sql.withTransaction, Effect.mapError(warehouseError(operation)))
  }

  /** UPDATE rows that really changed, INSERT new keys; counts from the statements themselves. */
  const mergeDimension = (operation: string, table: string, stageTable: string, columns: ReadonlyArray<string>, key: string) =>
    (runId: string, now: string) =>
      Effect.gen(function* () {
        const data = columns.filter((c) => c !== key)
        const staged = yield* exec(`SELECT count(*) AS n FROM ${stageTable} WHERE run_id = ?`, [runId])
        const updated = yield* changes(
          `UPDATE ${table} SET (${data.join(",")}, updated_date) = (${data.map((c) => "s." + c).join(",")}, ?)
           FROM ${stageTable} s
           WHERE s.run_id = ? AND s.${key} = ${table}.${key} AND (${differs(table, data)})`,
          [now, runId]
        )
        const inserted = yield* changes(
          `INSERT INTO ${table} (${columns.join(",")}, created_date)
           SELECT ${columns.map((c) => "s." + c).join(",")}, ? FROM ${stageTable} s
           WHERE s.run_id = ? AND NOT EXISTS (SELECT 1 FROM ${table} d WHERE d.${key} = s.${key})`,
          [now, runId]
        )
        const resolved = yield* changes(
          `UPDATE etl_rejects SET resolved_run = ?
           WHERE source = ? AND resolved_run IS NULL
             AND record_key IN (SELECT ${key} FROM ${stageTable} WHERE run_id = ?)`,
          [runId, operation, runId]
        )
        yield* exec(`DELETE FROM ${stageTable} WHERE run_id = ?`, [runId])
        const total = Number((staged[0] as { n: number }).n)
        yield* Effect.logDebug(`merged ${table}`).pipe(Effect.annotateLogs({ inserted, updated, resolved }))
        return { inserted, updated, unchanged: total - inserted - updated }
      }).pipe(sql.withTransaction, Effect.mapError(warehouseError(`merge ${table}`)))

  const saleData = SALE_COLUMNS.filter((c) => c !== "transaction_id")
  const salePayload = `json_object(${SALE_COLUMNS.map((c) => `'${c}', CAST(s.${c} AS TEXT)`).join(", ")})`

  const mergeSales = (runId: string, now: string, moveMark: boolean) =>
    Effect.gen(function* () {
      const missing = `(NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = s.customer_id)
                        OR NOT EXISTS (SELECT 1 FROM product_dim p WHERE p.product_id = s.product_id))`
      // 1. Quarantine facts whose dimension rows are missing; every later run retries them.
      yield* step("quarantine", exec(
        `INSERT INTO etl_rejects (source, record_key, reject_key, category, reason, location, payload, attempts, first_seen_run, last_seen_run)
         SELECT 'sales', s.transaction_id, s.transaction_id, 'referential',
           CASE
             WHEN NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = s.customer_id)
              AND NOT EXISTS (SELECT 1 FROM product_dim p WHERE p.product_id = s.product_id)
               THEN 'customer_id ''' || s.customer_id || ''' and product_id ''' || s.product_id || ''' are not in the warehouse'
             WHEN NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = s.customer_id)
               THEN 'customer_id ''' || s.customer_id || ''' is not in customer_dim'
             ELSE 'product_id ''' || s.product_id || ''' is not in product_dim'
           END,
           s.location, ${salePayload}, 1, ?, ?
         FROM etl_stage_sales s WHERE s.run_id = ? AND ${missing}
         ON CONFLICT (source, reject_key) DO UPDATE SET
           category = excluded.category, reason = excluded.reason, location = excluded.location,
           payload = excluded.payload, resolved_run = NULL,
           attempts = etl_rejects.attempts + (etl_rejects.last_seen_run <> excluded.last_seen_run),
           last_seen_run = excluded.last_seen_run`,
        [runId, runId, runId]
      ))
      const referential = yield* step("unstage quarantined", changes(`DELETE FROM etl_stage_sales AS s WHERE s.run_id = ? AND ${missing}`, [runId]))
      const staged = Number(
        ((yield* exec(`SELECT count(*) AS n FROM etl_stage_sales WHERE run_id = ?`, [runId]))[0] as { n: number }).n
      )
      // 2. Customers whose first transaction may move: those of new or re-dated facts, and those a fact left.
      yield* step("dirty customers", exec(
        `INSERT OR IGNORE INTO etl_dirty_customers (customer_id)
         SELECT s.customer_id FROM etl_stage_sales s LEFT JOIN sales_fact f ON f.transaction_id = s.transaction_id
         WHERE s.run_id = ? AND (f.transaction_id IS NULL OR f.customer_id IS NOT s.customer_id OR f.transaction_date IS NOT s.transaction_date)
         UNION
         SELECT f.customer_id FROM etl_stage_sales s JOIN sales_fact f ON f.transaction_id = s.transaction_id
         WHERE s.run_id = ? AND f.customer_id IS NOT s.customer_id`,
        [runId, runId]
      ))
      // 3. The merge itself.
      const updated = yield* step("update facts", changes(
        `UPDATE sales_fact SET (${saleData.join(",")}, run_id, updated_date) = (${saleData.map((c) => "s." + c).join(",")}, ?, ?)
         FROM etl_stage_sales s
         WHERE s.run_id = ? AND s.transaction_id = sales_fact.transaction_id AND (${differs("sales_fact", saleData)})`,
        [runId, now, runId]
      ))
      const inserted = yield* step("insert facts", changes(
        `INSERT INTO sales_fact (${SALE_COLUMNS.join(",")}, run_id, created_date)
         SELECT ${SALE_COLUMNS.map((c) => "s." + c).join(",")}, ?, ? FROM etl_stage_sales s
         WHERE s.run_id = ? AND NOT EXISTS (SELECT 1 FROM sales_fact f WHERE f.transaction_id = s.transaction_id)`,
        [runId, now, runId]
      ))
      // 4. First-time for each dirty customer's earliest transaction, Repeat for the rest. A new fact
      //    gets its status without counting as a change; an existing one whose status moves is updated.
      const statusChanges = yield* step("customer_status", changes(
        `UPDATE sales_fact SET customer_status = x.status,
           updated_date = CASE WHEN sales_fact.customer_status IS NULL THEN sales_fact.updated_date ELSE ? END
         FROM (SELECT transaction_id,
                 CASE WHEN ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY transaction_date, transaction_id) = 1
                      THEN 'First-time' ELSE 'Repeat' END AS status
               FROM sales_fact WHERE customer_id IN (SELECT customer_id FROM etl_dirty_customers)) x
         WHERE sales_fact.transaction_id = x.transaction_id AND sales_fact.customer_status IS NOT x.status`,
        [now]
      ))
      yield* exec(`DELETE FROM etl_dirty_customers`)
      const resolved = yield* step("resolve rejects", changes(
        `UPDATE etl_rejects SET resolved_run = ?
         WHERE source = 'sales' AND resolved_run IS NULL
           AND record_key IN (SELECT transaction_id FROM etl_stage_sales WHERE run_id = ?)`,
        [runId, runId]
      ))
      if (moveMark) {
        yield* exec(
          `INSERT INTO etl_state (key, value, updated_at)
           SELECT 'high_water_mark', MAX(transaction_date), ? FROM sales_fact WHERE true
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
           WHERE excluded.value IS NOT NULL`,
          [now]
        )
      }
      yield* step("clear stage", exec(`DELETE FROM etl_stage_sales WHERE run_id = ?`, [runId]))
      return {
        inserted,
        updated,
        unchanged: staged - inserted - updated,
        referential,
        resolved,
        statusChanges: statusChanges - inserted
      }
    }).pipe(sql.withTransaction, Effect.mapError(warehouseError("merge sales_fact")))

  const recordRejects = (runId: string, rejects: ReadonlyArray<Reject>) =>
    Effect.gen(function* () {
      const columns = "source, record_key, reject_key, category, reason, location, payload, attempts, first_seen_run, last_seen_run"
      for (let start = 0; start < rejects.length; start += ROWS_PER_STATEMENT) {
        const slice = rejects.slice(start, start + ROWS_PER_STATEMENT)
        // One statement may hold the same key twice (a duplicated bad row): keep the last.
        const byKey = new Map<string, ReadonlyArray<unknown>>()
        for (const r of slice) {
          const payload = JSON.stringify(r.payload)
          const key = rejectKey(r, payload)
          byKey.delete(key)
          byKey.set(key, [r.source, r.record_key, key, r.category, r.reason, r.location, payload, 1, runId, runId])
        }
        yield* exec(
          `INSERT INTO etl_rejects (${columns}) VALUES ${placeholders(10, byKey.size)}
           ON CONFLICT (source, reject_key) DO UPDATE SET
             category = excluded.category, reason = excluded.reason, location = excluded.location,
             payload = excluded.payload, record_key = excluded.record_key, resolved_run = NULL,
             attempts = etl_rejects.attempts + (etl_rejects.last_seen_run <> excluded.last_seen_run),
             last_seen_run = excluded.last_seen_run`,
          [...byKey.values()].flat()
        )
      }
    }).pipe(sql.withTransaction, Effect.mapError(warehouseError("record rejects")))

  const toOpenReject = (r: Record<string, unknown>): OpenReject => ({
    source: r.source as OpenReject["source"],
    recordKey: (r.record_key as string | null) ?? null,
    category: r.category as OpenReject["category"],
    reason: String(r.reason),
    location: (r.location as string | null) ?? null,
    payload: String(r.payload),
    attempts: Number(r.attempts)
  })

  const migrate = Migrator.make({})({
    loader: Migrator.fromRecord({
      "0001_warehouse": Effect.forEach(schemaV1, (ddl) => exec(ddl), { discard: true })
    }),
    table: "etl_migrations"
  }).pipe(
    Effect.provideService(SqlClient.SqlClient, sql),
    Effect.map((applied) => applied.map(([id, name]) => `${String(id).padStart(4, "0")}_${name}`)),
    Effect.mapError((e) =>
      new WarehouseError({ operation: "migrate", reason: e.message, transient: false, cause: e })
    )
  )

  const service: WarehouseService = {
    kind: "sqlite",
    migrate,
    beginRun: (run) =>
      exec(
        `INSERT INTO etl_run_history (run_id, env, mode, started_at, status, window_from, window_to) VALUES (?, ?, ?, ?, 'running', ?, ?)`,
        [run.runId, run.env, run.mode, run.startedAt, run.windowFrom, run.windowTo]
      ).pipe(Effect.asVoid, Effect.mapError(warehouseError("begin run"))),
    finishRun: (o) =>
      exec(
        `UPDATE etl_run_history SET finished_at = ?, status = ?, records_read = ?, records_loaded = ?, records_rejected = ?,
           records_filtered = ?, error_rate = ?, duration_seconds = ?, summary = ? WHERE run_id = ?`,
        [o.finishedAt, o.status, o.recordsRead, o.recordsLoaded, o.recordsRejected, o.recordsFiltered, o.errorRate,
          o.durationSeconds, o.summaryJson, o.runId]
      ).pipe(Effect.asVoid, Effect.mapError(warehouseError("finish run"))),
    stageCustomers: stage("stage customers", "etl_stage_customers", CUSTOMER_COLUMNS, "customer_id"),
    stageProducts: stage("stage products", "etl_stage_products", PRODUCT_COLUMNS, "product_id"),
    stageSales: stage("stage sales", "etl_stage_sales", SALE_COLUMNS, "transaction_id", ["location"]),
    recordRejects,
    mergeCustomers: mergeDimension("customers", "customer_dim", "etl_stage_customers", CUSTOMER_COLUMNS, "customer_id"),
    mergeProducts: mergeDimension("products", "product_dim", "etl_stage_products", PRODUCT_COLUMNS, "product_id"),
    mergeSales,
    productCosts: exec(`SELECT product_id, cost FROM product_dim`).pipe(
      Effect.map((rows) =>
        new Map(rows.map((r) => {
          const row = r as { product_id: string; cost: number | null }
          return [row.product_id, row.cost === null ? null : String(row.cost)] as const
        }))
      ),
      Effect.mapError(warehouseError("read product costs"))
    ),
    openRejects: (source, category) =>
      exec(
        `SELECT * FROM etl_rejects WHERE source = ? AND category = ? AND resolved_run IS NULL ORDER BY reject_id`,
        [source, category]
      ).pipe(Effect.map((rows) => rows.map((r) => toOpenReject(r as Record<string, unknown>))), Effect.mapError(warehouseError("read rejects"))),
    rejectsSeenIn: (runId) =>
      exec(`SELECT * FROM etl_rejects WHERE last_seen_run = ? AND resolved_run IS NULL ORDER BY reject_id`, [runId]).pipe(
        Effect.map((rows) => rows.map((r) => toOpenReject(r as Record<string, unknown>))),
        Effect.mapError(warehouseError("read rejects"))
      ),
    highWaterMark: exec(`SELECT value FROM etl_state WHERE key = 'high_water_mark'`).pipe(
      Effect.map((rows) => Option.fromNullable((rows[0] as { value?: string } | undefined)?.value)),
      Effect.mapError(warehouseError("read high-water mark"))
    ),
    lastSuccessfulRun: exec(
      `SELECT finished_at FROM etl_run_history WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1`
    ).pipe(
      Effect.map((rows) => Option.fromNullable((rows[0] as { finished_at?: string } | undefined)?.finished_at)),
      Effect.mapError(warehouseError("read run history"))
    ),
    recordLineage: (rows) =>
      Effect.forEach(rows, (l) =>
        exec(
          `INSERT INTO etl_lineage (run_id, source, target, records_in, records_out, records_rejected, started_at, finished_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [l.runId, l.source, l.target, l.recordsIn, l.recordsOut, l.recordsRejected, l.startedAt, l.finishedAt]
        ), { discard: true }).pipe(sql.withTransaction, Effect.mapError(warehouseError("record lineage"))),
    validate: (rate) =>
      Effect.gen(function* () {
        const count = (text: string, params: ReadonlyArray<unknown> = []) =>
          exec(text, params).pipe(Effect.map((rows) => Number((rows[0] as { n: number }).n)))
        // Computed values are checked to the cent: REAL storage may carry a binary tail.
        const checks: ReadonlyArray<readonly [string, string, ReadonlyArray<unknown>]> = [
          ["orphan facts (customer)", `SELECT count(*) AS n FROM sales_fact f WHERE NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = f.customer_id)`, []],
          ["orphan facts (product)", `SELECT count(*) AS n FROM sales_fact f WHERE NOT EXISTS (SELECT 1 FROM product_dim p WHERE p.product_id = f.product_id)`, []],
          ["required columns", `SELECT (SELECT count(*) FROM customer_dim WHERE segment IS NULL)
              + (SELECT count(*) FROM product_dim WHERE price IS NULL OR category IS NULL OR inventory_status IS NULL)
              + (SELECT count(*) FROM sales_fact WHERE customer_status IS NULL OR total_amount IS NULL OR transaction_date IS NULL) AS n`, []],
          ["total_amount = quantity × unit_price − discount", `SELECT count(*) AS n FROM sales_fact
              WHERE abs(total_amount - round(quantity * unit_price - discount_amount + 0.0000001 * sign(quantity * unit_price - discount_amount), 2)) >= 0.005`, []],
          ["commission = total × rate", `SELECT count(*) AS n FROM sales_fact
              WHERE abs(commission - round(total_amount * ? + 0.0000001 * sign(total_amount), 2)) >= 0.005`, [Number(rate)]],
          ["value_tier matches total", `SELECT count(*) AS n FROM sales_fact WHERE value_tier IS NOT
              CASE WHEN total_amount >= 500 THEN 'High Value' WHEN total_amount >= 100 THEN 'Medium Value' ELSE 'Low Value' END`, []],
          ["one First-time per customer", `SELECT count(*) AS n FROM (SELECT customer_id FROM sales_fact GROUP BY customer_id
              HAVING sum(customer_status = 'First-time') <> 1)`, []]
        ]
        return yield* Effect.forEach(checks, ([check, text, params]) =>
          count(text, params).pipe(
            Effect.map((n) => ({ check, passed: n === 0, detail: n === 0 ? "ok" : `${n} row(s) fail` }))
          ))
      }).pipe(Effect.mapError(warehouseError("validate"))),
    clearStaging: (runId) =>
      Effect.forEach(
        ["etl_stage_customers", "etl_stage_products", "etl_stage_sales"],
        (t) => exec(`DELETE FROM ${t} WHERE run_id = ?`, [runId]),
        { discard: true }
      ).pipe(Effect.mapError(warehouseError("clear staging"))),
    rollbackAfter: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      effect.pipe(
        Effect.flatMap((value) => Effect.fail(new DryRunRollback({ value }))),
        sql.withTransaction,
        Effect.catchAll((e) =>
          e instanceof DryRunRollback ? Effect.succeed(e.value as A) : Effect.fail(e as E | SqlError.SqlError)
        ),
        Effect.mapError((e) => (e instanceof Error && e.constructor.name === "SqlError" ? warehouseError("dry run")(e as SqlError.SqlError) : e as E))
      ),
    tableCounts: Effect.gen(function* () {
      const out: Record<string, number> = {}
      for (const t of ["customer_dim", "product_dim", "sales_fact", "etl_rejects", "etl_run_history", "etl_lineage"]) {
        out[t] = Number(((yield* exec(`SELECT count(*) AS n FROM ${t}`))[0] as { n: number }).n)
      }
      return out
    }).pipe(Effect.mapError(warehouseError("count tables")))
  }
  return service
})

/** A SQLite warehouse at `filename` (`:memory:` for tests), with its SqlClient for direct queries. */
export const layerSqlite = (filename: string) =>
  Layer.effect(Warehouse, make).pipe(Layer.provideMerge(SqliteClient.layer({ filename })))

/** The SQLite warehouse named by `DATABASE_URL`. */
export const layerFromConfig = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => layerSqlite(config.database.filename))
)
