/** Loading under failure: a refused row is isolated, a failed batch rolls back whole, transient errors are retried. */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream } from "effect"
import { join } from "node:path"
import { loadBatches } from "../../src/programs/Load.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import type { Batch } from "../../src/programs/Transform.js"
import { Reject } from "../../src/schema/Reject.js"
import { WarehouseError } from "../../src/schema/Errors.js"
import type { CustomerRow } from "../../src/schema/Records.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import * as TestLayer from "../../src/layers/Test.js"
import { CUSTOMER_HEADER, inputs, product, products, SALES_HEADER } from "../support/Fixtures.js"

const fixture = inputs({
  customers: `${CUSTOMER_HEADER}\n` + Array.from({ length: 9 }, (_, i) => `C${i},Ann,Lee,a${i}@example.com,5551234567,1 Main,Premium,2024-01-01`).join("\n") + "\n",
  products: products([product("P1", 10, 4)]),
  sales: `${SALES_HEADER}\n` + Array.from({ length: 9 }, (_, i) => `T${i},C${i},P1,1,10,0,2024-03-0${1 + i},R1,completed`).join("\n") + "\n"
})
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

let faults = 0

type CustomerWrite = (runId: string, rows: ReadonlyArray<CustomerRow>) => Effect.Effect<void, WarehouseError>

/**
 * The real warehouse, except that writing customers (staged, or straight into customer_dim by a
 * first load) refuses C4 as a constraint would, and fails `transientFailures` times first.
 */
const faulty = (transientFailures: number, staged = false) =>
  Layer.effect(
    Warehouse,
    Effect.gen(function* () {
      const real = yield* Warehouse
      let failures = 0
      const refusing = (write: CustomerWrite): CustomerWrite => (runId, rows) =>
        Effect.suspend(() =>
          failures++ < transientFailures
            ? Effect.fail(new WarehouseError({ operation: "stage customers", reason: "database is locked", transient: true }))
            : rows.some((r) => r.customer_id === "C4")
            ? Effect.fail(new WarehouseError({ operation: "stage customers", reason: "CHECK constraint failed: C4", transient: false }))
            : write(runId, rows))
      return {
        ...real,
        stageCustomers: refusing(real.stageCustomers),
        loadCustomersDirectly: staged
          ? () => Effect.succeedNone
          : (runId, now, load) => real.loadCustomersDirectly(runId, now, (write) => load(refusing(write)))
      }
    })
  ).pipe(Layer.provideMerge(TestLayer.layer({
    ...fixture.settings, BATCH_SIZE: "4", MAX_RETRIES: "2",
    // An output folder each: a breaker opened by one case (circuit_state.json there) would stop the next.
    OUTPUT_DIR: join(fixture.dir, `output-${++faults}`)
  })))

