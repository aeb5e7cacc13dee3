/** Validation's second thread (QueryThread): started ahead or when asked, it reads what was committed. */
import Database from "better-sqlite3"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeQueryThreads } from "../../src/services/warehouse/QueryThread.js"

const warehouse = () => {
  const file = join(mkdtempSync(join(tmpdir(), "etl-query-")), "w.db")
  const db = new Database(file)
  db.exec("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3)")
  return { file, db }
}
const sum = (file: string) => ({ file, statements: [{ sql: "SELECT sum(n) AS s FROM t WHERE n > ?", params: [1] }] })

describe("a query on a second thread", () => {
  it.live("started ahead, answers what was committed after it started", () =>
    Effect.gen(function* () {
      const { db, file } = warehouse()
      const threads = makeQueryThreads()
      yield* threads.warm
      yield* threads.warm
      yield* Effect.sleep("200 millis")
      db.exec("INSERT INTO t VALUES (4)")
      expect(yield* Effect.flatten(threads.send(sum(file)))).toEqual([[{ s: 9 }]])
      // Nothing waits now: the next one starts its own.
      db.exec("INSERT INTO t VALUES (5)")
      expect(yield* Effect.flatten(threads.send(sum(file)))).toEqual([[{ s: 14 }]])
      db.close()
    }))

  it.live("one that waited past its idle time is replaced, not reported as a failure", () =>
    Effect.gen(function* () {
      const { db, file } = warehouse()
      const threads = makeQueryThreads(20)
      yield* threads.warm
      yield* Effect.sleep("400 millis")
      expect(yield* Effect.flatten(threads.send(sum(file)))).toEqual([[{ s: 5 }]])
      db.close()
    }))

  it.live("says why when it cannot read the file", () =>
    Effect.gen(function* () {
      const { db, file } = warehouse()
      db.close()
      rmSync(file)
      const threads = makeQueryThreads()
      yield* threads.warm
      const reason = yield* Effect.flip(Effect.flatten(threads.send(sum(file))))
      expect(reason).toContain("unable to open database file")
    }))
})
