/** A SQLite warehouse file: a new one gets 8 KiB pages before WAL fixes its page size; an existing one keeps its own. */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Option } from "effect"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs } from "../support/Fixtures.js"

const root = join(import.meta.dirname, "../..")
const run = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: false, dryRun: false }
const pragmas = (file: string) => {
  const db = new Database(file, { readonly: true })
  try {
    return { pageSize: db.pragma("page_size", { simple: true }), journal: db.pragma("journal_mode", { simple: true }), facts: (db.prepare("SELECT count(*) AS n FROM sales_fact").get() as { n: number }).n }
  } finally {
    db.close()
  }
}

describe("a SQLite warehouse file", () => {
  const fresh = inputs({})
  const freshFile = join(fresh.dir, "new.db")
  it.effect("a new one is made with 16 KiB pages, in WAL", () =>
    Effect.gen(function* () {
      yield* runPipeline(run)
      expect(pragmas(freshFile)).toEqual({ pageSize: 16384, journal: "wal", facts: 16 })
    }).pipe(Effect.provide(TestLayer.layer({ ...fresh.settings, INPUT_DIR: join(root, "data/input") }, freshFile))))

  const older = inputs({})
  const olderFile = join(older.dir, "old.db")
  // A warehouse made before: 4 KiB pages, already in WAL.
  const made = new Database(olderFile)
  made.pragma("journal_mode = WAL")
  made.exec("CREATE TABLE made_before (a)")
  made.close()
  it.effect("an existing one keeps its page size and loads as before", () =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(run)
      expect(summary.status).toBe("success")
      expect(pragmas(olderFile)).toEqual({ pageSize: 4096, journal: "wal", facts: 16 })
    }).pipe(Effect.provide(TestLayer.layer({ ...older.settings, INPUT_DIR: join(root, "data/input") }, olderFile))))
})
