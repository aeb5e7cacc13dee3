/**
 * Partitioned runs on an in-memory workflow engine and SQLite warehouse: the
 * same programs the runners host, without a cluster. A partitioned run must
 * load what a single-process run loads; a partition's merge happens once. The runs use the live
 * clock: a partition waiting for its merge turn really sleeps.
 */
import { SqlClient } from "@effect/sql"
import * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import * as TestLayer from "../../src/layers/Test.js"
import { days, orderedPermits, partitionWorkflows } from "../../src/programs/Partitions.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { CUSTOMER_HEADER, inputs, product, products, SALES_HEADER } from "../support/Fixtures.js"

const fixture = inputs({
  customers: `${CUSTOMER_HEADER}\n` + ["C1", "C2", "C3", "C4"].map((id) => `${id},Ann,Lee,${id}@example.com,5551234567,1 Main,Premium,2024-01-01`).join("\n") + "\n",
  products: products([product("P1", 10, 4)]),
  sales: [
    SALES_HEADER,
    "T1,C1,P1,1,10,0,2024-03-01,R1,completed",
    "T2,C2,P1,2,10,0,2024-03-02,R1,completed",
    "T3,C1,P1,1,10,0,2024-03-03,R1,completed",
    "T4,C9,P1,1,10,0,2024-03-02,R1,completed", // no such customer: quarantined
    "T5,C3,P1,1,10,0,2024-02-20,R1,completed", // outside the window: filtered (by the first partition)
    "T6,C3,P1,1,10,0,2024-13-45,R1,completed", // no date: rejected (by the first partition)
    "T7,C4,P1,1,10,0,2024-03-03,R1,pending", // not completed: filtered
    "T2,C2,P1,3,10,0,2024-03-03,R1,completed", // T2 again, a day later: this copy wins
    "T8,C2,P1,1,10,0,2024-03-01,R1,completed", // C2's first transaction
    "T9,C1" // malformed
  ].join("\n") + "\n"
})
const window = { date: Option.none(), from: Option.some("2024-03-01"), to: Option.some("2024-03-03"), fullRefresh: false, dryRun: false }

/** A run's services; with `partitioned`, an in-memory workflow engine hosting the partition workflow. */
const services = (partitioned: boolean) => {
  const base = TestLayer.layer(fixture.settings)
  return partitioned
    ? Layer.provideMerge(Layer.provideMerge(partitionWorkflows("test runner", 2), WorkflowEngine.layerMemory), base)
    : base
}

const contents = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  return {
    facts: yield* sql`SELECT transaction_id, customer_id, quantity, total_amount, commission, customer_status, transaction_date
                      FROM sales_fact ORDER BY transaction_id`,
    rejects: yield* sql`SELECT source, reject_key, category, reason, attempts FROM etl_rejects WHERE resolved_run IS NULL ORDER BY source, reject_key`,
    staged: yield* sql`SELECT count(*) AS n FROM etl_stage_sales`
  }
})

const runOnce = (partitioned: boolean) =>
  Effect.gen(function* () {
    const summary = yield* runPipeline({ ...window, partitionBy: partitioned ? "day" : "none" })
    return { summary, contents: yield* contents }
  }).pipe(Effect.provide(services(partitioned)))

describe("partitioned runs", () => {
  it("split a window into its days, leap day included", () => {
    expect(days({ from: "2024-02-27", to: "2024-03-02" })).toEqual(["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"])
    expect(days({ from: "2024-03-01", to: "2024-03-01" })).toEqual(["2024-03-01"])
  })

  it.effect("stage the earliest waiting day first, one at a time", () =>
    Effect.gen(function* () {
      const permits = orderedPermits(1)
      const order: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const held = yield* Deferred.make<void>()
      const first = yield* Effect.fork(permits("2024-03-09")(Deferred.succeed(held, undefined).pipe(Effect.zipRight(Deferred.await(gate)))))
      yield* Deferred.await(held)
      const rest = yield* Effect.fork(Effect.forEach(["2024-03-03", "2024-03-01", "2024-03-02"], (key) =>
        permits(key)(Effect.sync(() => order.push(key))), { concurrency: "unbounded", discard: true }))
      yield* Effect.repeatN(Effect.yieldNow(), 20)
      expect(order).toEqual([])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(rest)
      expect(order).toEqual(["2024-03-01", "2024-03-02", "2024-03-03"])
    }))

  it.live("load what a single-process run loads, and count every record once", () =>
    Effect.gen(function* () {
      const single = yield* runOnce(false)
      const split = yield* runOnce(true)
      expect(split.summary.status).toBe("success")
      expect(split.contents).toEqual(single.contents)
      expect(split.contents.facts.find((f) => f.transaction_id === "T2")).toMatchObject({ quantity: 3 })
      expect(split.contents.facts.filter((f) => f.customer_status === "First-time").map((f) => f.transaction_id)).toEqual(["T1", "T8"])
      const counts = (s: typeof single.summary) => {
        const { filtered, filteredBy, loaded, read, rejected, rejectedBy } = s.sources.sales!
        return { filtered, filteredBy, loaded, read, rejected, rejectedBy }
      }
      expect(counts(split.summary)).toEqual(counts(single.summary))
      // T2, on two days, is loaded once: its earlier copy is a duplicate, though the first day's
      // partition inserted it and the next one rewrote it.
      expect(counts(split.summary)).toMatchObject({ read: 10, loaded: 4, filtered: 3, filteredBy: { duplicate: 1 }, rejected: 3 })
      expect(single.summary.changes.sales_fact).toMatchObject({ inserted: 4, updated: 0, referential: 1 })
      expect(split.summary.changes.sales_fact).toMatchObject({ inserted: 4, updated: 0, referential: 1 })
    }))

  it.live("merge a partition once: a second merge replays its counts and changes nothing", () =>
    Effect.gen(function* () {
      const summary = yield* runPipeline({ ...window, partitionBy: "day" })
      const warehouse = yield* Warehouse
      const before = yield* contents
      const again = yield* warehouse.mergePartition(summary.run_id, "2024-03-02", summary.started_at, summary.started_at)
      expect(again.replayed).toBe(true)
      expect(again.merge).toMatchObject({ inserted: 1, referential: 1 })
      expect(yield* contents).toEqual(before)
      // The run is over: a partition still on some runner would stage and merge nothing more.
      expect((yield* Effect.flip(warehouse.partitionRunLive(summary.run_id))).message).toContain("is no longer running (success)")
      const rows = yield* warehouse.partitions(null)
      expect(rows.map((r) => [r.key, r.state, r.merges, r.stageAttempts])).toEqual([
        ["2024-03-01", "merged", 1, 1], ["2024-03-02", "merged", 1, 1], ["2024-03-03", "merged", 1, 1]
      ])
    }).pipe(Effect.provide(services(true))))
})
