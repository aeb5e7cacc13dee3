/**
 * The bad-input corpus (test/fixtures/bad): each file in place of one input,
 * the others the sample. For each: the documented status, a message that
 * names the file and the problem, and every record accounted for.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { copyFileSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "./../src/layers/Test.js"
import { makeCsvParser } from "./../src/programs/CsvParser.js"
import { runPipeline } from "./../src/programs/Pipeline.js"
import type { RunSummary } from "./../src/programs/Report.js"
import { CUSTOMER_HEADER, inputs } from "./support/Fixtures.js"

const root = join(import.meta.dirname, "..")
const bad = (name: string) => join(root, "test/fixtures/bad", name)
const slots = { customers: "customers.csv", products: "products.json", sales: "sales_transactions.csv" } as const
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

/** The sample as inputs, `file` as the `slot` input (a path to copy, or a writer); extra settings on top. */
const fixtureWith = (slot: keyof typeof slots, file: string | ((path: string) => void), extra: Record<string, string> = {}) => {
  const fixture = inputs({})
  for (const f of Object.values(slots)) copyFileSync(join(root, "data/input", f), join(fixture.settings.INPUT_DIR!, f))
  const target = join(fixture.settings.INPUT_DIR!, slots[slot])
  if (typeof file === "string") copyFileSync(file, target)
  else file(target)
  const settings = { ...fixture.settings, ...extra }
  return { target, settings, layer: TestLayer.layer(settings) }
}

/** Runs the pipeline with `file` as the `slot` input. */
const runWith = (slot: keyof typeof slots, file: string | ((path: string) => void)) => {
  const { layer, target } = fixtureWith(slot, file)
  return { target, run: runPipeline(full).pipe(Effect.provide(layer)) }
}

const accounted = (s: RunSummary) => {
  for (const [name, c] of Object.entries(s.sources)) expect(c.read, `${name} read = loaded + rejected + filtered`).toBe(c.loaded + c.rejected + c.filtered)
}

const sourceFailures: ReadonlyArray<readonly [string, keyof typeof slots, RegExp]> = [
  ["empty.csv", "customers", /file is empty: expected a header line/],
  ["binary-garbage.csv", "customers", /the first line is not text: the file looks binary or is not UTF-8/],
  ["semicolons.csv", "customers", /the file looks delimited by ';', expected ','/],
  ["truncated.json", "products", /malformed JSON/],
  // A second document after the first: its products would have been lost without a word.
  ["appended.json", "products", /malformed JSON: .* at line 2, column 1/],
  ["wrong-shape.json", "products", /expected a JSON object with a 'products' array/]
]

