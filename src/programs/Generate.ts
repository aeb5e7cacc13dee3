/**
 * `etl generate`: a deterministic synthetic data set in the input formats,
 * with a realistic share (a few percent) of every kind of dirty row the
 * business rules name. Same seed, same files, byte for byte.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { OutputError } from "../schema/Errors.js"
import { makeDirectories } from "../services/Directories.js"

/** mulberry32: small, fast, and the same on every platform. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FIRST = ["james", "MARY", "Robert", "patricia", "JOHN", "jennifer", "Michael", "linda", "o'brien", "mary-jane", "Wei", "Ana", "José", "Fatima", "Olu"]
const LAST = ["Smith", "JOHNSON", "williams", "Brown", "o'CONNOR", "garcia", "Miller", "davis", "Nguyen", "Silva", "Kowalski", "Okafor"]
const SEGMENTS = ["Premium", "premium", "PREM", "Standard", "std", "standard", "Basic", "bsc", "VIP", "v.i.p.", "Gold"]
const CATEGORIES = ["Electronics", "Tech", "technology", "Clothing", "Apparel", "fashion", "Books", "Literature", "Reading"]
const STREETS = ["Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St"]

export interface GenerateOptions {
  readonly transactions: number
  readonly outDir: string
  readonly seed: number
  /** Over how many days from 2024-01-01 the transactions spread (365 unless given). */
  readonly days?: number | undefined
}

export interface GeneratedSet {
  readonly customers: number
  readonly products: number
  readonly transactions: number
  readonly files: ReadonlyArray<string>
}

const pad = (n: number, width: number) => String(n).padStart(width, "0")
const FLUSH_BYTES = 1 << 20

export const generate = (options: GenerateOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const rand = prng(options.seed)
    const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rand() * xs.length)]!
    const chance = (p: number) => rand() < p
    const customers = Math.max(50, Math.ceil(options.transactions / 20))
    const products = Math.max(20, Math.min(5000, Math.ceil(options.transactions / 200)))
    const dir = options.outDir.replace(/\/+$/, "")
    const failed = (path: string) => (e: { message: string }) => new OutputError({ path, reason: e.message })

    yield* makeDirectories(fs, dir).pipe(Effect.mapError(failed(dir)))

    /** Writes `rows` lines produced by `line(i)`, flushing about every MiB. */
    const writeLines = (path: string, header: string, rows: number, line: (i: number) => string) =>
      Effect.gen(function* () {
        yield* fs.writeFileString(path, header + "\n").pipe(Effect.mapError(failed(path)))
        let buffer = ""
        for (let i = 0; i < rows; i++) {
          buffer += line(i) + "\n"
          if (buffer.length >= FLUSH_BYTES) {
            yield* fs.writeFileString(path, buffer, { flag: "a" }).pipe(Effect.mapError(failed(path)))
            buffer = ""
          }
        }
        if (buffer.length > 0) yield* fs.writeFileString(path, buffer, { flag: "a" }).pipe(Effect.mapError(failed(path)))
      })

    const customerId = (i: number) => `C${pad(i + 1, 7)}`
    const productId = (i: number) => `P${pad(i + 1, 5)}`
    const day = (offset: number) => {
      const d = new Date(Date.UTC(2024, 0, 1 + offset))
      return d.toISOString().slice(0, 10)
    }

    yield* writeLines(`${dir}/customers.csv`, "customer_id,first_name,last_name,email,phone,address,segment,registration_date", customers, (i) => {
      const first = pick(FIRST)
      const last = pick(LAST)
      const id = chance(0.003) ? "" : customerId(i)
      const email = chance(0.01) ? "" : `${first}.${last}${i}@${chance(0.01) ? "example" : "example.com"}`
      const phone = chance(0.01) ? "" : chance(0.01) ? "12345" : `(${200 + (i % 700)}) 555-${pad(i % 10000, 4)}`
      const date = chance(0.005) ? "2024-02-30" : chance(0.3) ? `${1 + (i % 12)}/${1 + (i % 28)}/2023` : day(i % 700)
      const address = chance(0.02) ? "" : `"${100 + (i % 9000)} ${pick(STREETS)}, Springfield"`
      if (chance(0.002)) return `${id},${first},${last}` // malformed: too few fields
      return `${id},${first},${last},${email},${phone},${address},${pick(SEGMENTS)},${date}`
    })

    const costs: Array<number> = []
    let productsJson = '{\n  "products": [\n'
    for (let i = 0; i < products; i++) {
      const cents = 199 + Math.floor(rand() * 60000)
      costs.push(Math.floor(cents * 0.6))
      const price = chance(0.005) ? -1 : cents / 100
      const category = chance(0.02) ? "Garden" : pick(CATEGORIES)
      const cost = chance(0.02) ? '"n/a"' : String(costs[i]! / 100)
      const quantity = chance(0.005) ? 2.5 : Math.floor(rand() * 300)
      productsJson += `    {"product_id": "${productId(i)}", "name": "Product ${i + 1}", "category": "${category}", ` +
        `"specifications": {"brand": "Brand ${i % 40}", "model": "M-${i}", "price": ${price}, "cost": ${cost}}, ` +
        `"inventory": {"quantity": ${quantity}, "warehouse": "WH-${pad(1 + (i % 5), 3)}"}}${i + 1 < products ? "," : ""}\n`
    }
    productsJson += `  ],\n  "metadata": {"extract_date": "2025-01-01", "version": "1.2", "generator_seed": ${options.seed}}\n}\n`
    yield* fs.writeFileString(`${dir}/products.json`, productsJson).pipe(Effect.mapError(failed(`${dir}/products.json`)))

    const perDay = Math.max(1, Math.ceil(options.transactions / (options.days ?? 365)))
    yield* writeLines(
      `${dir}/sales_transactions.csv`,
      "transaction_id,customer_id,product_id,quantity,unit_price,discount_amount,transaction_date,sales_rep_id,status",
      options.transactions,
      (i) => {
        const duplicate = i > 0 && chance(0.002)
        const id = chance(0.001) ? "" : `T${pad(duplicate ? i : i + 1, 9)}`
        const c = chance(0.005) ? `C9${pad(i, 7)}` : customerId(Math.floor(rand() * customers))
        const p = productId(Math.floor(rand() * products))
        const quantity = chance(0.003) ? 0 : 1 + Math.floor(rand() * 9)
        const priceCents = chance(0.002) ? -500 : 99 + Math.floor(rand() * 50000)
        const gross = quantity * priceCents
        const discountCents = chance(0.002) ? gross + 100 : chance(0.3) ? Math.floor(gross * 0.1) : 0
        const date = chance(0.002) ? "2024-13-45" : `${day(Math.floor(i / perDay))} ${pad(i % 24, 2)}:${pad(i % 60, 2)}:00`
        const status = chance(0.03) ? pick(["pending", "cancelled", "refunded"]) : chance(0.1) ? "Completed" : "completed"
        const row = `${id},${c},${p},${quantity},${(priceCents / 100).toFixed(2)},${(discountCents / 100).toFixed(2)},${date},REP${pad(i % 50, 3)},${status}`
        return chance(0.001) ? row + ",extra" : row
      }
    )
    return {
      customers,
      products,
      transactions: options.transactions,
      files: ["customers.csv", "products.json", "sales_transactions.csv"].map((f) => `${dir}/${f}`)
    } satisfies GeneratedSet
  })
