/** The same input gives row for row the same warehouse in PostgreSQL as in SQLite. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { SqlClient } from "@effect/sql"
import { Effect, Option } from "effect"
import { join } from "node:path"
import { generate } from "../../src/programs/Generate.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { transactionClient } from "../../src/services/warehouse/PgWarehouse.js"
import { backends, rows } from "../support/Backends.js"
import { inputs } from "../support/Fixtures.js"
import { skipReason } from "../support/Postgres.js"

const { dir, settings } = inputs({})
const dataDir = join(dir, "generated")
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

const TABLES = {
  customer_dim: "SELECT customer_id, first_name, last_name, name, email, email_valid, phone, address, base_segment, segment, CAST(registration_date AS TEXT) AS registration_date, quality_flags FROM customer_dim ORDER BY customer_id",
  product_dim: "SELECT product_id, name, category, raw_category, brand, model, price, cost, price_category, quantity, warehouse, inventory_status, quality_flags FROM product_dim ORDER BY product_id",
  sales_fact: "SELECT transaction_id, customer_id, product_id, quantity, unit_price, discount_amount, total_amount, cost_amount, profit_margin, commission, value_tier, customer_status, CAST(transaction_date AS TEXT) AS transaction_date, sales_rep_id FROM sales_fact ORDER BY transaction_id",
  etl_rejects: "SELECT source, record_key, reject_key, category, reason, attempts FROM etl_rejects ORDER BY source, reject_key"
}

const snapshot = (layer: ReturnType<(typeof backends)[number]["layer"]>) =>
  Effect.gen(function* () {
    yield* runPipeline(full)
    yield* runPipeline(full)
    const out: Record<string, unknown> = {}
    for (const [table, query] of Object.entries(TABLES)) out[table] = yield* rows(query)
    return out
  }).pipe(Effect.provide(layer))

describe.skipIf(skipReason !== undefined)("SQLite and PostgreSQL", () => {
  it.effect("hold the same warehouse after the same runs", () =>
    Effect.gen(function* () {
      yield* generate({ transactions: 3000, outDir: dataDir, seed: 11 }).pipe(Effect.provide(NodeContext.layer))
      const input = { ...settings, INPUT_DIR: dataDir, BATCH_SIZE: "700" }
      const [sqlite, postgres] = [backends[0]!, backends[1]!]
      const a = yield* snapshot(sqlite.layer(input))
      const b = yield* snapshot(postgres.layer(input))
      for (const table of Object.keys(TABLES)) {
        expect((a[table] as Array<unknown>).length, table).toBeGreaterThan(0)
        expect(b[table], table).toEqual(a[table])
      }
    }), 120_000)
})


describe.skipIf(skipReason !== undefined)("PostgreSQL staging", () => {
  it.effect("goes through COPY on the transaction's own connection, every character intact", () =>
    Effect.gen(function* () {
      const postgres = backends[1]!
      const nasty = ["tab\there", "line\nbreak", "back\\slash \\N", "carriage\rreturn", "quote ' and \"", "Zoë Ünal 東京 🚀", "\\."]
      const staged = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const warehouse = yield* Warehouse
        yield* warehouse.migrate
        return yield* Effect.gen(function* () {
          expect(Option.isSome(yield* transactionClient)).toBe(true)
          yield* warehouse.stageCustomers("copy-run", nasty.map((name, i) => ({
            customer_id: `C${i}`, first_name: name, last_name: null, name, email: null, email_valid: 0 as const, phone: null,
            address: name, base_segment: "Basic", segment: "Basic", registration_date: i === 0 ? null : "2024-02-29", quality_flags: null
          })))
          const back = yield* sql.unsafe<{ name: string; address: string; registration_date: string | null }>(
            "SELECT name, address, registration_date FROM etl_stage_customers WHERE run_id = 'copy-run' ORDER BY seq"
          )
          return yield* Effect.fail({ back })
        }).pipe(sql.withTransaction, Effect.flip)
      }).pipe(Effect.provide(postgres.layer(settings)))
      // The transaction failed on purpose with what it read, so the staged rows roll back.
      if (!("back" in staged)) return yield* Effect.die(staged)
      expect(staged.back.map((r) => r.name)).toEqual(nasty)
      expect(staged.back.map((r) => r.address)).toEqual(nasty)
      expect(staged.back.map((r) => r.registration_date)).toEqual([null, ...nasty.slice(1).map(() => "2024-02-29")])
    }))
})