describe("bad input corpus", () => {
  it.effect.each(sourceFailures)("%s fails its source alone, naming the file and the problem", ([name, slot, problem]) =>
    Effect.gen(function* () {
      const { run, target } = runWith(slot, bad(name))
      const summary = yield* run
      expect(summary.status).toBe("partial")
      const failure = summary.failures.find((f) => f.startsWith(`${slot}:`))!
      expect(failure).toContain(target)
      expect(failure).toMatch(problem)
      accounted(summary)
    }))

  it.effect("header-only.csv loads nothing and succeeds", () =>
    Effect.gen(function* () {
      const summary = yield* runWith("customers", bad("header-only.csv")).run
      expect(summary.status).toBe("success")
      expect(summary.sources.customers).toMatchObject({ read: 0, loaded: 0 })
    }))

  it.effect("invalid-utf8.csv rejects the undecodable row, loads the rest", () =>
    Effect.gen(function* () {
      const summary = yield* runWith("customers", bad("invalid-utf8.csv")).run
      expect(summary.sources.customers).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejectedBy: { malformed: 1 } })
      accounted(summary)
    }))

  it.effect("unbalanced-quotes.csv turns the unclosed quote into one malformed reject naming its line", () =>
    Effect.gen(function* () {
      const { run, target } = runWith("customers", bad("unbalanced-quotes.csv"))
      const summary = yield* run
      expect(summary.sources.customers).toMatchObject({ read: 1, rejected: 1, rejectedBy: { malformed: 1 } })
      expect(target).toContain("customers.csv")
      accounted(summary)
    }))

  it.effect("duplicate-keys.csv keeps the last row; a date in the year 99999 is flagged, not loaded as a date", () =>
    Effect.gen(function* () {
      const { layer } = fixtureWith("customers", bad("duplicate-keys.csv"))
      const rows = yield* Effect.gen(function* () {
        const summary = yield* runPipeline(full)
        accounted(summary)
        return yield* (yield* SqlClient.SqlClient)`SELECT customer_id, email, base_segment, registration_date, quality_flags FROM customer_dim`
      }).pipe(Effect.provide(layer))
      expect(rows).toEqual([{ customer_id: "C1", email: "ann@b.co", base_segment: "Premium", registration_date: null, quality_flags: "invalid_registration_date" }])
    }))

  it.effect("numbers-as-words.json rejects what is not a number and loads the rest", () =>
    Effect.gen(function* () {
      const summary = yield* runWith("products", bad("numbers-as-words.json")).run
      expect(summary.sources.products).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejectedBy: { validation: 1 } })
      accounted(summary)
    }))

  it.effect("words-and-far-dates.csv: quantities and prices in words and the year 99999 are rejected with reasons", () =>
    Effect.gen(function* () {
      const summary = yield* runWith("sales", bad("words-and-far-dates.csv")).run
      expect(summary.sources.sales).toMatchObject({ read: 4, rejected: 4, rejectedBy: { validation: 3, referential: 1 } })
      accounted(summary)
      // Each reject says where it was read, the one set aside by a first load's direct write too.
      const records: Array<Array<string>> = []
      const parser = makeCsvParser({ record: (fields) => records.push(fields), broken: (raw) => records.push([raw]) })
      parser.write(readFileSync(summary.files.failed_records!, "utf8"))
      parser.end()
      const sales = records.filter(([source]) => source === "sales")
      expect(sales.map(([, key, category, , location]) => [key, category, location?.replace(/^.*\//, "")]).sort()).toEqual([
        ["T1", "validation", "sales_transactions.csv line 2"],
        ["T2", "validation", "sales_transactions.csv line 3"],
        ["T3", "validation", "sales_transactions.csv line 4"],
        ["T4", "referential", "sales_transactions.csv line 5"]
      ])
    }))

  it.effect("a field of 10 MB and a header of 10,000 columns are read whole", () =>
    Effect.gen(function* () {
      const big = yield* runWith("customers", (path) =>
        writeFileSync(path, `${CUSTOMER_HEADER}\nC1,Ann,Lee,a@b.co,5551234567,"${"x".repeat(10 * 1024 * 1024)}",Basic,2024-01-01\n`)).run
      expect(big.sources.customers).toMatchObject({ read: 1, loaded: 1 })
      const wide = yield* runWith("customers", (path) => {
        const extra = Array.from({ length: 9992 }, (_, i) => `extra_${i}`)
        writeFileSync(path, `${CUSTOMER_HEADER},${extra.join(",")}\nC1,Ann,Lee,a@b.co,5551234567,1 Main,Basic,2024-01-01,${extra.map(() => "v").join(",")}\n`)
      }).run
      expect(wide.sources.customers).toMatchObject({ read: 1, loaded: 1 })
    }), { timeout: 60_000 })

  it.effect("an unwritable output folder stops the run before the warehouse is touched, with an alert", () =>
    Effect.gen(function* () {
      const { layer, settings } = fixtureWith("customers", join(root, "data/input/customers.csv"), { OUTPUT_DIR: "/etc/hostname/out" })
      const result = yield* Effect.gen(function* () {
        const outcome = yield* Effect.either(runPipeline(full))
        const tables = yield* (yield* SqlClient.SqlClient)`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`
        return { outcome, tables }
      }).pipe(Effect.provide(layer))
      expect(result.outcome._tag === "Left" && result.outcome.left.message).toMatch(/cannot write \/etc\/hostname\/out: OUTPUT_DIR is not writable/)
      expect(result.tables).toEqual([{ n: 0 }])
      expect(readFileSync(join(settings.ALERTS_DIR!, "email_alerts.log"), "utf8")).toContain("output folder not writable")
    }))
})
