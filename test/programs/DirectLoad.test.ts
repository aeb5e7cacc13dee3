/**
 * A first load into an empty fact table writes the facts once, straight into
 * sales_fact (Warehouse.loadFactsDirectly), instead of staging and merging
 * them. It must leave the warehouse exactly as the staged merge would, and
 * leave nothing behind when it does not finish.
 */
import { NodeContext } from "@effect/platform-node"
import Database from "better-sqlite3"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, FastCheck as fc, Fiber, Layer, Option } from "effect"
import { appendFileSync, existsSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { generate } from "../../src/programs/Generate.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import * as Money from "../../src/rules/Money.js"
import { postgres, sqlite } from "../../src/services/warehouse/Dialect.js"
import { inCents, SALE_CENTS_SELECT, SALE_COLUMNS, writeSaleCents, writeSaleValues } from "../../src/services/warehouse/Schema.js"
import { statementSlices } from "../../src/services/warehouse/Schema.js"
import type { SaleRow } from "../../src/schema/Records.js"
import { inputs, loadedFacts } from "../support/Fixtures.js"

const options = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

/** Numbers compare as numbers: the merge's payload holds a staged REAL as SQLite prints it (10.0 for 10.00). */
const payloadOf = (text: string) =>
  Object.fromEntries(Object.entries(JSON.parse(text) as Record<string, unknown>).map(([k, v]) =>
    [k, typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v]))

const contents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const rejects = yield* sql<{ category: string; payload: string }>`SELECT source, record_key, category, reason, location, payload
                      FROM etl_rejects WHERE resolved_run IS NULL ORDER BY source, reject_key`
  return {
    facts: yield* loadedFacts,
    customers: yield* sql<Record<string, unknown>>`SELECT * FROM customer_dim ORDER BY customer_id`,
    openRejects: rejects.map((r) => ({ ...r, payload: payloadOf(r.payload) })),
    stamps: yield* sql`SELECT run_id, created_date, count(*) AS n FROM sales_fact GROUP BY run_id, created_date`,
    // The index builds sort in a smaller cache (Dialect.indexBuild) and give the connection its own back.
    cacheSize: (yield* sql<{ cache_size: number }>`PRAGMA cache_size`)[0]!.cache_size,
    indexes: (yield* sql<{ name: string }>`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'sales_fact' ORDER BY name`)
      .map((r) => r.name),
    // The high-water mark, and the newest fact's date it must be.
    mark: yield* sql`SELECT value FROM etl_state WHERE "key" = 'high_water_mark'`,
    newest: yield* sql`SELECT max(transaction_date) AS value FROM sales_fact`,
    // Every index holds exactly its table's rows (the First-time one is kept through a bulk load, not rebuilt).
    integrity: (yield* sql<{ integrity_check: string }>`PRAGMA integrity_check`).map((r) => r.integrity_check)
  }
})

/** The warehouse with its sales and customer staging counted, and, when `staged`, without the direct loads. */
const watched = (staged: boolean, stagedBatches: { count: number; customers: number }) =>
  Layer.effect(
    Warehouse,
    Effect.map(Warehouse, (w) => ({
      ...w,
      stageSales: (runId: string, rows: Parameters<typeof w.stageSales>[1]) =>
        Effect.zipRight(Effect.sync(() => stagedBatches.count++), w.stageSales(runId, rows)),
      stageCustomers: (runId: string, rows: Parameters<typeof w.stageCustomers>[1]) =>
        Effect.zipRight(Effect.sync(() => stagedBatches.customers++), w.stageCustomers(runId, rows)),
      loadFactsDirectly: staged ? () => Effect.succeedNone : w.loadFactsDirectly,
      loadCustomersDirectly: staged ? () => Effect.succeedNone : w.loadCustomersDirectly
    }))
  )

