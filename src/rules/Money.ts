/**
 * Exact decimal arithmetic for money. Values are parsed from text into a
 * scaled BigInt (`units / 10^scale`), computed exactly, and rounded half away
 * from zero. No fraction on the path from input text to warehouse column goes
 * through a binary float: the cents path below holds whole numbers under 2^52,
 * which a double represents exactly, and hands anything larger to BigInt.
 *
 * The sale rules ran on BigInt alone until the whole run was profiled: pricing
 * a million sales took 2.0 s there (the BigInts and their text are a quarter
 * of everything a run allocates), 0.9 s through the cents path (README,
 * "Measured").
 */

export interface Decimal {
  readonly units: bigint
  readonly scale: number
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/

/**
 * The digits of plain `digits[.digits]` from index `from`, at most 15 of them
 * (every price, quantity and discount in practice), read by character codes
 * into an exact JS integer: no regular expression, no intermediate strings.
 * `-1` for any other shape, which the general paths read; plainScale says
 * where the dot was.
 */
const plainUnits = (text: string, from: number): number => {
  const length = text.length - from
  if (length === 0 || length > 16) return -1
  let units = 0
  let dot = -1
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 48 && c <= 57) units = units * 10 + (c - 48)
    else if (c === 46 && dot < 0) dot = i
    else return -1
  }
  // "." alone, and 16 digits without a dot (beyond 2^53), go the general way.
  if ((dot >= 0 && length === 1) || (dot < 0 && length === 16)) return -1
  return units
}

/** The digits after the dot of a text plainUnits read. */
const plainScale = (text: string): number => {
  const dot = text.indexOf(".")
  return dot < 0 ? 0 : text.length - dot - 1
}

const plainDecimal = (text: string): Decimal | undefined => {
  const units = plainUnits(text, 0)
  return units < 0 ? undefined : { units: BigInt(units), scale: plainScale(text) }
}

/** Parses `"199.99"`, `"-5"`, `"1e3"`, `".5"`; `undefined` for anything else. */
export const parseDecimal = (text: string): Decimal | undefined => plainDecimal(text) ?? anyDecimal(text)

/** parseDecimal for every accepted shape (a test holds the plain shape's path to it). */
export const anyDecimal = (text: string): Decimal | undefined => {
  const m = DECIMAL.exec(text.trim())
  if (m === null) return undefined
  const [, sign, int = "", frac = "", exp] = m
  if (int.length === 0 && frac.length === 0) return undefined
  let digits = int + frac
  let scale = frac.length - (exp === undefined ? 0 : Number(exp))
  if (scale < 0) {
    digits += "0".repeat(-scale)
    scale = 0
  }
  if (digits.length > 40) return undefined
  const units = BigInt(digits === "" ? "0" : digits)
  return { units: sign === "-" ? -units : units, scale }
}

/**
 * A JSON value that should be a number: a JSON number (read back through its
 * shortest round-trip text, which is the literal as written for any value of
 * up to 15 significant digits) or a numeric string.
 */
export const decimalFromJson = (value: unknown): Decimal | undefined => {
  if (typeof value === "number") return Number.isFinite(value) ? parseDecimal(String(value)) : undefined
  if (typeof value === "string") return parseDecimal(value)
  return undefined
}

const POWERS = Array.from({ length: 48 }, (_, n) => 10n ** BigInt(n))
const pow10 = (n: number): bigint => POWERS[n] ?? 10n ** BigInt(n)

/** Integer division rounding half away from zero. */
export const divRound = (n: bigint, d: bigint): bigint => {
  const q = n / d
  const r = n % d
  const twice = (r < 0n ? -r : r) * 2n
  if (twice >= (d < 0n ? -d : d)) return q + ((n < 0n) !== (d < 0n) ? -1n : 1n)
  return q
}

/** The value at `scale`, rounded half away from zero when scale shrinks. */
export const rescale = (d: Decimal, scale: number): bigint =>
  d.scale <= scale ? d.units * pow10(scale - d.scale) : divRound(d.units, pow10(d.scale - scale))

export const isNegative = (d: Decimal): boolean => d.units < 0n

export const isInteger = (d: Decimal): boolean => d.units % pow10(d.scale) === 0n

export const toInteger = (d: Decimal): bigint => d.units / pow10(d.scale)

export const compare = (a: Decimal, b: Decimal): number => {
  const s = Math.max(a.scale, b.scale)
  const x = rescale(a, s)
  const y = rescale(b, s)
  return x < y ? -1 : x > y ? 1 : 0
}

export const multiplyInt = (d: Decimal, n: bigint): Decimal => ({ units: d.units * n, scale: d.scale })

export const subtract = (a: Decimal, b: Decimal): Decimal => {
  const s = Math.max(a.scale, b.scale)
  return { units: rescale(a, s) - rescale(b, s), scale: s }
}

/** Cents → `"54.97"`, `"-0.05"`, `"0.00"`. */
export const formatCents = (cents: bigint): string => formatScaled(cents, 2)

/** A decimal in plain text with at least its own scale: `{ units: 19999n, scale: 3 }` → `"19.999"`. */
export const formatDecimal = (d: Decimal): string => formatScaled(d.units, d.scale)

