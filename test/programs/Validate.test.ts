/** validate_loaded_data catches each planted defect, and the run then ends failed. */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { join } from "node:path"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { backends } from "../support/Backends.js"
import { inputs } from "../support/Fixtures.js"

const root = join(import.meta.dirname, "../..")
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

const DEFECTS: ReadonlyArray<readonly [string, string, string]> = [
  ["total_amount = quantity × unit_price − discount", "UPDATE sales_fact SET total_amount = total_amount + 0.01 WHERE transaction_id = 'T001'", ""],
  ["commission = total × rate", "UPDATE sales_fact SET commission = commission + 1 WHERE transaction_id = 'T002'", ""],
  ["value_tier matches total", "UPDATE sales_fact SET value_tier = 'High Value' WHERE transaction_id = 'T001'", ""],
  ["one First-time per customer", "UPDATE sales_fact SET customer_status = 'First-time'", ""],
  ["required columns", "UPDATE sales_fact SET customer_status = NULL WHERE transaction_id = 'T001'", ""],
  ["orphan facts (customer)", "DELETE FROM customer_dim WHERE customer_id = 'C020'", "PRAGMA foreign_keys = OFF"],
  ["orphan facts (product)", "DELETE FROM product_dim WHERE product_id = 'P003'", "PRAGMA foreign_keys = OFF"]
]

for (const backend of backends) describe.skipIf(backend.skip !== undefined)(`validation on ${backend.name}`, () => {
  const { settings } = inputs({})
  it.layer(backend.layer({ ...settings, INPUT_DIR: join(root, "data/input") }))((it) => {
    // PostgreSQL's foreign keys cannot be switched off per connection: an orphan cannot be planted there.
    const defects = backend.name === "SQLite" ? DEFECTS : DEFECTS.filter(([, , prelude]) => prelude === "")
    it.effect.each(defects)("catches a planted defect: %s", ([check, defect, sqlitePrelude]) =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        const warehouse = yield* Warehouse
        expect((yield* runPipeline(full)).status).toBe("success")
        yield* Effect.zipRight(sqlitePrelude === "" ? Effect.void : sql.unsafe(sqlitePrelude), sql.unsafe(defect))
        const findings = yield* warehouse.validate("0.03")
        // That check, and no other: each counts its own defect.
        expect(findings.filter((f) => !f.passed).map((f) => f.check)).toEqual([check])
        // An orphan check counts the facts left without their dimension row, not the keys.
        if (sqlitePrelude !== "") {
          const key = check.includes("customer") ? ["customer_id", "C020"] : ["product_id", "P003"]
          const n = (yield* sql.unsafe<{ n: number }>(`SELECT count(*) AS n FROM sales_fact WHERE ${key[0]} = '${key[1]}'`))[0]!.n
          expect(n).toBeGreaterThan(1)
          expect(findings.find((f) => f.check === check)?.detail).toBe(`${n} row(s) fail`)
        }
        if (sqlitePrelude !== "") yield* sql.unsafe("PRAGMA foreign_keys = ON")
        // Repair what the next case needs: a clean reload.
        yield* sql.unsafe("DELETE FROM sales_fact")
      }))
  })
})