describe("loading", () => {
  it.effect.each([["straight into customer_dim", false], ["through staging", true]] as const)("isolates the row the warehouse refuses and loads the rest of its batch, %s", ([, staged]) =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(full)
      expect(summary.sources.customers).toMatchObject({ read: 9, loaded: 8, rejected: 1, rejectedBy: { constraint: 1 } })
      expect(summary.changes.customer_dim).toMatchObject({ inserted: 8 })
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT record_key, category, reason FROM etl_rejects WHERE source = 'customers'`).toEqual([
        { record_key: "C4", category: "constraint", reason: "the warehouse refused the record: CHECK constraint failed: C4" }
      ])
      // T4's customer never arrived: quarantined, not lost.
      expect(summary.changes.sales_fact).toMatchObject({ inserted: 8, referential: 1 })
    }).pipe(Effect.provide(faulty(0, staged))))

  it.effect("gives a refused sale its location and its fields as the payload", () =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(full)
      expect(summary.sources.sales).toMatchObject({ read: 9, rejected: 1, rejectedBy: { constraint: 1 } })
      const sql = yield* SqlClient.SqlClient
      const [reject] = yield* sql<{ location: string; payload: string }>`SELECT location, payload FROM etl_rejects WHERE record_key = 'T6'`
      expect(reject!.location).toMatch(/\/sales_transactions\.csv line 8$/)
      expect(JSON.parse(reject!.payload)).toMatchObject({ transaction_id: "T6", customer_id: "C6", total_amount: "10.00", location: reject!.location })
      expect(Object.keys(JSON.parse(reject!.payload))).not.toContain("line")
    }).pipe(Effect.provide(Layer.effect(
      Warehouse,
      Effect.map(Warehouse, (real) => ({
        ...real,
        // Staged, not written directly, so that staging can refuse T6 as a constraint would.
        loadFactsDirectly: () => Effect.succeedNone,
        stageSales: (runId, rows) => rows.some((r) => r.transaction_id === "T6")
          ? Effect.fail(new WarehouseError({ operation: "stage sales", reason: "CHECK constraint failed: T6", transient: false }))
          : real.stageSales(runId, rows)
      }))
    ).pipe(Layer.provideMerge(TestLayer.layer({ ...fixture.settings, BATCH_SIZE: "4" }))))))

  // Live clock: these are about outcomes; the retry timings are tested with TestClock in Resilience.test.ts.
  it.live.each([["straight into customer_dim", false], ["through staging", true]] as const)("retries transient failures and then succeeds, %s", ([, staged]) =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(full)
      expect(summary.sources.customers!.loaded).toBe(8)
    }).pipe(Effect.provide(faulty(2, staged))))

  it.live.each([["straight into customer_dim", false], ["through staging", true]] as const)("fails the run when transient failures outlast the retries, leaving the warehouse as before, %s", ([, staged]) =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(full)
      expect(summary.status).toBe("failed")
      expect(summary.failures.join()).toContain("database is locked")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT count(*) AS n FROM customer_dim`).toEqual([{ n: 0 }])
      expect(yield* sql`SELECT count(*) AS n FROM etl_stage_customers`).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(faulty(10, staged))))

  it.effect("resolves, in a first load of customers, the open rejects of the keys it loads", () =>
    Effect.gen(function* () {
      const file = join(fixture.dir, "resolve.db")
      const settings = { ...fixture.settings, BATCH_SIZE: "4", OUTPUT_DIR: join(fixture.dir, "output-resolve") }
      // The first run's warehouse refuses every customer: customer_dim stays empty, nine rejects wait.
      const refusingAll = Layer.effect(
        Warehouse,
        Effect.map(Warehouse, (real) => ({
          ...real,
          loadCustomersDirectly: (runId, now, load) =>
            real.loadCustomersDirectly(runId, now, () =>
              load(() => Effect.fail(new WarehouseError({ operation: "stage customers", reason: "CHECK constraint failed", transient: false }))))
        }) satisfies typeof real)
      ).pipe(Layer.provideMerge(TestLayer.layer(settings, file)))
      const first = yield* runPipeline(full).pipe(Effect.provide(refusingAll))
      expect(first.sources.customers).toMatchObject({ read: 9, loaded: 0, rejected: 9 })
      const second = yield* runPipeline(full).pipe(Effect.provide(TestLayer.layer(settings, file)))
      expect(second.changes.customer_dim).toMatchObject({ inserted: 9, updated: 0, unchanged: 0 })
      const open = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`SELECT count(*) AS n FROM etl_rejects WHERE source = 'customers' AND resolved_run IS NULL`).pipe(Effect.provide(TestLayer.layer(settings, file)))
      expect(open).toEqual([{ n: 0 }])
    }))

  it.effect("rolls a failed batch back whole", () =>
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      const sql = yield* SqlClient.SqlClient
      yield* warehouse.migrate
      const row = { customer_id: "X1", first_name: null, last_name: null, name: null, email: null, email_valid: 0 as const, phone: null, address: null, base_segment: null, segment: "Basic", registration_date: null, quality_flags: null }
      // The second row breaks NOT NULL on segment: the statement, and so the batch, fails.
      const result = yield* Effect.either(warehouse.stageCustomers("r1", [row, { ...row, customer_id: "X2", segment: null as unknown as string }]))
      expect(result._tag).toBe("Left")
      expect(yield* sql`SELECT count(*) AS n FROM etl_stage_customers`).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(TestLayer.layer(fixture.settings))))

  // A stream keeps the batch it emitted last until it emits the next: emptied, its rows are garbage
  // as soon as they are written instead of a batch later (Transform.releaseBatch).
  it.effect("writes every row of a batch before it empties the batch", () =>
    Effect.gen(function* () {
      yield* (yield* Warehouse).migrate
      const reject = new Reject({ source: "customers", record_key: "X9", category: "validation", reason: "no", location: null, payload: {} })
      const batches: Array<Batch<{ readonly id: string }>> = [1, 2].map((n) => ({
        read: 3, rows: [{ id: `a${n}` }, { id: `b${n}` }], rejects: [reject], filtered: {}
      }))
      const written: Array<string> = []
      yield* Stream.fromIterable(batches).pipe(loadBatches("run-1", {
        source: "customers",
        key: (row) => row.id,
        stage: (_, rows) => Effect.sync(() => void written.push(...rows.map((r) => r.id)))
      }))
      expect(written).toEqual(["a1", "b1", "a2", "b2"])
      expect(batches.map((b) => [b.rows.length, b.rejects.length])).toEqual([[0, 0], [0, 0]])
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT record_key FROM etl_rejects`).toEqual([{ record_key: "X9" }])
    }).pipe(Effect.provide(TestLayer.layer(fixture.settings))))

  it.effect("lets one run at a time hold the warehouse, and frees it when the run ends", () =>
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      yield* warehouse.migrate
      const run = (runId: string) => ({ runId, env: "test", startedAt: "2026-11-25T10:00:00.000Z", mode: "incremental", windowFrom: null, windowTo: null })
      yield* warehouse.beginRun(run("first"))
      const second = yield* Effect.either(warehouse.beginRun(run("second")))
      expect(second._tag === "Left" && second.left.message).toMatch(/another run \(first, pid \d+ on .*\) is loading this warehouse/)
      yield* warehouse.releaseLock("first")
      yield* warehouse.beginRun(run("third"))
      const [history] = yield* (yield* SqlClient.SqlClient)`SELECT status FROM etl_run_history WHERE run_id = 'first'`
      expect(history).toEqual({ status: "interrupted" })
    }).pipe(Effect.provide(TestLayer.layer(fixture.settings))))
})
