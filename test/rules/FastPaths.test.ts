/**
 * The hot path reads the common shapes of dates and numbers by character
 * codes; these properties hold it to the general path on the shapes it takes
 * and on near misses (other separators, signs, spaces, out-of-range parts).
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { anyTransactionDate, parseTransactionDate } from "../../src/rules/Dates.js"
import { anyDecimal, parseDecimal } from "../../src/rules/Money.js"

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

  it.each([
    ["2024-02-29 23:59:59", "2024-02-29"], ["2023-02-29", undefined], ["2024-03-05T24:00:00", undefined],
    ["2024-03-05 12:60:00", undefined], ["0000-01-01", undefined], ["2024-12-31", "2024-12-31"]
  ])("%j → %j", (input, expected) => expect(parseTransactionDate(input)).toBe(expected))
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

  it.each([
    ["19.99", { units: 1999n, scale: 2 }], ["5.", { units: 5n, scale: 0 }], [".5", { units: 5n, scale: 1 }],
    [".", undefined], ["", undefined], ["9999999999999999", { units: 9999999999999999n, scale: 0 }],
    ["999999999999999.9", { units: 9999999999999999n, scale: 1 }]
  ])("%s", (input, expected) => expect(parseDecimal(input)).toEqual(expected))
})
