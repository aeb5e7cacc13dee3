/** validate_loaded_data catches each planted defect, and the run then ends failed. */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Option } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { Warehouse } from "../../src/services/Warehouse.js"
import { type Backend, backends } from "../support/Backends.js"
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

const collect = (into: Array<string>) =>
  Logger.add(Logger.make(({ message }) => void into.push(Array.isArray(message) ? message.join(" ") : String(message))))

describe("validation of a SQLite file", () => {
  const { dir, settings } = inputs({})
  const file = join(dir, "warehouse.db")
  it.layer(TestLayer.layer({ ...settings, INPUT_DIR: join(root, "data/input") }, file))((it) => {
    it.effect("checks the rows a dry run wrote in its transaction, not the file's", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        expect((yield* runPipeline(full)).status).toBe("success")
        yield* sql.unsafe("UPDATE sales_fact SET value_tier = 'High Value' WHERE transaction_id = 'T001'")
        const logged: Array<string> = []
        const committed = yield* (yield* Warehouse).validate("0.03").pipe(Effect.provide(collect(logged)))
        expect(committed.filter((c) => !c.passed).map((c) => c.check)).toEqual(["value_tier matches total"])
        expect(logged.filter((m) => m.includes("run's thread"))).toEqual([])
        // The dry run writes T001 again, right, in its transaction: what it validates.
        const dry = yield* runPipeline({ ...full, dryRun: true })
        expect(dry.validation.filter((c) => !c.passed)).toEqual([])
        yield* sql.unsafe("DELETE FROM sales_fact")
      }))

    it.effect("validates on the run's thread, and says so, when a second thread cannot open the file", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        expect((yield* runPipeline(full)).status).toBe("success")
        yield* sql.unsafe("UPDATE sales_fact SET commission = commission + 1 WHERE transaction_id = 'T002'")
        // The run's connection keeps the file open; a new one finds no file.
        rmSync(file)
        const logged: Array<string> = []
        const findings = yield* (yield* Warehouse).validate("0.03").pipe(Effect.provide(collect(logged)))
        expect(findings.filter((c) => !c.passed).map((c) => c.check)).toEqual(["commission = total × rate"])
        expect(logged.join("\n")).toContain(`validating on the run's thread: a second thread could not read ${file}: unable to open database file`)
      }))
  })
})

// A SQLite file is validated on a second thread (QueryThread), which reads what was committed.
const fileBackend: Backend = {
  name: "a SQLite file",
  skip: undefined,
  layer: (settings) => TestLayer.layer(settings, join(mkdtempSync(join(tmpdir(), "etl-validate-")), "warehouse.db"))
}

for (const backend of [fileBackend, ...backends]) describe.skipIf(backend.skip !== undefined)(`validation on ${backend.name}`, () => {
  const { settings } = inputs({})
  it.layer(backend.layer({ ...settings, INPUT_DIR: join(root, "data/input") }))((it) => {
    // PostgreSQL's foreign keys cannot be switched off per connection: an orphan cannot be planted there.
    const defects = backend.name !== "PostgreSQL" ? DEFECTS : DEFECTS.filter(([, , prelude]) => prelude === "")
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
