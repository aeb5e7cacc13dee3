/** The sample and small hand-made inputs, end to end on an in-memory SQLite warehouse. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { runPipeline, type RunOptions } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { backends, rows } from "../support/Backends.js"
import { CUSTOMER_HEADER, inputs, product, products, rewrite, SALES_HEADER } from "../support/Fixtures.js"

const root = join(import.meta.dirname, "../..")
const options = (over: Partial<RunOptions> = {}): RunOptions => ({
  date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: false, dryRun: false, ...over
})

for (const backend of backends) describe.skipIf(backend.skip !== undefined)(backend.name, () => {
describe("the bundled sample", () => {
  const { settings } = inputs({})
  it.layer(backend.layer({ ...settings, INPUT_DIR: join(root, "data/input") }))((it) => {
    it.effect("loads every table and follows the rules", () =>
      Effect.gen(function* () {
        const summary = yield* runPipeline(options())
        expect(summary.status).toBe("success")
        // Each file holds a key twice: the earlier copy is filtered as a duplicate, not loaded.
        expect(summary.sources.customers).toMatchObject({ read: 22, loaded: 19, rejected: 2, filtered: 1, filteredBy: { duplicate: 1 } })
        expect(summary.sources.products).toMatchObject({ read: 14, loaded: 10, rejected: 3, filtered: 1, filteredBy: { duplicate: 1 } })
        expect(summary.sources.sales).toMatchObject({ read: 29, loaded: 16, rejected: 10, filtered: 3, filteredBy: { status: 2, duplicate: 1 } })
        for (const c of Object.values(summary.sources)) expect(c.read).toBe(c.loaded + c.rejected + c.filtered)
        expect(summary.changes).toMatchObject({
          customer_dim: { inserted: 19, updated: 0 }, product_dim: { inserted: 10 }, sales_fact: { inserted: 16, referential: 3 }
        })
        // What a source loaded is what its table holds of it.
        for (const [source, table] of [["customers", "customer_dim"], ["products", "product_dim"], ["sales", "sales_fact"]] as const) {
          const c = summary.changes[table]!
          expect(summary.sources[source]!.loaded).toBe(c.inserted + c.updated + c.unchanged)
        }
        expect(summary.validation.every((v) => v.passed)).toBe(true)

        const [t001] = yield* rows(`SELECT * FROM sales_fact WHERE transaction_id = 'T001'`)
        expect(t001).toMatchObject({ total_amount: 54.97, commission: 1.65, cost_amount: 37.5, profit_margin: 31.78, value_tier: "Low Value", customer_status: "Repeat" })
        const [t018] = yield* rows(`SELECT customer_status FROM sales_fact WHERE transaction_id = 'T018'`)
        expect(t018).toEqual({ customer_status: "First-time" })
        const [c003] = yield* rows(`SELECT name, phone, segment FROM customer_dim WHERE customer_id = 'C003'`)
        expect(c003).toEqual({ name: "O'Brien Mary-Jane", phone: "(555) 345-6789", segment: "Standard Plus" })
        const [p006] = yield* rows(`SELECT category, cost, quality_flags FROM product_dim WHERE product_id = 'P006'`)
        expect(p006).toEqual({ category: "Other", cost: null, quality_flags: "invalid_cost,unmapped_category" })
        const segments = yield* rows(`SELECT DISTINCT base_segment AS s FROM customer_dim WHERE base_segment IS NOT NULL ORDER BY 1`)
        expect(segments.map((r) => r.s)).toEqual(["Basic", "Gold", "Premium", "Standard", "VIP"])
        const rejects = yield* rows(`SELECT source, category, count(*) AS n FROM etl_rejects GROUP BY 1, 2 ORDER BY 1, 2`)
        expect(rejects).toEqual([
          { source: "customers", category: "malformed", n: 1 }, { source: "customers", category: "missing_key", n: 1 },
          { source: "products", category: "missing_key", n: 1 }, { source: "products", category: "validation", n: 2 },
          { source: "sales", category: "malformed", n: 1 }, { source: "sales", category: "missing_key", n: 1 },
          { source: "sales", category: "referential", n: 3 }, { source: "sales", category: "validation", n: 5 }
        ])
        expect(existsSync(summary.files.summary!)).toBe(true)
        const csv = readFileSync(summary.files.failed_records!, "utf8")
        expect(csv.split("\n")[0]).toMatch(/^source,record_key,category,reason,location,attempts,/)
        expect(csv).toContain("referential")
      }))

    it.effect("changes nothing when the same input runs again", () =>
      Effect.gen(function* () {
        const summary = yield* runPipeline(options({ fullRefresh: true }))
        for (const table of ["customer_dim", "product_dim", "sales_fact"]) {
          expect(summary.changes[table]).toMatchObject({ inserted: 0, updated: 0 })
        }
        const [touched] = yield* rows(`SELECT count(*) AS n FROM sales_fact WHERE updated_date IS NOT NULL`)
        expect(touched).toEqual({ n: 0 })
        const [attempts] = yield* rows(`SELECT max(attempts) AS n FROM etl_rejects WHERE category = 'referential'`)
        expect(attempts).toEqual({ n: 2 })
      }))

    it.effect("still refuses a fact whose customer is missing after the bulk load", () =>
      Effect.gen(function* () {
        // The first load built the fact table in bulk (PostgreSQL drops its foreign keys for the insert).
        const orphan = yield* rows(
          `INSERT INTO sales_fact (transaction_id, customer_id, product_id, quantity, unit_price, discount_amount, total_amount,
             commission, value_tier, transaction_date, customer_status, run_id, created_date)
           VALUES ('T-ORPHAN', 'NO-SUCH-CUSTOMER', 'P001', 1, 1, 0, 1, 0.03, 'Low Value', '2024-03-01', 'Repeat', 'test', '2024-03-01T00:00:00Z')`
        ).pipe(Effect.either)
        expect(orphan._tag).toBe("Left")
        expect(yield* rows(`SELECT count(*) AS n FROM sales_fact WHERE transaction_id = 'T-ORPHAN'`)).toEqual([{ n: 0 }])
      }))

    it.effect("writes nothing on a dry run", () =>
      Effect.gen(function* () {
        const before = yield* rows(`SELECT (SELECT count(*) FROM etl_run_history) AS runs, (SELECT count(*) FROM sales_fact) AS facts`)
        const summary = yield* runPipeline(options({ fullRefresh: true, dryRun: true }))
        expect(summary.dry_run).toBe(true)
        expect(summary.sources.sales!.read).toBeGreaterThan(0)
        expect(yield* rows(`SELECT (SELECT count(*) FROM etl_run_history) AS runs, (SELECT count(*) FROM sales_fact) AS facts`)).toEqual(before)
      }))
  })
})

describe("copies of a key", () => {
  // Batches of two: T1's copies are in different batches, T3's in the same one.
  const fixture = inputs({
    customers: `${CUSTOMER_HEADER}\nC1,Ann,Lee,ann@example.com,5551234567,1 Main,Premium,2024-01-01\n`,
    products: products([product("P1", 10, 4)]),
    sales: `${SALES_HEADER}\nT1,C1,P1,1,10,0,2024-03-05,R1,completed\nT2,C1,P1,1,10,0,2024-03-06,R1,completed\n` +
      `T1,C1,P1,2,10,0,2024-03-05,R1,completed\nT9,C2,P1,2,10,0,2024-03-06,R1,completed\n` +
      `T3,C1,P1,1,10,0,2024-03-07,R1,completed\nT3,C1,P1,4,10,0,2024-03-07,R1,completed\n`
  })
  it.layer(backend.layer({ ...fixture.settings, BATCH_SIZE: "2" }))((it) => {
    it.effect("count the copies a later one replaced as filtered duplicates, not as loaded", () =>
      Effect.gen(function* () {
        const first = yield* runPipeline(options())
        expect(first.sources.sales).toMatchObject({ read: 6, loaded: 3, rejected: 1, filtered: 2, filteredBy: { duplicate: 2 } })
        expect(first.changes.sales_fact).toMatchObject({ inserted: 3, updated: 0, unchanged: 0, referential: 1 })
        expect(yield* rows(`SELECT transaction_id, quantity FROM sales_fact ORDER BY 1`)).toEqual([
          { transaction_id: "T1", quantity: 2 }, { transaction_id: "T2", quantity: 1 }, { transaction_id: "T3", quantity: 4 }
        ])
        // A full refresh reads the file again after the dead-letter store's T9: the retried copy is replaced too.
        const again = yield* runPipeline(options({ fullRefresh: true }))
        expect(again.sources.sales).toMatchObject({ read: 7, loaded: 3, rejected: 1, filtered: 3, filteredBy: { duplicate: 3 } })
        expect(again.changes.sales_fact).toMatchObject({ inserted: 0, updated: 0, unchanged: 3, referential: 1 })
      }))
  })
})

describe("across runs", () => {
  const fixture = inputs({
    customers: `${CUSTOMER_HEADER}\nC1,Ann,Lee,ann@example.com,5551234567,1 Main,Premium,2024-01-01\n`,
    products: products([product("P1", 10, 4)]),
    sales: `${SALES_HEADER}\nT2,C1,P1,1,10,0,2024-03-05,R1,completed\nT9,C2,P1,2,10,0,2024-03-06,R1,completed\n`
  })
  it.layer(backend.layer(fixture.settings))((it) => {
    it.effect("quarantines a sale whose customer has not arrived", () =>
      Effect.gen(function* () {
        const summary = yield* runPipeline(options())
        expect(summary.changes.sales_fact).toMatchObject({ inserted: 1, referential: 1 })
        expect(yield* rows(`SELECT record_key, category, reason, resolved_run FROM etl_rejects`)).toEqual([
          { record_key: "T9", category: "referential", reason: "customer_id 'C2' is not in customer_dim", resolved_run: null }
        ])
      }))

    it.effect("loads it when the customer arrives, and resolves the reject", () =>
      Effect.gen(function* () {
        rewrite(fixture.dir, "customers.csv", `${CUSTOMER_HEADER}\nC1,Ann,Lee,ann@example.com,5551234567,1 Main,Premium,2024-01-01\nC2,Bo,Ng,bo@example.com,,2 Main,Standard,\n`)
        rewrite(fixture.dir, "sales_transactions.csv", `${SALES_HEADER}\n`)
        const summary = yield* runPipeline(options())
        expect(summary.changes.sales_fact).toMatchObject({ inserted: 1, referential: 0, resolved: 1 })
        const [reject] = yield* rows(`SELECT resolved_run FROM etl_rejects WHERE record_key = 'T9'`)
        expect(reject!.resolved_run).toBe(summary.run_id)
        expect(yield* rows(`SELECT transaction_id, total_amount, customer_status FROM sales_fact ORDER BY 1`)).toEqual([
          { transaction_id: "T2", total_amount: 10, customer_status: "First-time" },
          { transaction_id: "T9", total_amount: 20, customer_status: "First-time" }
        ])
      }))

    it.effect("moves First-time to an older transaction loaded later", () =>
      Effect.gen(function* () {
        rewrite(fixture.dir, "sales_transactions.csv", `${SALES_HEADER}\nT1,C1,P1,3,10,0,2024-03-01,R1,completed\n`)
        const summary = yield* runPipeline(options({ date: Option.some("2024-03-01") }))
        expect(summary.mode).toBe("backfill")
        expect(summary.changes.sales_fact).toMatchObject({ inserted: 1, statusChanges: 1 })
        expect(yield* rows(`SELECT transaction_id, customer_status, updated_date IS NOT NULL AS touched FROM sales_fact WHERE customer_id = 'C1' ORDER BY 1`)).toEqual([
          { transaction_id: "T1", customer_status: "First-time", touched: 0 },
          { transaction_id: "T2", customer_status: "Repeat", touched: 1 }
        ])
      }))

    it.effect("updates only the rows that really changed", () =>
      Effect.gen(function* () {
        rewrite(fixture.dir, "customers.csv", `${CUSTOMER_HEADER}\nC1,Ann,Lee,ANN.LEE@example.com,5551234567,1 Main,Premium,2024-01-01\nC2,Bo,Ng,bo@example.com,,2 Main,Standard,\n`)
        const summary = yield* runPipeline(options())
        expect(summary.changes.customer_dim).toEqual({ inserted: 0, updated: 1, unchanged: 1 })
        expect(yield* rows(`SELECT customer_id, email FROM customer_dim WHERE updated_date IS NOT NULL`)).toEqual([
          { customer_id: "C1", email: "ann.lee@example.com" }
        ])
      }))

    it.effect("retries a re-queued category on the next run", () =>
      Effect.gen(function* () {
        rewrite(fixture.dir, "sales_transactions.csv", `${SALES_HEADER}\nT50,C1,P1,0,10,0,2024-03-20,R1,completed\n`)
        yield* runPipeline(options({ date: Option.some("2024-03-20") }))
        const warehouse = yield* Warehouse
        expect(yield* warehouse.requeue("validation", "sales")).toBe(1)
        rewrite(fixture.dir, "sales_transactions.csv", `${SALES_HEADER}\n`)
        const summary = yield* runPipeline(options())
        expect(summary.sources.sales).toMatchObject({ read: 1, rejected: 1 })
        expect(yield* rows(`SELECT attempts, retry_requested FROM etl_rejects WHERE record_key = 'T50'`)).toEqual([{ attempts: 2, retry_requested: 0 }])
      }))

    it.effect("keeps loading the others when one source is broken, and ends partial", () =>
      Effect.gen(function* () {
        rewrite(fixture.dir, "products.json", `{"products": [{"product_id": "P1", "specifications": {"price": 10}`)
        rewrite(fixture.dir, "customers.csv", `${CUSTOMER_HEADER}\nC3,Cy,Oh,cy@example.com,,3 Main,Basic,\n`)
        const summary = yield* runPipeline(options())
        expect(summary.status).toBe("partial")
        expect(summary.sources.products).toMatchObject({ status: "failed" })
        expect(summary.failures.join("\n")).toMatch(/products \(.*products\.json\): malformed JSON/)
        expect(summary.changes.customer_dim).toMatchObject({ inserted: 1 })
        const [history] = yield* rows(`SELECT status FROM etl_run_history WHERE run_id = '${summary.run_id}'`)
        expect(history).toEqual({ status: "partial" })
      }))
  })
})
})
