/**
 * Calendar dates as the data contract accepts them: `YYYY-MM-DD`,
 * `YYYY/MM/DD`, `MM/DD/YYYY`, `M/D/YYYY` and an ISO timestamp
 * `YYYY-MM-DDTHH:MM[:SS][Z]`; transactions may carry any time of day.
 * Results are `YYYY-MM-DD` strings: a date has no time zone to get wrong.
 */

const YMD = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/
const MDY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/
const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z?$/
const WITH_TIME = /^([^\sT]+)(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export const isLeapYear = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

/** `true` when year, month and day name a real day of the Gregorian calendar. */
export const isCalendarDate = (year: number, month: number, day: number): boolean => {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false
  const max = month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!
  return day <= max
}

const pad2 = (n: number) => (n < 10 ? "0" + n : String(n))

const fromParts = (y: string, m: string, d: string): string | undefined => {
  const year = Number(y)
  const month = Number(m)
  const day = Number(d)
  return isCalendarDate(year, month, day) ? `${y}-${pad2(month)}-${pad2(day)}` : undefined
}

const validTime = (h: string | undefined, min: string | undefined, s: string | undefined): boolean =>
  (h === undefined || Number(h) < 24) && (min === undefined || Number(min) < 60) && (s === undefined || Number(s) < 60)

const parseDay = (text: string): string | undefined => {
  let m = YMD.exec(text)
  if (m !== null) return fromParts(m[1]!, m[2]!, m[3]!)
  m = MDY.exec(text)
  if (m !== null) return fromParts(m[3]!, m[1]!, m[2]!)
  return undefined
}

/** A customer's registration date: one of the accepted formats, or `undefined`. */
export const parseRegistrationDate = (raw: string): string | undefined => {
  const text = raw.trim()
  const m = ISO_TIMESTAMP.exec(text)
  if (m !== null) return validTime(m[4], m[5], m[6]) ? fromParts(m[1]!, m[2]!, m[3]!) : undefined
  return parseDay(text)
}

const digit = (text: string, at: number): number => {
  const c = text.charCodeAt(at) - 48
  return c >= 0 && c <= 9 ? c : -1
}
/** The number written by two digits at `at`, or -1. */
const twoDigits = (text: string, at: number): number => {
  const a = digit(text, at)
  const b = digit(text, at + 1)
  return a < 0 || b < 0 ? -1 : a * 10 + b
}

/**
 * The common shapes `YYYY-MM-DD` and `YYYY-MM-DD HH:MM:SS` (or `T` between)
 * read by character codes, with the same answer as the general path below:
 * a million rows a run spend no regular expression or allocation on them.
 * `null` when the text has another shape (the general path decides).
 */
const commonTransactionDate = (text: string): string | undefined | null => {
  if (text.length !== 10 && text.length !== 19) return null
  // Rows come in date order: the day of the row before, already checked, when it is this one's
  // (returned instead of a copy, and its digits not read again).
  const sameDay = lastDay !== "" && text.startsWith(lastDay)
  let c1 = 0
  let c2 = 0
  let month = 0
  let day = 0
  if (!sameDay) {
    c1 = twoDigits(text, 0)
    c2 = twoDigits(text, 2)
    if (c1 < 0 || c2 < 0 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null
    month = twoDigits(text, 5)
    day = twoDigits(text, 8)
    if (month < 0 || day < 0) return null
  }
  if (text.length === 19) {
    const sep = text.charCodeAt(10)
    if ((sep !== 32 && sep !== 84) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return null
    const h = twoDigits(text, 11)
    const min = twoDigits(text, 14)
    const s = twoDigits(text, 17)
    if (h < 0 || min < 0 || s < 0) return null
    if (h >= 24 || min >= 60 || s >= 60) return undefined
  }
  if (sameDay) return lastDay
  if (!isCalendarDate(c1 * 100 + c2, month, day)) return undefined
  return (lastDay = text.length === 10 ? text : text.slice(0, 10))
}
let lastDay = ""

/** A transaction date: an accepted date, optionally followed by a time of day. */
export const parseTransactionDate = (raw: string): string | undefined => {
  const common = commonTransactionDate(raw)
  return common !== null ? common : anyTransactionDate(raw)
}

/** parseTransactionDate for every accepted shape (a test holds the common shapes' path to it). */
export const anyTransactionDate = (raw: string): string | undefined => {
  const m = WITH_TIME.exec(raw.trim())
  if (m === null) return undefined
  if (!validTime(m[2], m[3], m[4])) return undefined
  return parseDay(m[1]!)
}

/** `YYYY-MM-DD` of a strict ISO date (as given on the command line), or `undefined`. */
export const parseIsoDay = (text: string): string | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  return m === null ? undefined : fromParts(m[1]!, m[2]!, m[3]!)
}
