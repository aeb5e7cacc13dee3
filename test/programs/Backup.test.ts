/** A full refresh backs the warehouse up first and keeps the newest BACKUP_KEEP copies. */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Duration, Effect, Option, TestClock } from "effect"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { backends } from "../support/Backends.js"
import { inputs } from "../support/Fixtures.js"

const root = join(import.meta.dirname, "../..")
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }
const threeRuns = Effect.forEach([1, 2, 3], () => Effect.zipRight(runPipeline(full), TestClock.adjust(Duration.minutes(1))))

describe("backups before a full refresh", () => {
  const sqlite = inputs({})
  it.effect("SQLite: online backups in OUTPUT_DIR/backups, the newest two kept", () =>
    Effect.gen(function* () {
      yield* threeRuns
      const dir = join(sqlite.settings.OUTPUT_DIR!, "backups")
      const files = readdirSync(dir).sort()
      expect(files).toHaveLength(2)
      const newest = new Database(join(dir, files[1]!), { readonly: true })
      expect(newest.prepare("SELECT count(*) AS n FROM customer_dim").get()).toEqual({ n: 19 })
      newest.close()
    }).pipe(Effect.provide(TestLayer.layer({ ...sqlite.settings, INPUT_DIR: join(root, "data/input"), BACKUP_KEEP: "2" }, join(sqlite.dir, "w.db")))))

  const pg = backends[1]!
  const pgInput = inputs({})
  describe.skipIf(pg.skip !== undefined)("PostgreSQL", () => {
    it.layer(pg.layer({ ...pgInput.settings, INPUT_DIR: join(root, "data/input"), BACKUP_KEEP: "2" }))((it) => {
      it.effect("a backup schema per full refresh, the newest two kept", () =>
        Effect.gen(function* () {
          yield* threeRuns
          const sql = yield* SqlClient.SqlClient
          const schemas = yield* sql<{ nspname: string }>`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'etl_backup_%' ORDER BY nspname`
          expect(schemas).toHaveLength(2)
          const [count] = yield* sql.unsafe<{ n: string }>(`SELECT count(*) AS n FROM ${schemas[1]!.nspname}.customer_dim`)
          expect(Number(count!.n)).toBe(19)
        }))
    })
  })
})
