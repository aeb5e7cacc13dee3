/**
 * SPLIT_READ=on: a first load's sales CSV read by two threads, the second part
 * written into a side file the warehouse takes in (SplitRead). The warehouse must
 * end exactly as one thread leaves it, line numbers included, and when the cut
 * falls inside a record the run's thread must read the rest itself.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Logger, LogLevel, Option } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { makeCsvParser } from "../../src/programs/CsvParser.js"
import { generate } from "../../src/programs/Generate.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { linesBefore } from "../../src/programs/SplitRead.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { inputs, loadedFacts } from "../support/Fixtures.js"

const options = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

const contents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    facts: yield* loadedFacts,
    // In the order recorded: the failed-records export lists them so.
    rejects: yield* sql`SELECT source, record_key, category, reason, location, payload FROM etl_rejects WHERE source = 'sales' ORDER BY reject_id`,
    staged: (yield* sql<{ n: number }>`SELECT count(*) AS n FROM etl_stage_sales`)[0]!.n
  }
})

/**
 * A run into its own warehouse file; what it loaded, its summary and its debug messages. `auto`:
 * SPLIT_READ unset. `staged`: the warehouse offers a side file but never loads directly.
 */
const runInto = (settings: Record<string, string>, dir: string, split: boolean | "auto", staged = false) =>
  Effect.gen(function* () {
    const file = join(dir, `${split === "auto" ? "auto" : split ? "split" : "one"}.db`)
    const messages: Array<string> = []
    const captured = Layer.merge(
      Logger.add(Logger.make(({ message }) => void messages.push(String(message)))),
      Logger.minimumLogLevel(LogLevel.Debug)
    )
    const result = yield* Effect.gen(function* () {
      const summary = yield* runPipeline(options)
      return { summary, contents: yield* contents }
    }).pipe(Effect.provide(Layer.merge(
      Layer.effect(Warehouse, Effect.map(Warehouse, (real) => staged ? { ...real, loadFactsDirectly: () => Effect.succeedNone } : real)).pipe(
        Layer.provideMerge(TestLayer.layer(split === "auto" ? settings : { ...settings, SPLIT_READ: split ? "on" : "off" }, file))
      ),
      captured
    )))
    return { ...result, log: messages.join("\n"), files: readdirSync(dir) }
  })

const sameLoad = (one: Effect.Effect.Success<ReturnType<typeof runInto>>, split: typeof one) => {
  expect(split.summary.status).toBe(one.summary.status)
  expect(split.contents.facts).toEqual(one.contents.facts)
  expect(split.contents.rejects).toEqual(one.contents.rejects)
  expect(split.contents.staged).toBe(0)
  expect(split.summary.changes).toEqual(one.summary.changes)
  expect(split.summary.records).toEqual(one.summary.records)
  const timing = { seconds: 0, rows_per_second: 0 }
  expect({ ...split.summary.sources.sales, ...timing }).toEqual({ ...one.summary.sources.sales, ...timing })
  // The side file is gone.
  expect(split.files.filter((f) => f.includes("-split-"))).toEqual([])
}