const formatScaled = (units: bigint, scale: number): string => {
  const negative = units < 0n
  const digits = (negative ? -units : units).toString().padStart(scale + 1, "0")
  const int = digits.slice(0, digits.length - scale)
  const frac = scale === 0 ? "" : "." + digits.slice(digits.length - scale)
  return (negative ? "-" : "") + int + frac
}

// ---- cents in JS numbers ------------------------------------------------------
// The hot path of a sale: every value in whole cents as a JS number, exact while
// each value and product stays below 2^52 (checked at every step; the caller
// takes the BigInt path when a check fails). At 1M sales it allocates about a
// quarter less than the BigInt path and takes about half its time (README).

/** Beyond this, a product of two cents values may not be exact: take the BigInt path. */
const EXACT = 2 ** 52

/** `true` when `n` is an integer of magnitude below 2^52: sums and products checked against it stay exact. */
export const exact = (n: number): boolean => Number.isInteger(n) && n < EXACT && n > -EXACT

/**
 * Plain `digits[.d[d]]` (no sign, no exponent, at most two decimals, at most 15
 * digits) as whole cents: `"19.9"` → 1990. `-1` for any other shape.
 */
export const plainCents = (text: string): number => {
  const units = plainUnits(text, 0)
  if (units < 0) return -1
  const scale = plainScale(text)
  return scale === 2 ? units : scale === 1 ? units * 10 : scale === 0 ? units * 100 : -1
}

/** A plain whole number of at most 15 digits (`"12"`), or `-1`. */
export const plainInteger = (text: string): number => (text.indexOf(".") < 0 ? plainUnits(text, 0) : -1)

/**
 * divRound for exact integers (`exact`): `%` on JS numbers is exact, and so is
 * the division of `n − r`, a multiple of `d`.
 */
export const divRoundNumber = (n: number, d: number): number => {
  const r = n % d
  const q = (n - r) / d
  return 2 * Math.abs(r) >= Math.abs(d) ? q + ((n < 0) !== (d < 0) ? -1 : 1) : q
}

// The texts of a number of cents below 100, made once: a cent amount's text is then its whole part
// and one of these in one concatenation, not three (at 1M sales, six amounts a row).
const CENTS = Array.from({ length: 100 }, (_, c) => (c < 10 ? ".0" : ".") + c)
const SHORT_CENTS = CENTS.map((text, c) => (c === 0 ? "" : c % 10 === 0 ? text.slice(0, 2) : text))

/**
 * An amount of a fact as the rules leave it: whole cents as a JS number where the fast path priced
 * the sale exactly in numbers, its decimal text where the exact path did (or beyond 2^53 cents).
 * The text of a number is made only where text is read (Sales.writeOutAmounts): a first load into
 * SQLite binds `centsToDouble` and makes none. Six texts a fact were 6-8% of a 1M run, their
 * garbage most of it.
 */
export type Amount = number | string

/**
 * Whole cents as the double SQLite stores: `cents / 100` is the correctly rounded quotient of the
 * exact decimal, the same double toDouble gives for its text (`+ 0` turns a -0 into the 0 the text
 * "0.00" gives).
 */
export const centsToDouble = (cents: number): number => cents / 100 + 0

/** Cents → `"54.97"`, `"-0.05"`, `"0.00"`, as formatCents. */
export const centsText = (cents: number): string => {
  const abs = Math.abs(cents)
  const frac = abs % 100
  return cents < 0 ? "-" + (abs - frac) / 100 + CENTS[frac]! : (abs - frac) / 100 + CENTS[frac]!
}

/** Cents (≥ 0) → the shortest exact text, as normalize then formatDecimal: 1990 → `"19.9"`, 500 → `"5"`. */
export const shortCentsText = (cents: number): string => {
  const frac = cents % 100
  return (cents - frac) / 100 + SHORT_CENTS[frac]!
}

/**
 * A decimal's text as the nearest double, as `Number(text)` gives it, in a
 * fraction of its time for plain `[-]digits[.digits]` of at most 15 digits: the
 * digits are an exact integer, a power of ten up to 10^15 is exact, and IEEE
 * division rounds their exact quotient to the nearest double.
 */
export const toDouble = (text: string): number => {
  const negative = text.charCodeAt(0) === 45
  const units = plainUnits(text, negative ? 1 : 0)
  if (units < 0) return Number(text)
  const value = units / POWERS_OF_TEN[plainScale(text)]!
  return negative ? -value : value
}
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, n) => 10 ** n)

/** A decimal as whole cents when it has at most two decimals and is exact as a number; `undefined` otherwise. */
export const toCents = (d: Decimal): number | undefined => {
  if (d.scale > 2) return undefined
  const cents = Number(d.units) * (d.scale === 2 ? 1 : d.scale === 1 ? 10 : 100)
  return exact(cents) ? cents : undefined
}

/** Normalizes a decimal to its shortest exact text (`"19.990"` → `"19.99"`, `"5.00"` → `"5"`). */
export const normalize = (d: Decimal): Decimal => {
  let { scale, units } = d
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n
    scale -= 1
  }
  return { units, scale }
}
