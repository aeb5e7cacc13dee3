import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import * as Money from "../../src/rules/Money.js"
import { commissionCents, costLookup, processSale, productCost, totalCents, valueTier, type RawSale, type SalePricing } from "../../src/rules/Sales.js"

const dec = (s: string) => Money.parseDecimal(s)!
const pricing = (over: Partial<SalePricing> = {}): SalePricing => ({
  window: { from: null, to: null }, costOf: (id) => (id === "P1" ? productCost(dec("12.50")) : id === "P0" ? null : undefined),
  commissionRate: dec("0.03"), ...over
})
const sale = (over: Partial<RawSale> = {}): RawSale => ({
  transaction_id: "T1", customer_id: "C1", product_id: "P1", quantity: "3", unit_price: "19.99",
  discount_amount: "5.00", transaction_date: "2024-03-01", sales_rep_id: "R1", ...over
})

describe("the worked example", () => {
  it("3 × 19.99 − 5.00 with cost 12.50", () => {
    expect(processSale(sale(), pricing())).toMatchObject({
      total_amount: "54.97", commission: "1.65", value_tier: "Low Value", cost_amount: "37.50", profit_margin: "31.78"
    })
  })

  it("499.50 × 0.03 is 14.99, not 14.98", () => {
    expect(Money.formatCents(commissionCents(49950n, dec("0.03")))).toBe("14.99")
  })
})

describe("money", () => {
  it.each([["0.005", "0.01"], ["-0.005", "-0.01"], ["0.0049", "0.00"], ["1.115", "1.12"], ["2.675", "2.68"]])(
    "%s rounds half away from zero to %s", (v, expected) => expect(Money.formatCents(Money.rescale(dec(v), 2))).toBe(expected))

  it.prop("total = quantity × unit_price − discount exactly", [
    fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 10_000_000 })
  ], ([q, priceCents, discountCents]) => {
    const total = totalCents(BigInt(q), { units: BigInt(priceCents), scale: 2 }, { units: BigInt(discountCents), scale: 2 })
    expect(total).toBe(BigInt(q) * BigInt(priceCents) - BigInt(discountCents))
  })
})

describe("value tier", () => {
  it.each([[9_999n, "Low Value"], [10_000n, "Medium Value"], [49_999n, "Medium Value"], [50_000n, "High Value"]] as const)(
    "%s cents → %s", (cents, tier) => expect(valueTier(cents)).toBe(tier))

  it.prop("is monotonic in the total", [fc.bigInt({ min: 0n, max: 10_000_000n }), fc.bigInt({ min: 0n, max: 10_000_000n })], ([a, b]) => {
    const order = ["Low Value", "Medium Value", "High Value"]
    const [lo, hi] = a <= b ? [a, b] : [b, a]
    expect(order.indexOf(valueTier(lo))).toBeLessThanOrEqual(order.indexOf(valueTier(hi)))
  })
})

describe("processSale", () => {
  it.each([
    [{ transaction_id: " " }, "missing_key"], [{ customer_id: "" }, "validation"], [{ product_id: "" }, "validation"],
    [{ quantity: "0" }, "validation"], [{ quantity: "1.5" }, "validation"], [{ quantity: "two" }, "validation"],
    [{ unit_price: "-1" }, "validation"], [{ unit_price: "" }, "validation"], [{ discount_amount: "-1" }, "validation"],
    [{ discount_amount: "60.00" }, "validation"], [{ transaction_date: "2024-02-30" }, "validation"]
  ])("rejects %j as %s", (over, category) => expect(processSale(sale(over), pricing())).toMatchObject({ _tag: "Refusal", category }))

  it("reads an empty discount as 0 and allows a discount equal to the gross", () => {
    expect(processSale(sale({ discount_amount: "" }), pricing())).toMatchObject({ discount_amount: "0", total_amount: "59.97" })
    expect(processSale(sale({ discount_amount: "59.97" }), pricing())).toMatchObject({ total_amount: "0.00", profit_margin: null })
  })

  it("leaves cost and margin NULL when the product has no cost", () => {
    expect(processSale(sale({ product_id: "P0" }), pricing())).toMatchObject({ cost_amount: null, profit_margin: null })
  })

  it("filters transactions outside the window", () => {
    const window = { from: "2024-03-02", to: "2024-03-05" }
    expect(processSale(sale(), pricing({ window }))).toEqual({ _tag: "Filtered", why: "window" })
    expect(processSale(sale({ transaction_date: "2024-03-05 23:59:59" }), pricing({ window }))).toMatchObject({ transaction_date: "2024-03-05" })
  })

  it("prices from the warehouse's cost texts: a cost of at most two places in cents, a longer one exactly, none as none", () => {
    const costOf = costLookup([["P1", "12.50"], ["P2", "0.125"], ["P3", null], ["P4", "n/a"]])
    expect(costOf("P1")).toEqual({ exact: dec("12.50"), cents: 1250 })
    expect(costOf("P2")).toEqual({ exact: dec("0.125"), cents: undefined })
    expect([costOf("P3"), costOf("P4"), costOf("P5")]).toEqual([null, null, undefined])
    expect(processSale(sale({ quantity: "4", product_id: "P2" }), pricing({ costOf }))).toMatchObject({ cost_amount: "0.50" })
    expect(processSale(sale({ product_id: "P4" }), pricing({ costOf }))).toMatchObject({ cost_amount: null, profit_margin: null })
  })

  it("uses the configured commission rate", () => {
    expect(processSale(sale(), pricing({ commissionRate: dec("0.1") }))).toMatchObject({ commission: "5.50" })
  })
})
