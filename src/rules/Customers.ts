/**
 * `standardize_customer_data`: the customer rules of business-rules.md, one
 * pure function each.
 */
import type { CustomerRow } from "../schema/Records.js"
import { refuse, type Refusal } from "../schema/Reject.js"
import { parseRegistrationDate } from "./Dates.js"
import { formatFlags } from "./Flags.js"
import { cleanText, titleCase, trimmed } from "./Text.js"

/** The customer columns as read from `customers.csv`. */
export interface RawCustomer {
  readonly customer_id: string
  readonly first_name: string
  readonly last_name: string
  readonly email: string
  readonly phone: string
  readonly address: string
  readonly segment: string
  readonly registration_date: string
}

export const CUSTOMER_COLUMNS = [
  "customer_id",
  "first_name",
  "last_name",
  "email",
  "phone",
  "address",
  "segment",
  "registration_date"
] as const satisfies ReadonlyArray<keyof RawCustomer>

const EMAIL = /^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/

/** Trimmed, collapsed, Title Case; `null` when empty. */
export const standardizeName = (raw: string): string | null => {
  const text = cleanText(raw)
  return text === undefined ? null : titleCase(text)
}

export const fullName = (first: string | null, last: string | null): string | null =>
  first !== null && last !== null ? `${first} ${last}` : (first ?? last)

export interface Email {
  readonly email: string | null
  readonly valid: boolean
  readonly flag: "invalid_email" | "missing_email" | null
}

export const standardizeEmail = (raw: string): Email => {
  const email = raw.trim().toLowerCase()
  if (email.length === 0) return { email: null, valid: false, flag: "missing_email" }
  const valid = EMAIL.test(email)
  return { email, valid, flag: valid ? null : "invalid_email" }
}

export interface Phone {
  readonly phone: string | null
  readonly flag: "invalid_phone" | "missing_phone" | null
}

/** Digits only; 11 starting with 1 drops the 1; 10 → `(XXX) XXX-XXXX`; 7 → `XXX-XXXX`. */
export const standardizePhone = (raw: string): Phone => {
  if (raw.trim().length === 0) return { phone: null, flag: "missing_phone" }
  let digits = raw.replace(/\D/g, "")
  if (digits.length === 11 && digits.startsWith("1")) digits = digits.slice(1)
  if (digits.length === 10) {
    return { phone: `(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`, flag: null }
  }
  if (digits.length === 7) return { phone: `${digits.slice(0, 3)}-${digits.slice(3)}`, flag: null }
  return { phone: null, flag: "invalid_phone" }
}

const SEGMENT_ALIASES: Readonly<Record<string, string>> = {
  standard: "Standard",
  std: "Standard",
  premium: "Premium",
  prem: "Premium",
  basic: "Basic",
  bsc: "Basic",
  vip: "VIP",
  "v.i.p.": "VIP"
}

/** The segment as given, matched against its aliases; anything else in Title Case. */
export const baseSegment = (raw: string): string | null => {
  const text = cleanText(raw)
  if (text === undefined) return null
  return SEGMENT_ALIASES[text.toLowerCase()] ?? titleCase(text)
}

export interface SegmentInput {
  readonly name: string | null
  readonly email: string | null
  readonly emailValid: boolean
  readonly baseSegment: string | null
  readonly phone: string | null
  readonly address: string | null
  readonly registrationDate: string | null
}

/** The enhanced segment: the first rule that matches wins. */
export const enhancedSegment = (c: SegmentInput): string => {
  if (c.name === null || c.email === null || !c.emailValid || c.baseSegment === null) return "Incomplete Profile"
  if (c.baseSegment === "Premium" && c.phone !== null) return "Premium Plus"
  if (c.baseSegment === "Standard" && c.phone !== null && c.address !== null && c.registrationDate !== null) {
    return "Standard Plus"
  }
  return c.baseSegment
}

/** One raw customer row to its warehouse row, or the reason it cannot be loaded. */
export const standardizeCustomer = (raw: RawCustomer): CustomerRow | Refusal => {
  const customerId = trimmed(raw.customer_id)
  if (customerId === undefined) return refuse("missing_key", "customer_id is empty")
  const flags: Array<string> = []
  const firstName = standardizeName(raw.first_name)
  const lastName = standardizeName(raw.last_name)
  const name = fullName(firstName, lastName)
  const email = standardizeEmail(raw.email)
  if (email.flag !== null) flags.push(email.flag)
  const phone = standardizePhone(raw.phone)
  if (phone.flag !== null) flags.push(phone.flag)
  const address = cleanText(raw.address) ?? null
  const base = baseSegment(raw.segment)
  let registrationDate: string | null = null
  if (raw.registration_date.trim().length > 0) {
    registrationDate = parseRegistrationDate(raw.registration_date) ?? null
    if (registrationDate === null) flags.push("invalid_registration_date")
  }
  return {
    customer_id: customerId,
    first_name: firstName,
    last_name: lastName,
    name,
    email: email.email,
    email_valid: email.valid ? 1 : 0,
    phone: phone.phone,
    address,
    base_segment: base,
    segment: enhancedSegment({
      name,
      email: email.email,
      emailValid: email.valid,
      baseSegment: base,
      phone: phone.phone,
      address,
      registrationDate
    }),
    registration_date: registrationDate,
    quality_flags: formatFlags(flags)
  }
}
