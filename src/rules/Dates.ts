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

/** A transaction date: an accepted date, optionally followed by a time of day. */
export const parseTransactionDate = (raw: string): string | undefined => {
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
