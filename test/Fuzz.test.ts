/**
 * Fuzzing the extractors and the transforms with generated input, valid,
 * mutated and random: never an unhandled exception, and every record read is
 * accounted for (read = loaded + rejected + filtered).
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, FastCheck as fc, Stream } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { extractProducts } from "../src/programs/Extract.js"
import { isFiltered, transformProducts, transformSale } from "../src/programs/Transform.js"
import { parseDecimal } from "../src/rules/Money.js"
import type { RawCustomer } from "../src/rules/Customers.js"
import { productCost, writeOutAmounts } from "../src/rules/Sales.js"
import { standardizeCustomer } from "../src/rules/Customers.js"
import { Reject } from "../src/schema/Reject.js"

const dir = mkdtempSync(join(tmpdir(), "etl-fuzz-"))
let files = 0
const file = (content: string) => {
  const path = join(dir, `f${files++}.json`)
  writeFileSync(path, content)
  return path
}

/** Values a product field may hold in a dirty export. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.constantFrom("", " 12.50 ", "-1", "1e3", "NaN", "twelve", "0.001", "99999999999999999999.99"),
  fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 })
)
const product = fc.record({
  product_id: fc.oneof(fc.constantFrom("P1", "P2", " P3 ", ""), anyValue),
  name: anyValue,
  category: fc.oneof(fc.constantFrom("Electronics", "electronics", "Books", "Home & Garden", "??"), anyValue),
  specifications: fc.oneof(fc.record({ brand: anyValue, model: anyValue }, { requiredKeys: [] }), anyValue),
  pricing: fc.oneof(fc.record({ price: anyValue, cost: anyValue }, { requiredKeys: [] }), anyValue),
  inventory: fc.oneof(fc.record({ quantity: anyValue, warehouse: anyValue }, { requiredKeys: [] }), anyValue)
}, { requiredKeys: [] })

/** A valid document, then perhaps mutated: cut short, a byte flipped, a character inserted. */
const document = fc.tuple(
  fc.array(fc.oneof(product, anyValue), { maxLength: 12 }),
  fc.boolean(),
  fc.constantFrom("none", "truncate", "flip", "insert"),
  fc.nat(),
  fc.constantFrom("{", "}", "[", "]", ",", '"', ":", "\\", "\n", "x")
).map(([products, bare, mutation, at, ch]) => {
  const text = JSON.stringify(bare ? products : { metadata: { source: "fuzz" }, products }, null, 1)
  const i = text.length === 0 ? 0 : at % text.length
  const mutated = mutation === "none" ? text
    : mutation === "truncate" ? text.slice(0, i)
    : mutation === "flip" ? text.slice(0, i) + ch + text.slice(i + 1)
    : text.slice(0, i) + ch + text.slice(i)
  return { text: mutated, products: mutation === "none" ? products : undefined }
})

const readProducts = (path: string) =>
  Effect.gen(function* () {
    const doc = yield* extractProducts(path)
    return yield* Stream.runCollect(doc.products).pipe(Effect.map(Chunk.toReadonlyArray), Effect.either)
  })

describe("fuzzing products JSON", () => {
  it.layer(NodeContext.layer)((it) => {
    it.effect.prop("valid, mutated or random: a source error or every product loaded or rejected", [
      fc.oneof({ weight: 4, arbitrary: document }, { weight: 1, arbitrary: fc.string().map((text) => ({ text, products: undefined })) })
    ], ([{ products, text }]) =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(readProducts(file(text)))
        // Never a defect: reading either succeeds or fails with a typed SourceError.
        expect(Exit.isSuccess(exit)).toBe(true)
        const result = Exit.isSuccess(exit) ? exit.value : Either.left(null)
        if (Either.isLeft(result)) {
          expect(products, `a valid document failed: ${String(result.left?.message)}`).toBeUndefined()
          expect(result.left!._tag).toBe("SourceError")
          expect(result.left!.message).toContain(dir)
          return
        }
        const items = result.right
        if (products !== undefined) expect(items).toHaveLength(products.length)
        const outcomes = Chunk.toReadonlyArray(transformProducts("p.json")(Chunk.unsafeFromArray(items)))
        expect(outcomes).toHaveLength(items.length)
        for (const o of outcomes) {
          if (o instanceof Reject) {
            expect(o.reason.length).toBeGreaterThan(0)
            expect(o.location).toMatch(/^p\.json products\[\d+\]$/)
          } else {
            expect(isFiltered(o)).toBe(false)
            expect(parseDecimal((o as { price: string }).price)).toBeDefined()
          }
        }
      }), { fastCheck: { numRuns: 300 } })
  })
})

const text = fc.oneof(
  fc.string(),
  fc.constantFrom("", " ", "0", "-1", "1.5", "3", "19.99", "1e9", "NaN", "Infinity", "2024-02-30", "2024-02-29", "2023-02-29",
    "99999-01-01", "03/15/2024", "15.03.2024", "2024-03-15T10:00:00", "C1", "P1", "completed", "null", "'; DROP TABLE x;--")
)

describe("fuzzing the transforms", () => {
  it.prop("a sale from any fields is a row, a reject with a reason, or filtered, and never throws", [
    fc.record({
      transaction_id: text, customer_id: text, product_id: text, quantity: text, unit_price: text,
      discount_amount: text, transaction_date: text, sales_rep_id: text
    })
  ], ([raw]) => {
    const pricing = {
      window: { from: null, to: null },
      costOf: (id: string) => (id === "P1" ? productCost(parseDecimal("12.50")!) : id === "P2" ? null : undefined),
      commissionRate: parseDecimal("0.03")!
    }
    const out = transformSale(raw, pricing, "sales.csv line 2", (r) => ({ ...r }), raw)
    if (out instanceof Reject) {
      expect(out.reason.length).toBeGreaterThan(0)
      expect(["missing_key", "validation", "malformed", "referential"]).toContain(out.category)
    } else if (!isFiltered(out)) {
      // A loaded sale carries exact money that the warehouse can store.
      const sale = writeOutAmounts({ ...out })
      for (const v of [sale.unit_price, sale.discount_amount, sale.total_amount, sale.commission]) expect(parseDecimal(v!)).toBeDefined()
      expect(out.transaction_date).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(Number(out.quantity)).toBeGreaterThanOrEqual(1)
    }
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("a customer from any fields is a row or a reject with a reason, and never throws", [
    fc.record({
      customer_id: text, first_name: text, last_name: text, email: text, phone: text, address: text, segment: text,
      registration_date: text
    })
  ], ([raw]) => {
    const out = standardizeCustomer(raw as RawCustomer)
    if ("category" in out && "reason" in out) expect(String(out.reason).length).toBeGreaterThan(0)
    else expect(typeof (out as { segment: string }).segment).toBe("string")
  }, { fastCheck: { numRuns: 2000 } })
})
