/**
 * extract_sales_database: completed transactions from the source database's
 * `sales_transactions` table, in the origin's query pattern, every value a
 * bound parameter, read in key-ordered pages of BATCH_SIZE rows (keyset
 * pagination: `@effect/sql` streaming is not implemented for SQLite and SQL
 * Server, and OFFSET paging slows down page by page). Each page is retried on
 * transient errors; the connection is released on every exit path.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { DateWindow, RawSale } from "../rules/Sales.js"
import { SourceError } from "../schema/Errors.js"
import type { DatabaseTarget } from "../services/AppConfig.js"
import { retryTransient, type RetrySettings } from "../services/Resilience.js"
import { causeMessage, isTransientCause, makeSqlClient } from "../services/SqlClients.js"

interface Cursor {
  readonly date: string | null
  readonly id: string | null
}

const nextDay = (day: string): string => {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + 1)
  return d.toISOString().slice(0, 10)
}

/** The statement for one page; the window's upper bound is exclusive on the next day so times of day count. */
export const pageQuery = (sql: SqlClient.SqlClient, kind: DatabaseTarget["kind"], window: DateWindow, cursor: Cursor, size: number) => {
  const text = (column: string) =>
    kind === "mssql" ? sql.literal(`CONVERT(VARCHAR(40), ${column}, 126)`) : sql.literal(`CAST(${column} AS VARCHAR(40))`)
  const byDate = window.from !== null || window.to !== null
  const conditions = [sql`status = ${"completed"}`]
  if (window.from !== null) conditions.push(sql`transaction_date >= ${window.from}`)
  if (window.to !== null) conditions.push(sql`transaction_date < ${nextDay(window.to)}`)
  if (byDate && cursor.id !== null) {
    conditions.push(sql`(transaction_date > ${cursor.date} OR (transaction_date = ${cursor.date} AND transaction_id > ${cursor.id}))`)
  } else if (cursor.id !== null) conditions.push(sql`transaction_id > ${cursor.id}`)
  const order = byDate ? sql.literal("transaction_date, transaction_id") : sql.literal("transaction_id")
  const top = kind === "mssql" ? sql.literal(`TOP (${size})`) : sql.literal("")
  const limit = kind === "mssql" ? sql.literal("") : sql.literal(`LIMIT ${size}`)
  return sql<{ readonly [K in keyof RawSale]: string | null }>`
    SELECT ${top}
      ${text("transaction_id")} AS transaction_id, ${text("customer_id")} AS customer_id,
      ${text("product_id")} AS product_id, ${text("quantity")} AS quantity,
      ${text("unit_price")} AS unit_price, ${text("discount_amount")} AS discount_amount,
      ${text("transaction_date")} AS transaction_date, ${text("sales_rep_id")} AS sales_rep_id
    FROM sales_transactions
    WHERE ${sql.and(conditions)}
    ORDER BY ${order} ${limit}`
}

export const extractSalesDatabase = (
  target: DatabaseTarget,
  window: DateWindow,
  pageSize: number,
  retry: RetrySettings & { readonly sourceQueryTimeoutSeconds: number }
): Stream.Stream<RawSale, SourceError> => {
  const failure = (reason: string, transient: boolean, cause?: unknown) =>
    new SourceError({ source: "sales", location: `${target.display} sales_transactions`, reason, transient, cause })
  return Stream.unwrapScoped(
    Effect.gen(function* () {
      const sql = yield* makeSqlClient(target, { readonly: true, statementTimeoutSeconds: retry.sourceQueryTimeoutSeconds }).pipe(
        Effect.mapError((e) => failure(`cannot connect to the source database: ${e.message}`, e.transient))
      )
      const page = (cursor: Cursor) =>
        pageQuery(sql, target.kind, window, cursor, pageSize).pipe(
          // @effect/sql finds an open transaction by one context tag whatever the client: read inside
          // the warehouse's (a dry run, a direct first load), the query would go to the warehouse.
          Effect.mapInputContext<never, never>(Context.omit(SqlClient.TransactionConnection)),
          Effect.mapError((e) => {
            const message = causeMessage(e)
            return failure(
              /no such table|does not exist|Invalid object name/i.test(message)
                ? `the source database has no sales_transactions table (${message})`
                : /statement timeout/i.test(message)
                ? `a page of sales_transactions took longer than SOURCE_QUERY_TIMEOUT_SECONDS=${retry.sourceQueryTimeoutSeconds} (${message})`
                : `query failed: ${message}`,
              isTransientCause(e),
              e
            )
          }),
          retryTransient(retry, "reading a page of sales_transactions")
        )
      return Stream.paginateChunkEffect({ date: null, id: null } as Cursor, (cursor) =>
        Effect.map(page(cursor), (rows) => {
          const last = rows[rows.length - 1]
          const sales = rows.map((r): RawSale => ({
            transaction_id: r.transaction_id ?? "",
            customer_id: r.customer_id ?? "",
            product_id: r.product_id ?? "",
            quantity: r.quantity ?? "",
            unit_price: r.unit_price ?? "",
            discount_amount: r.discount_amount ?? "",
            transaction_date: r.transaction_date ?? "",
            sales_rep_id: r.sales_rep_id ?? ""
          }))
          const next = rows.length < pageSize || last === undefined
            ? Option.none<Cursor>()
            // The date's text compares with the column in every dialect (the database casts the parameter).
            : Option.some({ date: last.transaction_date, id: last.transaction_id })
          return [Chunk.unsafeFromArray(sales), next] as const
        }))
    })
  )
}
