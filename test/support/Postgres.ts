/**
 * PostgreSQL for tests: each suite gets a database of its own, dropped at the
 * end, so runs never collide. Without TEST_DATABASE_URL the suites are skipped
 * with a printed reason.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Either, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { parseDatabaseUrl } from "../../src/services/AppConfig.js"
import { makeSqlClient } from "../../src/services/SqlClients.js"

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL

export const skipReason = TEST_DATABASE_URL === undefined
  ? "TEST_DATABASE_URL is not set: the PostgreSQL tests are skipped (CI sets it)"
  : undefined

if (skipReason !== undefined) console.log(`skipped: ${skipReason}`)

const admin = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(
    Effect.flatMap(
      makeSqlClient(Either.getOrThrow(parseDatabaseUrl(TEST_DATABASE_URL!))).pipe(Effect.orDie),
      f
    )
  )

/** Creates a fresh database and returns its URL; `drop` removes it. */
export const freshDatabase = async (prefix: string) => {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`
  await Effect.runPromise(admin((sql) => sql.unsafe(`CREATE DATABASE ${name}`)).pipe(Effect.orDie))
  const url = new URL(TEST_DATABASE_URL!)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () =>
      Effect.runPromise(
        admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(Effect.orDie)
      )
  }
}

export const redactedUrl = (url: string) => Redacted.make(url)
