/** Another Effect app runs the pipeline through the public API, with its own layers. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { join } from "node:path"
import { Alerts, AppConfig, CircuitBreaker, Metrics, runPipeline, SqliteWarehouse, TestLayer, Warehouse } from "../src/index.js"
import { inputs } from "./support/Fixtures.js"
import { NodeContext } from "@effect/platform-node"

describe("embedding", () => {
  const { settings } = inputs({})
  // The app's own wiring: its configuration, an in-memory warehouse, its own metrics.
  const appLayer = Layer.mergeAll(SqliteWarehouse.layerSqlite(":memory:"), Metrics.Default, CircuitBreaker.Default).pipe(
    Layer.provideMerge(Alerts.Default),
    Layer.provideMerge(TestLayer.config({ ...settings, INPUT_DIR: join(import.meta.dirname, "../data/input"), BATCH_SIZE: "7" })),
    Layer.provideMerge(NodeContext.layer)
  )

  it.layer(appLayer)((it) => {
    it.effect("runs the programs and reads the results through the services", () =>
      Effect.gen(function* () {
        const summary = yield* runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false })
        expect(summary.status).toBe("success")
        expect((yield* AppConfig).processing.batchSize).toBe(7)
        const counts = yield* (yield* Warehouse).tableCounts
        expect(counts).toMatchObject({ customer_dim: 19, product_dim: 10, sales_fact: 16, etl_run_history: 1 })
      }))
  })
})
