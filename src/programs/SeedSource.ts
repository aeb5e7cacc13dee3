/**
 * Fills a source database's `sales_transactions` table from a sales CSV, so
 * users can try the database path (`etl generate --source-db URL`). The table
 * has typed columns like an OLTP table; a value that cannot fit its type
 * (a quantity of "abc", the 45th of the 13th month) is stored NULL, and the
 * pipeline later rejects that row with a reason.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { parseTransactionDate } from "../rules/Dates.js"
import * as Money from "../rules/Money.js"
import { OutputError } from "../schema/Errors.js"
import type { DatabaseTarget } from "../services/AppConfig.js"
import { makeSqlClient } from "../services/SqlClients.js"
import { field, type CsvItem } from "./Csv.js"
import { extractSalesCsv } from "./Extract.js"

const DDL = {
  sqlite: `CREATE TABLE sales_transactions (
    transaction_id TEXT PRIMARY KEY, customer_id TEXT, product_id TEXT, quantity INTEGER, unit_price NUMERIC,
    discount_amount NUMERIC, transaction_date TEXT, sales_rep_id TEXT, status TEXT NOT NULL)`,
  postgres: `CREATE TABLE sales_transactions (
    transaction_id VARCHAR(40) PRIMARY KEY, customer_id VARCHAR(40), product_id VARCHAR(40), quantity INTEGER,
    unit_price NUMERIC(14, 4), discount_amount NUMERIC(14, 4), transaction_date TIMESTAMP, sales_rep_id VARCHAR(40),
    status VARCHAR(20) NOT NULL)`
} as const

const INDEX = `CREATE INDEX sales_transactions_status_date ON sales_transactions (status, transaction_date, transaction_id)`

const numeric = (text: string) => (Money.parseDecimal(text) === undefined ? null : text.trim())
const integer = (text: string) => (/^\s*-?\d{1,9}\s*$/.test(text) ? Number(text) : null)
const timestamp = (text: string) => {
  const day = parseTransactionDate(text)
  if (day === undefined) return null
  const time = /[T ](\d{1,2}:\d{2}(?::\d{2})?)/.exec(text.trim())
  return time === null ? day : `${day} ${time[1]}`
}

const ROWS_PER_INSERT = 1000

/** Replaces `sales_transactions` in `target` with the rows of `salesCsv`; returns how many were written. */
export const seedSourceDatabase = (target: DatabaseTarget, salesCsv: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      if (target.kind === "mssql") {
        return yield* new OutputError({ path: target.display, reason: "seeding a SQL Server source is not supported; load sales_transactions.csv with bcp" })
      }
      const failed = (e: { readonly message: string }) => new OutputError({ path: `${target.display} sales_transactions`, reason: e.message })
      const sql: SqlClient.SqlClient = yield* makeSqlClient(target).pipe(Effect.mapError(failed))
      yield* sql.unsafe(`DROP TABLE IF EXISTS sales_transactions`).pipe(Effect.mapError(failed))
      yield* sql.unsafe(DDL[target.kind]).pipe(Effect.mapError(failed))
      let written = 0
      const columns = ["customer_id", "product_id", "quantity", "unit_price", "discount_amount", "transaction_date", "sales_rep_id", "status"]
      yield* extractSalesCsv(salesCsv).pipe(
        Stream.filter((item): item is CsvItem & { _tag: "Row" } => item._tag === "Row" && field(item, "transaction_id").trim() !== ""),
        Stream.map((item) => ({
          transaction_id: field(item, "transaction_id").trim(),
          customer_id: field(item, "customer_id").trim() || null,
          product_id: field(item, "product_id").trim() || null,
          quantity: integer(field(item, "quantity")),
          unit_price: numeric(field(item, "unit_price")),
          discount_amount: numeric(field(item, "discount_amount")),
          transaction_date: timestamp(field(item, "transaction_date")),
          sales_rep_id: field(item, "sales_rep_id").trim() || null,
          status: item.header.index.has("status") ? field(item, "status").trim() : "completed"
        })),
        Stream.grouped(ROWS_PER_INSERT),
        Stream.runForEach((rows) => {
          // The last row per key wins, as in the pipeline.
          const unique = [...new Map(Chunk.toReadonlyArray(rows).map((r) => [r.transaction_id, r])).values()]
          written += unique.length
          return sql`INSERT INTO sales_transactions ${sql.insert(unique)}
            ON CONFLICT (transaction_id) DO UPDATE SET ${sql.literal(columns.map((c) => `${c} = excluded.${c}`).join(", "))}`.pipe(
            Effect.mapError(failed)
          )
        }),
        Effect.mapError((e) => (e._tag === "SourceError" ? new OutputError({ path: salesCsv, reason: e.reason }) : e))
      )
      yield* sql.unsafe(INDEX).pipe(Effect.mapError(failed))
      return written
    })
  )
