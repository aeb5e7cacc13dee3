/**
 * A scoped SqlClient for any database target (SQLite, PostgreSQL, SQL
 * Server), and the test for which SQL errors are worth retrying.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { DatabaseTarget } from "./AppConfig.js"

const TRANSIENT_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN",
  "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_BUSY_SNAPSHOT",
  // PostgreSQL: shutdown, too many connections, serialization, deadlock, statement timeout
  "57P01", "57P02", "57P03", "53300", "40001", "40P01", "57014",
  "ESOCKET", "ETIMEOUT", "ECONNCLOSED" // tedious
])

/** Connection loss, timeouts, locks and deadlocks clear up; a missing table or a syntax error does not. */
export const isTransientCause = (cause: unknown): boolean => {
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && (TRANSIENT_CODES.has(code) || code.startsWith("08"))) return true
    if (/timeout|timed out|terminat|connection (closed|ended|refused|reset|error)|not queryable/i.test(String((current as { message?: unknown }).message ?? ""))) {
      return true
    }
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** The message of the innermost cause: what the database said. */
export const causeMessage = (cause: unknown): string => {
  let current: unknown = cause
  let message = String((current as { message?: unknown } | null)?.message ?? current)
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const m = (current as { message?: unknown }).message
    if (typeof m === "string" && m.length > 0) message = m
    // An AggregateError (tedious tries every address of a host) says only "Could not connect
    // (sequence)": the attempts' own messages are the useful part.
    const inner = (current as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length > 0) {
      const each = [...new Set(inner.map((e) => String((e as { message?: unknown } | null)?.message ?? e)))]
      message = `${message}: ${each.join("; ")}`
    }
    current = (current as { cause?: unknown }).cause
  }
  return message
}

/**
 * Opens a client for `target` in the current scope. A failure to open (a
 * missing SQLite file, a refused connection) fails with the database's own
 * message; the caller names the setting.
 */
export const makeSqlClient = (
  target: DatabaseTarget,
  options: {
    readonly readonly?: boolean
    /** PostgreSQL cancels a statement that runs longer (statement_timeout, SQLSTATE 57014: transient). */
    readonly statementTimeoutSeconds?: number
  } = {}
): Effect.Effect<SqlClient.SqlClient, { readonly message: string; readonly transient: boolean }, Scope.Scope> => {
  const pgUrl = () => {
    if (options.statementTimeoutSeconds === undefined) return target.url
    const url = new URL(Redacted.value(target.url))
    url.searchParams.set("options", `-c statement_timeout=${Math.round(options.statementTimeoutSeconds * 1000)}`)
    return Redacted.make(url.toString())
  }
  // The server drivers are loaded only for the dialect in use.
  const open: Effect.Effect<SqlClient.SqlClient, unknown, Scope.Scope | Reactivity.Reactivity> =
    target.kind === "sqlite"
      ? SqliteClient.make({ filename: target.filename, readonly: options.readonly ?? false })
      : target.kind === "postgres"
      ? Effect.flatMap(Effect.promise(() => import("@effect/sql-pg/PgClient")), (PgClient) =>
        PgClient.make({ url: pgUrl(), connectTimeout: Duration.seconds(10), maxConnections: 4 }))
      : Effect.flatMap(Effect.promise(() => import("./MssqlOptions.js")), ({ MssqlClient, mssqlOptions }) =>
        MssqlClient.make(mssqlOptions(new URL(Redacted.value(target.url)))))
  return open.pipe(
    Effect.sandbox,
    Effect.mapError((cause) => {
      const error = Cause.squash(cause)
      return { message: causeMessage(error), transient: isTransientCause(error) }
    }),
    Effect.provide(Reactivity.layer)
  )
}
