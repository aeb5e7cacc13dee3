/**
 * A nested transaction (a batch staged, rejects recorded, inside a first load's
 * transaction) ends its savepoint: kept when it succeeds, undone when it fails,
 * and released either way. @effect/sql 0.52 left every one open to the end of
 * the outer transaction, where SQLite checked each page written against all of
 * them (a 1M first load with batches of 1,000 kept 2,000 open: 22-25 s instead
 * of 15).
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { postgres, sqlite } from "../../src/services/warehouse/Dialect.js"
import { transaction } from "../../src/services/warehouse/SqlWarehouse.js"
import { backends } from "../support/Backends.js"
import { inputs } from "../support/Fixtures.js"

for (const backend of backends) describe.skipIf(backend.skip !== undefined)(`nested transactions on ${backend.name}`, () => {
  const { settings } = inputs({})
  const dialect = backend.name === "SQLite" ? sqlite : postgres
  it.layer(backend.layer(settings))((it) => {
    it.effect("keep a nested level's writes, undo a failed one's, and leave no savepoint open", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const inTransaction = transaction(sql, dialect)
        yield* sql.unsafe("CREATE TABLE IF NOT EXISTS nested_probe (k TEXT PRIMARY KEY)")
        yield* sql.unsafe("DELETE FROM nested_probe")
        const put = (k: string) => sql.unsafe("INSERT INTO nested_probe (k) VALUES ('" + k + "')")
        // A savepoint still open can be rolled back to; once released, that statement fails. (SQLite
        // only: in PostgreSQL a failed statement aborts the whole transaction.)
        const names = ["effect_sql_1", "effect_sql_2", "etl_savepoint_1", "etl_savepoint_2"]
        const openSavepoints = backend.name !== "SQLite" ? Effect.succeed([]) : Effect.filter(names, (name) =>
          Effect.either(sql.unsafe(`ROLLBACK TO SAVEPOINT ${name}`)).pipe(Effect.map(Either.isRight)))
        const inside = yield* inTransaction(Effect.gen(function* () {
          yield* put("outer")
          yield* inTransaction(put("kept"))
          const afterSuccess = yield* openSavepoints
          yield* Effect.either(inTransaction(Effect.zipRight(put("undone"), Effect.fail("refused"))))
          const afterFailure = yield* openSavepoints
          yield* inTransaction(inTransaction(put("deep")))
          const afterDeep = yield* openSavepoints
          return { afterSuccess, afterFailure, afterDeep }
        }))
        expect(inside).toEqual({ afterSuccess: [], afterFailure: [], afterDeep: [] })
        const keys = (yield* sql.unsafe<{ k: string }>("SELECT k FROM nested_probe ORDER BY k")).map((r) => r.k)
        expect(keys).toEqual(["deep", "kept", "outer"])
      }))
  })
})
