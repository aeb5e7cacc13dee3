/** A direct load's dimension keys: the compact KeySet answers as a Set of the same strings. */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { KeySet } from "../../src/services/warehouse/KeySet.js"

describe("KeySet", () => {
  const key = fc.string({ unit: fc.constantFrom("C", "P", "0", "1", "2", "9", "é", "💡", " "), maxLength: 6 })
  it.prop("holds exactly the keys it was given, added in pages", [fc.array(fc.array(key, { maxLength: 30 }), { maxLength: 6 }), fc.array(key, { maxLength: 30 })], ([pages, probes]) => {
    const builder = KeySet.builder()
    for (const page of pages) builder.add(page)
    const keys = builder.build()
    const expected = new Set(pages.flat())
    for (const probe of [...pages.flat(), ...probes]) expect(keys.has(probe)).toBe(expected.has(probe))
  }, { fastCheck: { numRuns: 2000 } })

  it("tells apart keys that share characters: C1, C12, C123, 1C", () => {
    const keys = KeySet.of(["C12", "1C", "C1"])
    expect(["C1", "C12", "C123", "1C", "C", "", "C21"].map((k) => keys.has(k))).toEqual([true, true, false, true, false, false, false])
  })
})