const runWith = (settings: Record<string, string>, staged: boolean) =>
  Effect.gen(function* () {
    const stagedBatches = { count: 0, customers: 0 }
    const result = yield* Effect.gen(function* () {
      const summary = yield* runPipeline(options)
      return { summary, contents: yield* contents }
    }).pipe(Effect.provide(Layer.provideMerge(watched(staged, stagedBatches), TestLayer.layer(settings))))
    return { ...result, stagedBatches: stagedBatches.count, stagedCustomerBatches: stagedBatches.customers }
  })

describe("a first load straight into the fact table", () => {
  it("binds each fact's values in the order of its columns", () => {
    const params = new Array<unknown>(SALE_COLUMNS.length + 2).fill("before")
    const asText = { decimalParam: (t: string) => t, centsParam: (c: number, text: (c: number) => string) => text(c) }
    expect(writeSaleValues(params, 1, Object.fromEntries(SALE_COLUMNS.map((c) => [c, c])) as unknown as SaleRow, asText)).toBe(SALE_COLUMNS.length + 1)
    expect(params).toEqual(["before", ...SALE_COLUMNS, "before"])
  })

  it("binds a decimal into SQLite's REAL as the double SQLite makes of its text", () => {
    // Dialect.decimalParam: SQLite parsing the text itself cost 1.7 s of a million facts' insert.
    const db = new Database(":memory:")
    db.exec("CREATE TABLE t (a REAL, b REAL)")
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)")
    const digits = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: n })
    const decimal = fc.tuple(fc.boolean(), digits(17), fc.option(digits(6), { nil: undefined }))
      .map(([negative, int, frac]) => `${negative ? "-" : ""}${int}${frac === undefined ? "" : "." + frac}`)
    fc.assert(fc.property(fc.array(decimal, { minLength: 200, maxLength: 200 }), (texts) => {
      db.exec("DELETE FROM t")
      for (const text of [...texts, "427.02", "0.1", "-0.05", "9007199254740993", "1234567890123.45"]) insert.run(text, sqlite.decimalParam(text))
      expect(db.prepare("SELECT count(*) AS n FROM t WHERE a IS NOT b OR typeof(a) <> 'real' OR typeof(b) <> 'real'").get()).toEqual({ n: 0 })
    }), { numRuns: 50 })
    db.close()
  })

  it("binds an amount left in cents as the double SQLite makes of its text, and a text dialect as that text", () => {
    // Money.Amount: the rules' fast path leaves whole cents, and a first load into SQLite makes no text for them.
    const db = new Database(":memory:")
    db.exec("CREATE TABLE t (a REAL, b REAL)")
    const insert = db.prepare("INSERT INTO t VALUES (?, ?)")
    const edges = [0, -0, 1, -1, 5, 99, 100, 101, 42702, -1536, 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]
    fc.assert(fc.property(fc.array(fc.maxSafeInteger(), { minLength: 200, maxLength: 200 }), (cents) => {
      db.exec("DELETE FROM t")
      for (const c of [...cents, ...edges]) {
        const bound = sqlite.centsParam(c, Money.centsText)
        expect(Object.is(bound, sqlite.decimalParam(Money.centsText(c)))).toBe(true)
        if (c >= 0) expect(Object.is(bound, sqlite.decimalParam(Money.shortCentsText(c)))).toBe(true)
        insert.run(Money.centsText(c), bound)
      }
      expect(db.prepare("SELECT count(*) AS n FROM t WHERE a IS NOT b OR typeof(a) <> 'real' OR typeof(b) <> 'real'").get()).toEqual({ n: 0 })
    }), { numRuns: 50 })
    db.close()
    const params = new Array<unknown>(SALE_COLUMNS.length)
    const sale = {
      transaction_id: "T1", customer_id: "C1", product_id: "P1", quantity: 3, unit_price: 1990, discount_amount: 500, total_amount: 5470,
      cost_amount: 3750, profit_margin: -5, commission: "1.64", value_tier: "Low Value", transaction_date: "2024-03-01", sales_rep_id: null
    } as const
    writeSaleValues(params, 0, sale, postgres)
    expect(params.slice(4, 10)).toEqual(["19.9", "5", "54.70", "37.50", "-0.05", "1.64"])
    writeSaleValues(params, 0, sale, sqlite)
    expect(params.slice(4, 10)).toEqual([19.9, 5, 54.7, 37.5, -0.05, 1.64])
  })

  it("binds a fact in cents as its cents and its tier's code, which SQLite makes into the values bound otherwise", () => {
    // Schema.SALE_CENTS_SELECT: SQLite divides the cents; the doubles must be those centsParam makes.
    const db = new Database(":memory:")
    const columns = SALE_COLUMNS.join(", ")
    db.exec(`CREATE TABLE cents (${columns}); CREATE TABLE bound (${columns})`)
    const intoCents = db.prepare(`INSERT INTO cents SELECT ${SALE_CENTS_SELECT} FROM (VALUES (${SALE_COLUMNS.map(() => "?").join(", ")}))`)
    const intoBound = db.prepare(`INSERT INTO bound VALUES (${SALE_COLUMNS.map(() => "?").join(", ")})`)
    const params = new Array<unknown>(SALE_COLUMNS.length)
    const amount = fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -0, 1, -1, 99, 100, 42702, -1536, 2 ** 31, 2 ** 53 - 1))
    const tier = fc.constantFrom("Low Value" as const, "Medium Value" as const, "High Value" as const)
    fc.assert(fc.property(fc.array(fc.tuple(amount, amount, fc.option(amount, { nil: null }), tier), { minLength: 100, maxLength: 100 }), (facts) => {
      db.exec("DELETE FROM cents; DELETE FROM bound")
      facts.forEach(([total, price, cost, value_tier], i) => {
        const sale = {
          transaction_id: `T${i}`, customer_id: "C1", product_id: "P1", quantity: 2, unit_price: price, discount_amount: 0, total_amount: total,
          cost_amount: cost, profit_margin: cost, commission: total, value_tier, transaction_date: "2024-03-01", sales_rep_id: null
        }
        expect(inCents(sale)).toBe(true)
        expect(writeSaleCents(params, 0, sale)).toBe(SALE_COLUMNS.length)
        intoCents.run(...params)
        writeSaleValues(params, 0, sale, sqlite)
        intoBound.run(...params)
      })
      const differing = `SELECT count(*) AS n FROM (SELECT * FROM cents EXCEPT SELECT * FROM bound)`
      expect(db.prepare(differing).get()).toEqual({ n: 0 })
      expect(db.prepare(`SELECT count(*) AS n FROM cents`).get()).toEqual({ n: 100 })
    }), { numRuns: 30 })
    db.close()
    // A fact with an amount the exact path left as text is bound as writeSaleValues binds it.
    expect(inCents({ unit_price: 1999, discount_amount: 0, total_amount: "19.999", cost_amount: null, profit_margin: null, commission: 60 } as never)).toBe(false)
    expect(inCents({ unit_price: 1999, discount_amount: 0, total_amount: 1999, cost_amount: "7.125", profit_margin: null, commission: 60 } as never)).toBe(false)
  })

  it("writes any number of rows, in order, in statements of ten sizes at most", () => {
    const sizes = new Set<number>()
    for (const n of [0, 1, 7, 255, 256, 499, 500, 501, 1234, 4999, 5000]) {
      const rows = Array.from({ length: n }, (_, i) => i)
      const slices = statementSlices(rows)
      expect(slices.flat()).toEqual(rows)
      for (const slice of slices) sizes.add(slice.length)
    }
    expect([...sizes].sort((a, b) => a - b)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 500])
  })

  const fixture = inputs({})
  const input = fixture.settings.INPUT_DIR!
  const sales = join(input, "sales_transactions.csv")

  it.live("leaves the warehouse as the staged merge does", () =>
    Effect.gen(function* () {
      // The generator's dirty mix (duplicates, bad values, unknown customers and products), and
      // copies of one key whose last copy is refused, of another whose last copy loads, across batches.
      yield* generate({ transactions: 3000, outDir: input, seed: 11 }).pipe(Effect.provide(NodeContext.layer))
      const first = readFileSync(sales, "utf8").split("\n")[1]!.split(",")
      const [, customer, product] = first
      const filler = Array.from({ length: 150 }, (_, i) => `T95${String(i).padStart(4, "0")},${customer},${product},1,3.00,0,2024-06-0${1 + (i % 9)},R1,completed`)
      appendFileSync(sales, [
        `T940001,${customer},${product},2,10.00,0,2024-05-01,R1,completed`,
        `T940002,C9999999,${product},2,10.00,0,2024-05-01,R1,completed`,
        ...filler,
        `T940001,C9999999,${product},3,10.00,0,2024-05-02,R1,completed`,
        `T940002,${customer},${product},4,10.00,0,2024-05-02,R1,completed`,
        // Amounts the rules leave as exact decimal text (three places), beside facts in cents.
        `T940003,${customer},${product},3,19.999,0.005,2024-05-03,R1,completed`
      ].join("\n") + "\n")
      // A customer's later copy, in a later batch, wins over the first (the merge's superseded pass).
      const customers = join(input, "customers.csv")
      const firstCustomer = readFileSync(customers, "utf8").split("\n")[1]!.split(",")
      appendFileSync(customers, [firstCustomer[0], "Zed", "Later", ...firstCustomer.slice(3)].join(",") + "\n")
      const settings = { ...fixture.settings, BATCH_SIZE: "97" }
      const staged = yield* runWith(settings, true)
      const direct = yield* runWith(settings, false)

      expect(staged.stagedBatches).toBeGreaterThan(30)
      expect(direct.stagedBatches).toBe(0)
      expect(direct.summary.status).toBe(staged.summary.status)
      expect(direct.contents.facts.length).toBeGreaterThan(2500)
      expect(direct.contents.facts).toEqual(staged.contents.facts)
      // Customers too: written once into customer_dim, as the staged merge leaves it.
      expect(staged.stagedCustomerBatches).toBeGreaterThan(1)
      expect(direct.stagedCustomerBatches).toBe(0)
      const undated = (rows: ReadonlyArray<Record<string, unknown>>) => rows.map(({ created_date: _, ...r }) => r)
      expect(direct.contents.customers.length).toBeGreaterThan(100)
      expect(undated(direct.contents.customers)).toEqual(undated(staged.contents.customers))
      expect(direct.contents.customers).toContainEqual(expect.objectContaining({ customer_id: firstCustomer[0], first_name: "Zed", last_name: "Later", updated_date: null }))
      for (const { summary, contents } of [direct, staged]) {
        expect(new Set(contents.customers.map((c) => c.created_date))).toEqual(new Set([summary.started_at]))
      }
      expect(direct.summary.sources.customers).toEqual({ ...staged.summary.sources.customers, seconds: direct.summary.sources.customers!.seconds,
        rows_per_second: direct.summary.sources.customers!.rows_per_second })
      expect(direct.contents.openRejects).toEqual(staged.contents.openRejects)
      expect(direct.contents.openRejects.map((r) => r.category)).toEqual(expect.arrayContaining(["validation", "referential"]))
      expect(direct.contents.openRejects).toContainEqual(expect.objectContaining({ record_key: "T940001", category: "referential" }))
      expect(direct.contents.facts).toContainEqual(expect.objectContaining({ transaction_id: "T940002", quantity: 4 }))
      expect(direct.contents.facts).toContainEqual(expect.objectContaining({ transaction_id: "T940003", unit_price: 19.999, total_amount: 59.99 }))
      expect(direct.contents.indexes).toEqual(staged.contents.indexes)
      for (const { contents } of [direct, staged]) expect(contents.mark).toEqual(contents.newest)
      expect(direct.contents.mark).toEqual([{ value: expect.stringMatching(/^2024-\d\d-\d\d$/) }])
      expect([direct.contents.integrity, staged.contents.integrity]).toEqual([["ok"], ["ok"]])
      expect([direct.contents.cacheSize, staged.contents.cacheSize]).toEqual([-8192, -8192])
      // Every fact carries the run that loaded it and when (the direct load writes both into its statement's text).
      for (const { summary, contents } of [direct, staged]) {
        expect(contents.stamps).toEqual([{ run_id: summary.run_id, created_date: summary.started_at, n: contents.facts.length }])
      }
      expect(direct.summary.changes).toEqual(staged.summary.changes)
      expect(direct.summary.quality).toEqual(staged.summary.quality)
      expect(direct.summary.records).toEqual(staged.summary.records)
      const timing = { seconds: 0, rows_per_second: 0 }
      expect({ ...direct.summary.sources.sales, ...timing }).toEqual({ ...staged.summary.sources.sales, ...timing })
    }))

  it.live("loads while another connection holds the warehouse open (in WAL, which it then cannot leave)", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 500, outDir: input, seed: 3 }).pipe(Effect.provide(NodeContext.layer))
      const file = join(fixture.dir, "shared.db")
      const settings = { ...fixture.settings, BATCH_SIZE: "100" }
      yield* Effect.flatMap(Warehouse, (w) => w.migrate).pipe(Effect.provide(TestLayer.layer(settings, file)))
      const reader = new Database(file, { readonly: true })
      try {
        reader.prepare("SELECT count(*) FROM sales_fact").get()
        const summary = yield* runPipeline(options).pipe(Effect.provide(TestLayer.layer(settings, file)))
        expect(summary.status).toBe("success")
        expect(summary.changes.sales_fact?.inserted).toBeGreaterThan(400)
        expect(reader.prepare("SELECT count(*) AS n FROM sales_fact").get()).toEqual({ n: summary.changes.sales_fact?.inserted })
      } finally {
        reader.close()
      }
    }))

  it.live("leaves no facts, and the fact table's indexes, when the run is interrupted mid-load", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 2000, outDir: input, seed: 5 }).pipe(Effect.provide(NodeContext.layer))
      const settings = { ...fixture.settings, BATCH_SIZE: "100" }
      const file = join(fixture.dir, "interrupted.db")
      const writing = yield* Deferred.make<void>()
      let writes = 0
      // The third batch never finishes writing: the run is stopped there, its indexes dropped.
      const stalling = Layer.effect(
        Warehouse,
        Effect.map(Warehouse, (w) => ({
          ...w,
          loadFactsDirectly: ((runId, now, moveMark, load, after) =>
            w.loadFactsDirectly(runId, now, moveMark, (write, side) =>
              load((id, rows) =>
                ++writes < 3 ? write(id, rows) : Effect.zipRight(Deferred.succeed(writing, undefined), Effect.never)
              , side), after)) as typeof w.loadFactsDirectly
        }))
      )
      const fiber = yield* runPipeline(options).pipe(
        Effect.provide(Layer.provideMerge(stalling, TestLayer.layer(settings, file))),
        Effect.fork
      )
      yield* Deferred.await(writing)
      yield* Fiber.interrupt(fiber)

      const after = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        return {
          ...(yield* contents),
          status: (yield* sql<{ status: string }>`SELECT status FROM etl_run_history`).map((r) => r.status),
          summary: (yield* sql<{ summary: string }>`SELECT summary FROM etl_run_history`).map((r) => JSON.parse(r.summary))
        }
      }).pipe(Effect.provide(TestLayer.layer(settings, file)))
      expect(after.facts).toEqual([])
      expect(after.status).toEqual(["interrupted"])
      // The dimensions merged before the interruption stay, and the run's record says so.
      const [summary] = after.summary
      expect(Object.keys(summary.changes).sort()).toEqual(["customer_dim", "product_dim"])
      expect(summary.changes.customer_dim.inserted).toBeGreaterThan(0)
      expect(after.indexes).toEqual(expect.arrayContaining(["sales_fact_customer_order", "sales_fact_date", "sales_fact_first_time", "sales_fact_product"]))

      // The next run starts over and loads everything, under a rollback journal and without foreign
      // keys (Dialect.bulkLoad), and leaves its connection in WAL with foreign keys on again.
      const again = yield* Effect.gen(function* () {
        const summary = yield* runPipeline(options)
        const sql = yield* SqlClient.SqlClient
        return {
          summary,
          journal: yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`,
          foreignKeys: yield* sql<{ foreign_keys: number }>`PRAGMA foreign_keys`
        }
      }).pipe(Effect.provide(TestLayer.layer(settings, file)))
      expect(again.summary.status).toBe("success")
      expect(again.summary.changes.sales_fact?.inserted).toBeGreaterThan(1500)
      expect(again.journal).toEqual([{ journal_mode: "wal" }])
      expect(again.foreignKeys).toEqual([{ foreign_keys: 1 }])
    }))

  it.live("merges through staging into an empty fact table in the same settings, and restores them", () =>
    Effect.gen(function* () {
      // Dimensions too large to hold in memory send a first load through staging; its merge runs
      // without SQLite's foreign keys too, so its quarantine alone must keep out the unknown customer.
      yield* generate({ transactions: 800, outDir: input, seed: 7 }).pipe(Effect.provide(NodeContext.layer))
      const [, customer, product] = readFileSync(sales, "utf8").split("\n")[1]!.split(",")
      appendFileSync(sales, [
        `T960001,C9999999,${product},2,10.00,0,2024-05-01,R1,completed`,
        `T960002,${customer},P9999999,2,10.00,0,2024-05-01,R1,completed`
      ].join("\n") + "\n")
      const settings = { ...fixture.settings, BATCH_SIZE: "100" }
      const file = join(fixture.dir, "merged.db")
      const stagedBatches = { count: 0, customers: 0 }
      const result = yield* Effect.gen(function* () {
        const summary = yield* runPipeline(options)
        const sql = yield* SqlClient.SqlClient
        return {
          summary,
          ...(yield* contents),
          orphans: yield* sql<{ n: number }>`SELECT count(*) AS n FROM sales_fact f
            WHERE NOT EXISTS (SELECT 1 FROM customer_dim c WHERE c.customer_id = f.customer_id)
               OR NOT EXISTS (SELECT 1 FROM product_dim p WHERE p.product_id = f.product_id)`,
          journal: yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`,
          foreignKeys: yield* sql<{ foreign_keys: number }>`PRAGMA foreign_keys`,
          wal: existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0,
          size: statSync(file).size
        }
      }).pipe(Effect.provide(Layer.provideMerge(watched(true, stagedBatches), TestLayer.layer(settings, file))))
      expect(stagedBatches.count).toBeGreaterThan(5)
      expect(result.summary.status).toBe("success")
      expect(result.facts.length).toBeGreaterThan(600)
      expect(result.orphans).toEqual([{ n: 0 }])
      expect(result.openRejects).toEqual(expect.arrayContaining([
        expect.objectContaining({ record_key: "T960001", category: "referential" }),
        expect.objectContaining({ record_key: "T960002", category: "referential" })
      ]))
      expect(result.indexes).toEqual(["sales_fact_customer_order", "sales_fact_date", "sales_fact_first_time", "sales_fact_product", "sqlite_autoindex_sales_fact_1"])
      expect(result.journal).toEqual([{ journal_mode: "wal" }])
      expect(result.foreignKeys).toEqual([{ foreign_keys: 1 }])
      // Written once, into the file, not through a WAL the size of the load (left behind until the
      // last connection closes).
      expect(result.wal).toBeLessThan(result.size / 4)
    }))
})
