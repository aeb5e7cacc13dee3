/**
 * Reading the sales CSV on a second thread (READ_THREAD=on) must load exactly
 * what reading it on the run's own thread loads: the same facts, the same
 * rejects with the same reasons, locations and payloads, the same counts, and
 * the same errors for a file that cannot be read.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import { appendFileSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { generate } from "../../src/programs/Generate.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { readSalesOnThread } from "../../src/programs/ReadThread.js"
import { inputs, loadedFacts, SALES_HEADER } from "../support/Fixtures.js"

const options = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: false, dryRun: false }

const contents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    facts: yield* loadedFacts,
    rejects: yield* sql`SELECT source, record_key, reject_key, category, reason, location, payload, attempts
                        FROM etl_rejects ORDER BY source, reject_key`
  }
})

const runWith = (settings: Record<string, string>, readThread: string) =>
  Effect.gen(function* () {
    const summary = yield* runPipeline(options)
    return { summary, contents: yield* contents }
  }).pipe(Effect.provide(TestLayer.layer({ ...settings, READ_THREAD: readThread })))

describe("reading sales on a second thread", () => {
  const fixture = inputs({})
  const input = fixture.settings.INPUT_DIR!
  const sales = join(input, "sales_transactions.csv")

  it.live("loads exactly what the run's own thread loads", () =>
    Effect.gen(function* () {
      // The generator's dirty mix, then what only a hand can write: a separator byte inside a
      // value (that batch crosses as JSON), bytes that are not UTF-8, a short row, a copy of an
      // early transaction (the later one wins across batches), and an unclosed quote at the end.
      yield* generate({ transactions: 6000, outDir: input, seed: 7 }).pipe(Effect.provide(NodeContext.layer))
      const first = readFileSync(sales, "utf8").split("\n")[1]!
      const [, customer, product] = first.split(",")
      appendFileSync(sales, [
        `T900001,${customer},${product},2,10.00,0,2024-05-01,REP\x1f9,completed`,
        "T900002,C000002,P00002,1,5.00,0,2024-05-01,R\uFFFD,completed",
        "T900003,C000003",
        first.replace(/,1,|,2,|,3,|,4,|,5,/, ",7,"),
        `T900004,C000004,P00004,1,"5.00,0,2024-05-01,R1,completed`
      ].join("\n") + "\n")
      appendFileSync(sales, Buffer.from([0x54, 0x39, 0x30, 0x30, 0x30, 0x30, 0x35, 0x2c, 0xff, 0xfe, 0x0a]))
      const settings = { ...fixture.settings, BATCH_SIZE: "499" }
      const inline = yield* runWith(settings, "off")
      const threaded = yield* runWith(settings, "on")

      expect(threaded.summary.status).toBe(inline.summary.status)
      expect(threaded.summary.sources.sales).toEqual({ ...inline.summary.sources.sales, seconds: threaded.summary.sources.sales!.seconds, rows_per_second: threaded.summary.sources.sales!.rows_per_second })
      expect(threaded.summary.changes).toEqual(inline.summary.changes)
      expect(threaded.summary.sources.sales).toMatchObject({ read: 6005 })
      expect(threaded.contents.facts.length).toBeGreaterThan(5000)
      expect(threaded.contents.facts).toEqual(inline.contents.facts)
      expect(threaded.contents.rejects).toEqual(inline.contents.rejects)
      expect(threaded.contents.facts).toContainEqual(expect.objectContaining({ transaction_id: "T900001", sales_rep_id: "REP\x1f9" }))
      expect(threaded.contents.rejects.map((r) => r.category)).toEqual(expect.arrayContaining(["malformed", "validation", "referential"]))
    }))

  it.live.each([
    ["a header without its columns", "id,amount\n1,2\n", /header is missing required columns transaction_id/],
    ["an empty file", "", /file is empty/]
  ] as const)("fails the sales source with the same message when the file is %s", ([, text, message]) =>
    Effect.gen(function* () {
      writeFileSync(sales, text)
      const inline = yield* runWith(fixture.settings, "off")
      const threaded = yield* runWith(fixture.settings, "on")
      expect(threaded.summary.status).toBe("partial")
      expect(threaded.summary.sources.sales).toMatchObject({ status: "failed" })
      expect(threaded.summary.failures).toEqual(inline.summary.failures)
      expect(threaded.summary.failures.join("\n")).toMatch(message)
    }))

  it.live("ends the read with the thread's error when the thread fails, instead of waiting for it", () =>
    Effect.gen(function* () {
      writeFileSync(sales, `${SALES_HEADER}\nT1,C1,P1,1,10.00,0,2024-05-01,R1,completed\n`)
      // No commission rate the rules can read: the first sale throws on the thread.
      const exit = yield* readSalesOnThread(
        { path: sales, window: { from: null, to: null }, costs: [], commissionRate: "not a rate", batchSize: 10 },
        () => Effect.void
      ).pipe(Stream.runDrain, Effect.exit)
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toMatch(/reading .*sales_transactions\.csv on a second thread failed: .*TypeError/s)
    }))

  it.live("says which file it cannot find", () =>
    Effect.gen(function* () {
      const settings = { ...fixture.settings, SALES_FILE: join(input, "missing.csv") }
      const threaded = yield* runWith(settings, "on")
      expect(threaded.summary.failures.join("\n")).toMatch(/missing\.csv.*file not found/)
      expect(threaded.summary.failures).toEqual((yield* runWith(settings, "off")).summary.failures)
    }))
})