describe("a first load read by two threads", () => {
  it("counts the lines before a byte as the parser numbers them (CRLF, LF, CR, across reads)", () => {
    const dir = mkdtempSync(join(tmpdir(), "etl-lines-"))
    const path = join(dir, "lines.csv")
    const piece = fc.constantFrom("a", "b,c", "\n", "\r\n", "\r", "\"q\"")
    fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), fc.array(piece, { maxLength: 20 }), (before, after) => {
      // The cut is a line's start: the text before it ends with LF.
      const head = before.join("") + "\n"
      writeFileSync(path, head + after.join("") + "x\n")
      const parser = makeCsvParser({ record: () => undefined, broken: () => undefined })
      parser.write(head)
      expect(linesBefore(path, Buffer.byteLength(head))).toBe(parser.position().line)
    }), { numRuns: 300 })
    // A CRLF split between two 1 MiB reads is one break; a CR alone at the end of a read is one.
    for (const [at, pair] of [[1024 * 1024 - 1, "\r\n"], [1024 * 1024 - 1, "\r"]] as const) {
      const text = "a".repeat(at) + pair + "b\n"
      writeFileSync(path, text)
      expect(linesBefore(path, Buffer.byteLength(text))).toBe(3)
    }
  })

  const fixture = inputs({})
  const input = fixture.settings.INPUT_DIR!
  const sales = join(input, "sales_transactions.csv")

  it.live("leaves the warehouse as one thread does, with copies of a key on both sides of the cut", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 3000, outDir: input, seed: 11 }).pipe(Effect.provide(NodeContext.layer))
      const [header, first, ...rest] = readFileSync(sales, "utf8").trimEnd().split("\n")
      const [, customer, product] = first!.split(",")
      const row = (id: string, who: string, quantity: number) => `${id},${who},${product},${quantity},10.00,0,2024-05-01,R1,completed`
      // Early copies in the first part, late ones in the second: a fact a later unknown customer
      // withdraws, an unknown customer a later copy replaces, and a fact a later fact replaces.
      writeFileSync(sales, [
        header, row("T940001", customer!, 2), row("T940002", "C9999999", 2), row("T940003", customer!, 2), first, ...rest,
        row("T940001", "C9999999", 3), row("T940002", customer!, 4), row("T940003", customer!, 5)
      ].join("\n") + "\n")
      const dir = mkdtempSync(join(tmpdir(), "etl-split-"))
      const settings = { ...fixture.settings, BATCH_SIZE: "97" }
      const one = yield* runInto(settings, dir, false)
      const split = yield* runInto(settings, dir, true)
      // By default a file this small is read by one thread: a second one's start costs more than it gives.
      const auto = yield* runInto(settings, dir, "auto")

      expect(split.log).toContain("took in the second thread's sales")
      expect(one.log).not.toContain("second thread")
      expect(auto.log).not.toContain("second thread")
      expect(auto.contents.facts).toEqual(one.contents.facts)
      expect(split.contents.facts.length).toBeGreaterThan(2500)
      sameLoad(one, split)
      expect(split.contents.rejects).toContainEqual(expect.objectContaining({ record_key: "T940001", category: "referential" }))
      expect(split.contents.facts).toContainEqual(expect.objectContaining({ transaction_id: "T940002", quantity: 4 }))
      expect(split.contents.facts).toContainEqual(expect.objectContaining({ transaction_id: "T940003", quantity: 5 }))
      // Rejects from both parts, each at its line of the file.
      const lines = split.contents.rejects.map((r) => Number(/line (\d+)$/.exec(String(r.location))?.[1]))
      expect(Math.min(...lines)).toBeLessThan(1000)
      expect(Math.max(...lines)).toBeGreaterThan(2500)
    }))

  it.live("reads on one thread in a dry run, which the real run after it on the same connection splits", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 300, outDir: input, seed: 7 }).pipe(Effect.provide(NodeContext.layer))
      const dir = mkdtempSync(join(tmpdir(), "etl-split-"))
      const messages: Array<string> = []
      const layer = Layer.merge(
        TestLayer.layer({ ...fixture.settings, SPLIT_READ: "on" }, join(dir, "one.db")),
        Layer.merge(Logger.add(Logger.make(({ message }) => void messages.push(String(message)))), Logger.minimumLogLevel(LogLevel.Debug))
      )
      const [dry, real] = yield* Effect.gen(function* () {
        const dry = yield* runPipeline({ ...options, dryRun: true })
        const taken = messages.filter((m) => m.includes("took in the second thread's sales")).length
        return [{ summary: dry, taken }, { summary: yield* runPipeline(options), facts: yield* loadedFacts }] as const
      }).pipe(Effect.provide(layer))
      expect(dry.summary.status).toBe("success")
      expect(dry.taken).toBe(0)
      expect(real.summary.status).toBe("success")
      expect(messages.filter((m) => m.includes("took in the second thread's sales"))).toHaveLength(1)
      expect(real.facts).toHaveLength(real.summary.changes.sales_fact!.inserted)
      expect(readdirSync(dir).filter((f) => f.includes("-split-"))).toEqual([])
    }))

  it.live("reads the second part on the run's thread when a quoted record spans the cut", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 400, outDir: input, seed: 5 }).pipe(Effect.provide(NodeContext.layer))
      const [header, ...rows] = readFileSync(sales, "utf8").trimEnd().split("\n")
      const [, customer, product] = rows[0]!.split(",")
      // A record whose quoted sales rep runs over many lines, from well before the middle of the
      // file to well after it.
      const long = `T949999,${customer},${product},1,5.00,0,2024-05-01,"R${"\nmore".repeat(8000)}",completed`
      writeFileSync(sales, [header, ...rows.slice(0, 100), long, ...rows.slice(100)].join("\n") + "\n")
      const dir = mkdtempSync(join(tmpdir(), "etl-split-"))
      const one = yield* runInto(fixture.settings, dir, false)
      const split = yield* runInto(fixture.settings, dir, true)

      expect(split.log).toContain("is read on this thread instead: a quoted record runs across byte")
      expect(split.log).not.toContain("took in the second thread's sales")
      sameLoad(one, split)
      expect(split.summary.records.read).toBe(one.summary.records.read)
    }))

  it.live("stops the thread started ahead when the sales are staged and merged after all", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 2000, outDir: input, seed: 5 }).pipe(Effect.provide(NodeContext.layer))
      const dir = mkdtempSync(join(tmpdir(), "etl-split-"))
      const one = yield* runInto(fixture.settings, dir, false)
      const staged = yield* runInto(fixture.settings, dir, true, true)

      expect(staged.log).toContain("the second thread started ahead was not needed")
      expect(staged.log).not.toContain("second thread's sales")
      expect(staged.summary.status).toBe("success")
      expect(staged.contents.facts).toEqual(one.contents.facts)
      expect(staged.summary.records).toEqual(one.summary.records)
    }))
})
