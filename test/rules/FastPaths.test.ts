/**
 * The hot path reads the common shapes of dates and numbers by character
 * codes, and prices a sale in JS numbers while they are exact; these
 * properties hold it to the general path on the shapes it takes and on near
 * misses (other separators, signs, spaces, out-of-range parts, values at the
 * edge of exactness).
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { anyTransactionDate, parseTransactionDate } from "../../src/rules/Dates.js"
import { anyDecimal, parseDecimal, toDouble } from "../../src/rules/Money.js"
import { cleanText } from "../../src/rules/Text.js"
import { exactSale, processSale, productCost, type RawSale } from "../../src/rules/Sales.js"

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max })
const oneOf = (chars: string) => fc.constantFrom(...chars)

describe("transaction dates", () => {
  const dateLike = fc.tuple(digits(4, 4), oneOf("-/."), digits(2, 2), oneOf("-/"), digits(2, 2)).map((p) => p.join(""))
  const timeLike = fc.tuple(oneOf(" T_"), digits(2, 2), oneOf(":."), digits(2, 2), oneOf(":"), digits(2, 2)).map((p) => p.join(""))
  const text = fc.oneof(
    dateLike,
    fc.tuple(dateLike, timeLike).map(([d, t]) => d + t),
    fc.tuple(dateLike, timeLike, oneOf(" Zx")).map(([d, t, z]) => d + t + z),
    fc.tuple(oneOf(" \t"), dateLike).map(([s, d]) => s + d)
  )
  it.prop("the common shapes' path answers as the general one", [text], ([t]) => {
    expect(parseTransactionDate(t)).toBe(anyTransactionDate(t))
  }, { fastCheck: { numRuns: 5000 } })

  // Rows come in date order: after a day it has read, the fast path reads only what follows the day.
  const day = fc.date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10))
  const tail = fc.oneof(timeLike, fc.tuple(timeLike, oneOf(" Zx")).map(([t, z]) => t + z), fc.constant(""), fc.constantFrom(" ", "x", "T24:00:00", " 23:59:60"))
  it.prop("and so after a day it has read, for texts that start with that day", [day, fc.array(tail, { maxLength: 8 })], ([d, tails]) => {
    expect(parseTransactionDate(d)).toBe(d)
    for (const t of tails) expect(parseTransactionDate(d + t)).toBe(anyTransactionDate(d + t))
  }, { fastCheck: { numRuns: 2000 } })

  it.each([
    ["2024-02-29 23:59:59", "2024-02-29"], ["2023-02-29", undefined], ["2024-03-05T24:00:00", undefined],
    ["2024-03-05 12:60:00", undefined], ["0000-01-01", undefined], ["2024-12-31", "2024-12-31"]
  ])("%j → %j", (input, expected) => expect(parseTransactionDate(input)).toBe(expected))
})

describe("text", () => {
  // cleanText returns text whose only whitespace is single spaces as it is, without the replace.
  const general = (raw: string) => raw.trim().replace(/\s+/g, " ") || undefined
  const unit = fc.constantFrom("a", "é", "x", " ", "  ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\ufeff")
  it.prop("collapsing whitespace answers as the general path", [fc.string({ unit })], ([t]) => {
    expect(cleanText(t)).toBe(general(t))
  }, { fastCheck: { numRuns: 5000 } })
})

describe("decimals", () => {
  const text = fc.oneof(
    digits(0, 18),
    fc.tuple(digits(0, 16), digits(0, 6)).map(([a, b]) => `${a}.${b}`),
    fc.tuple(oneOf("+- ."), digits(0, 6), oneOf(".e, ")).map((p) => p.join("")),
    fc.string({ unit: oneOf("0123456789.-+eE "), maxLength: 18 })
  )
  it.prop("the plain shape's path answers as the general one", [text], ([t]) => {
    expect(parseDecimal(t)).toEqual(anyDecimal(t))
  }, { fastCheck: { numRuns: 5000 } })

  it.prop("a decimal's double is Number's", [fc.oneof(text, fc.tuple(oneOf("-"), text).map(([a, b]) => a + b))], ([t]) => {
    expect(Object.is(toDouble(t), Number(t))).toBe(true)
  }, { fastCheck: { numRuns: 5000 } })

  it.each([
    ["19.99", { units: 1999n, scale: 2 }], ["5.", { units: 5n, scale: 0 }], [".5", { units: 5n, scale: 1 }],
    [".", undefined], ["", undefined], ["9999999999999999", { units: 9999999999999999n, scale: 0 }],
    ["999999999999999.9", { units: 9999999999999999n, scale: 1 }]
  ])("%s", (input, expected) => expect(parseDecimal(input)).toEqual(expected))
})

describe("a sale's money", () => {
  // Around the fast path's limit (2^52 cents and products of it) and well inside it.
  const amount = fc.oneof(
    fc.tuple(digits(1, 6), fc.option(digits(0, 3), { nil: undefined })).map(([a, b]) => b === undefined ? a : `${a}.${b}`),
    fc.tuple(digits(12, 15), fc.option(digits(1, 2), { nil: undefined })).map(([a, b]) => b === undefined ? a : `${a}.${b}`),
    fc.constantFrom("", " 5", "-1", "0", "1e2", ".5", "5.", ".", "45035996273704.95", "45035996273704.96", "90071992547409.91")
  )
  const quantity = fc.oneof(digits(1, 3), digits(4, 16), fc.constantFrom("0", "2.0", " 3", "-2", ""))
  const decimal = fc.tuple(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), fc.integer({ min: 1, max: 18 }), fc.integer({ min: 0, max: 4 }))
    .map(([units, digits, scale]) => ({ units: units % 10n ** BigInt(digits), scale }))
  const cost = fc.oneof(decimal, fc.constant(null), fc.constant(undefined))
  const rate = fc.oneof(fc.constant({ units: 3n, scale: 2 }), decimal.map((d) => ({ units: d.units < 0n ? -d.units : d.units, scale: d.scale })))
  it.prop("the cents path prices as the exact one", [quantity, amount, amount, cost, rate], ([q, price, discount, c, r]) => {
    const raw: RawSale = {
      transaction_id: "T1", customer_id: "C1", product_id: "P1", quantity: q, unit_price: price,
      discount_amount: discount, transaction_date: "2024-03-01", sales_rep_id: "R1"
    }
    const known = c === null || c === undefined ? c : productCost(c)
    const pricing = { window: { from: null, to: null }, costOf: () => known, commissionRate: r }
    expect(processSale(raw, pricing)).toEqual(exactSale(raw, pricing))
  }, { fastCheck: { numRuns: 20000 } })

  it.each([
    ["3", "19.99", "5.00", "54.97", "1.65", "31.78"],
    ["1", "0.50", "", "0.50", "0.02", "-2400.00"],
    ["2", "45035996273704.95", "0", "90071992547409.90", "2702159776422.30", "100.00"]
  ])("%s × %s − %j", (q, price, discount, total, commission, margin) => {
    const raw: RawSale = {
      transaction_id: "T1", customer_id: "C1", product_id: "P1", quantity: q, unit_price: price,
      discount_amount: discount, transaction_date: "2024-03-01", sales_rep_id: "R1"
    }
    const pricing = { window: { from: null, to: null }, costOf: () => productCost(margin === "100.00" ? { units: 0n, scale: 0 } : { units: 1250n, scale: 2 }), commissionRate: { units: 3n, scale: 2 } }
    expect(processSale(raw, pricing)).toMatchObject({ total_amount: total, commission, profit_margin: margin })
    expect(processSale(raw, pricing)).toEqual(exactSale(raw, pricing))
  })
})
