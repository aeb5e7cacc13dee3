import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import {
  baseSegment, enhancedSegment, standardizeCustomer, standardizeEmail, standardizeName, standardizePhone, type RawCustomer
} from "../../src/rules/Customers.js"
import { parseRegistrationDate, parseTransactionDate } from "../../src/rules/Dates.js"
import { titleCase } from "../../src/rules/Text.js"

const raw = (over: Partial<RawCustomer> = {}): RawCustomer => ({
  customer_id: "C1", first_name: "Ann", last_name: "Lee", email: "ann@example.com", phone: "555-123-4567",
  address: "1 Main St", segment: "Standard", registration_date: "2024-01-15", ...over
})

describe("names", () => {
  it.each([
    ["JOHN", "John"], ["jane   doe", "Jane Doe"], ["o'BRIEN", "O'Brien"], ["mary-jane", "Mary-Jane"],
    ["  ana \t lima ", "Ana Lima"], ["", null], ["   ", null]
  ])("%j → %j", (input, expected) => expect(standardizeName(input)).toBe(expected))

  it.prop("title case is idempotent", [fc.string({ unit: "grapheme" })], ([s]) => {
    expect(titleCase(titleCase(s))).toBe(titleCase(s))
  })
})

describe("email", () => {
  it.each([
    ["John.Smith@Example.COM", "john.smith@example.com", true, null],
    ["  a.b+c@sub.example.co.uk ", "a.b+c@sub.example.co.uk", true, null],
    ["bob@example", "bob@example", false, "invalid_email"],
    ["no-at-sign.com", "no-at-sign.com", false, "invalid_email"],
    ["x@y.c", "x@y.c", false, "invalid_email"],
    ["", null, false, "missing_email"]
  ])("%j", (input, email, valid, flag) => expect(standardizeEmail(input)).toEqual({ email, valid, flag }))
})

describe("phone", () => {
  it.each([
    ["5551234", "555-1234", null],
    ["555-1234", "555-1234", null],
    ["(555) 123-4567", "(555) 123-4567", null],
    ["555.123.4567", "(555) 123-4567", null],
    ["1-555-123-4567", "(555) 123-4567", null],
    ["+1 (555) 123-4567", "(555) 123-4567", null],
    ["25551234567", null, "invalid_phone"],
    ["12345", null, "invalid_phone"],
    ["abc", null, "invalid_phone"],
    ["", null, "missing_phone"]
  ])("%j → %j", (input, phone, flag) => expect(standardizePhone(input)).toEqual({ phone, flag }))

  it.prop("output is (XXX) XXX-XXXX, XXX-XXXX or null", [fc.string()], ([s]) => {
    const { phone } = standardizePhone(s)
    expect(phone === null || /^\(\d{3}\) \d{3}-\d{4}$/.test(phone) || /^\d{3}-\d{4}$/.test(phone)).toBe(true)
  })
})

describe("segments", () => {
  it.each([
    ["standard", "Standard"], ["STD", "Standard"], ["premium", "Premium"], ["prem", "Premium"], ["basic", "Basic"],
    ["bsc", "Basic"], ["vip", "VIP"], ["V.I.P.", "VIP"], ["gold tier", "Gold Tier"], ["", null]
  ])("%j → %j", (input, expected) => expect(baseSegment(input)).toBe(expected))

  const complete = { name: "A B", email: "a@b.co", emailValid: true, baseSegment: "Standard", phone: "555-1234", address: "x", registrationDate: "2024-01-01" }
  it.each([
    [{ name: null }, "Incomplete Profile"],
    [{ email: null, emailValid: false }, "Incomplete Profile"],
    [{ emailValid: false }, "Incomplete Profile"],
    [{ baseSegment: null }, "Incomplete Profile"],
    [{ baseSegment: "Premium" }, "Premium Plus"],
    [{ baseSegment: "Premium", phone: null }, "Premium"],
    [{}, "Standard Plus"],
    [{ address: null }, "Standard"],
    [{ registrationDate: null }, "Standard"],
    [{ baseSegment: "VIP" }, "VIP"]
  ])("%j → %s", (over, expected) => expect(enhancedSegment({ ...complete, ...over })).toBe(expected))
})

describe("dates", () => {
  it.each([
    ["2024-01-15", "2024-01-15"], ["2024/01/15", "2024-01-15"], ["01/15/2024", "2024-01-15"], ["1/5/2024", "2024-01-05"],
    ["2024-01-15T10:30", "2024-01-15"], ["2024-01-15T10:30:59Z", "2024-01-15"],
    ["2024-02-29", "2024-02-29"], ["2023-02-29", undefined], ["2000-02-29", "2000-02-29"], ["1900-02-29", undefined],
    ["2024-02-30", undefined], ["2024-13-01", undefined], ["99999-01-01", undefined], ["yesterday", undefined],
    ["2024-01-15 10:30", undefined], ["2024-01-15T25:00", undefined]
  ])("registration %j → %j", (input, expected) => expect(parseRegistrationDate(input)).toBe(expected))

  it.each([
    ["2025-03-04 11:43:35", "2025-03-04"], ["2024-03-02T14:00:00Z", "2024-03-02"], ["03/04/2024 9:05", "2024-03-04"],
    ["2024-03-04T11:43:35.123+02:00", "2024-03-04"], ["2024-13-45", undefined], ["2024-03-04 24:00", undefined]
  ])("transaction %j → %j", (input, expected) => expect(parseTransactionDate(input)).toBe(expected))
})

describe("standardizeCustomer", () => {
  it("rejects an empty customer_id as missing_key", () => {
    expect(standardizeCustomer(raw({ customer_id: "  " }))).toMatchObject({ _tag: "Refusal", category: "missing_key" })
  })

  it("flags every problem, sorted, without rejecting", () => {
    const row = standardizeCustomer(raw({ email: "bad", phone: "", registration_date: "2024-02-30" }))
    expect(row).toMatchObject({
      email: "bad", email_valid: 0, phone: null, registration_date: null, segment: "Incomplete Profile",
      quality_flags: "invalid_email,invalid_registration_date,missing_phone"
    })
  })

  it("joins the names that exist", () => {
    expect(standardizeCustomer(raw({ first_name: "", last_name: "SMITH" }))).toMatchObject({ first_name: null, name: "Smith" })
    expect(standardizeCustomer(raw({ first_name: "", last_name: "" }))).toMatchObject({ name: null, segment: "Incomplete Profile" })
  })

  it("leaves an empty registration date NULL without a flag", () => {
    expect(standardizeCustomer(raw({ registration_date: "" }))).toMatchObject({ registration_date: null, quality_flags: null, segment: "Standard" })
  })
})
