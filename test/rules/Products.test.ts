import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Money from "../../src/rules/Money.js"
import { enrichProduct, inventoryStatus, priceCategory, standardCategory } from "../../src/rules/Products.js"

const dec = (s: string) => Money.parseDecimal(s)!
const product = (over: Record<string, unknown> = {}, specs: Record<string, unknown> = {}, inventory: Record<string, unknown> = {}) => ({
  product_id: "P1", name: "Thing", category: "Tech",
  specifications: { brand: "B", model: "M", price: 10, ...specs },
  inventory: { quantity: 5, warehouse: "WH", ...inventory },
  ...over
})

describe("price category", () => {
  it.each([["0", "Budget"], ["49.99", "Budget"], ["50", "Mid-Range"], ["50.00", "Mid-Range"], ["199.99", "Mid-Range"], ["200", "Premium"], ["200.00", "Premium"], ["10000", "Premium"]])(
    "%s → %s", (price, expected) => expect(priceCategory(dec(price))).toBe(expected))

  it.prop("is monotonic in price", [fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 })], ([a, b]) => {
    const order = ["Budget", "Mid-Range", "Premium"]
    const [lo, hi] = a <= b ? [a, b] : [b, a]
    expect(order.indexOf(priceCategory({ units: BigInt(lo), scale: 2 }))).toBeLessThanOrEqual(order.indexOf(priceCategory({ units: BigInt(hi), scale: 2 })))
  })
})

describe("inventory status", () => {
  it.each([[0, "Critical Stock"], [9, "Critical Stock"], [10, "Low Stock"], [49, "Low Stock"], [50, "Moderate Stock"], [100, "Moderate Stock"], [101, "Well Stocked"], [null, "Unknown"]] as const)(
    "%s → %s", (q, expected) => expect(inventoryStatus(q)).toBe(expected))
})

describe("category", () => {
  it.each([["Electronics", "Electronics"], ["tech", "Electronics"], [" TECHNOLOGY ", "Electronics"], ["Clothing", "Apparel"], ["apparel", "Apparel"], ["Fashion", "Apparel"], ["books", "Books"], ["Literature", "Books"], ["Reading", "Books"], ["Garden", undefined], ["", undefined]])(
    "%j → %j", (raw, expected) => expect(standardCategory(raw)).toBe(expected))
})

describe("enrichProduct", () => {
  it("flattens the nested document", () => {
    expect(enrichProduct(product({}, { price: "199.99", cost: 120 }, { quantity: 150 }))).toEqual({
      product_id: "P1", name: "Thing", category: "Electronics", raw_category: "Tech", brand: "B", model: "M",
      price: "199.99", cost: "120", price_category: "Mid-Range", quantity: 150, warehouse: "WH",
      inventory_status: "Well Stocked", quality_flags: null
    })
  })

  it.each([
    [{ product_id: undefined }, "missing_key"], [{ product_id: "  " }, "missing_key"], [{ product_id: { x: 1 } }, "validation"]
  ])("rejects product_id %j as %s", (over, category) => expect(enrichProduct(product(over))).toMatchObject({ category }))

  it.each([[-1], ["abc"], [null], [undefined]])("rejects price %j", (price) =>
    expect(enrichProduct(product({}, { price }))).toMatchObject({ _tag: "Refusal", category: "validation" }))

  it.each([[-1], [2.5], ["two"]])("rejects quantity %j", (quantity) =>
    expect(enrichProduct(product({}, {}, { quantity }))).toMatchObject({ _tag: "Refusal", category: "validation" }))

  it("takes cost from specifications, then inventory, then the product", () => {
    expect(enrichProduct(product({ cost: 3 }, { cost: 1 }, { cost: 2 }))).toMatchObject({ cost: "1" })
    expect(enrichProduct(product({ cost: 3 }, {}, { cost: 2 }))).toMatchObject({ cost: "2" })
    expect(enrichProduct(product({ cost: 3 }))).toMatchObject({ cost: "3" })
    expect(enrichProduct(product())).toMatchObject({ cost: null, quality_flags: null })
  })

  it("flags an invalid cost and an unmapped category, and loads the product", () => {
    expect(enrichProduct(product({ category: "Garden" }, { cost: -3 }))).toMatchObject({
      cost: null, category: "Other", raw_category: "Garden", quality_flags: "invalid_cost,unmapped_category"
    })
  })

  it("reads a missing quantity as Unknown", () => {
    expect(enrichProduct(product({ inventory: undefined }))).toMatchObject({ quantity: null, inventory_status: "Unknown", warehouse: null })
  })
})
