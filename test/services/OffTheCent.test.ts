/**
 * Validation's cent checks on SQLite pass an amount that is on the cent grid and close to the
 * unrounded value before rounding it: they must find exactly the rows that rounding finds.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { FastCheck as fc } from "effect"
import { sqlite } from "../../src/services/warehouse/Dialect.js"

// The check as it was before the shortcut: every row rounded.
const rounded = (stored: string, e: string) => `abs(${stored} - round(${e} + 0.0000001 * sign(${e}), 2)) >= 0.005`

describe("offTheCent (SQLite)", () => {
  const db = new Database(":memory:")
  db.exec("CREATE TABLE f (q INTEGER, p REAL, d REAL, t REAL)")
  const insert = db.prepare("INSERT INTO f VALUES (?, ?, ?, ?)")
  const expr = "q * p - d"
  const flagged = (where: string) =>
    (db.prepare(`SELECT rowid AS id FROM f WHERE ${where} ORDER BY rowid`).all() as Array<{ id: number }>).map((r) => r.id)

  // Prices with up to four decimals, discounts in cents, and a stored amount that is the rounded
  // value, a cent or two off it, the unrounded value, or anything near it, on the grid or not.
  const row = fc.record({
    q: fc.integer({ min: 1, max: 5000 }),
    p: fc.integer({ min: 0, max: 10_000_000 }).chain((units) => fc.constantFrom(units, units / 10, units / 100, units / 1000, units / 10000)),
    d: fc.integer({ min: 0, max: 50_000 }).map((cents) => cents / 100),
    off: fc.oneof(
      fc.constantFrom(0, 0.01, -0.01, 0.02, 0.005, -0.005, 0.004, -0.004, 0.0049, 0.0051, 1e-9, -1e-9),
      fc.double({ min: -0.03, max: 0.03, noNaN: true }),
      fc.integer({ min: -300, max: 300 }).map((n) => n / 10_000)
    ),
    from: fc.constantFrom("rounded", "raw")
  })

  it.prop("flags the same rows as rounding every amount", [fc.array(row, { minLength: 1, maxLength: 200 })], ([rows]) => {
    db.exec("DELETE FROM f")
    for (const r of rows) {
      const raw = r.q * r.p - r.d
      const base = r.from === "rounded" ? Math.round(raw * 100) / 100 : raw
      insert.run(r.q, r.p, r.d, base + r.off)
    }
    expect(flagged(sqlite.offTheCent("t", expr))).toEqual(flagged(rounded("t", expr)))
  }, { fastCheck: { numRuns: 300 } })

  it("flags an amount off the grid that is close to the unrounded value: 14.9875 for 14.984445", () => {
    db.exec("DELETE FROM f")
    insert.run(1, 14.984445, 0, 14.9875)
    insert.run(1, 14.984445, 0, 14.98)
    expect(flagged(sqlite.offTheCent("t", expr))).toEqual([1])
    expect(flagged(rounded("t", expr))).toEqual([1])
  })
})
