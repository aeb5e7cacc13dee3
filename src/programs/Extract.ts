/**
 * extract_customers_csv, extract_products_json, extract_sales: each source as
 * a Stream. A source that cannot be read fails its stream with a SourceError
 * naming the file and the problem; a bad record is never an error here, it
 * flows on to the transform, which rejects it with a reason.
 */
import { FileSystem } from "@effect/platform"
import { Chunk, Effect, Stream } from "effect"
import { CUSTOMER_COLUMNS } from "../rules/Customers.js"
import { SALE_COLUMNS } from "../rules/Sales.js"
import { SourceError } from "../schema/Errors.js"
import { describePlatformError, readCsv, type CsvItem } from "./Csv.js"

export const extractCustomers = (path: string) => readCsv(path, "customers", CUSTOMER_COLUMNS)

/** The sales CSV: the contract's columns, and `status` when present (absent: all completed). */
export const extractSalesCsv = (path: string): Stream.Stream<CsvItem, SourceError, FileSystem.FileSystem> =>
  readCsv(path, "sales", SALE_COLUMNS)

/** One element of the `products` array, with its position for error messages. */
export interface ProductItem {
  readonly index: number
  readonly value: unknown
}

/** `Unexpected token } in JSON at position 812` → `line 31, column 5`. */
const positionOf = (text: string, message: string): string => {
  const m = /position (\d+)/.exec(message)
  if (m === null) return message
  const pos = Number(m[1])
  const before = text.slice(0, pos)
  const line = before.split("\n").length
  const column = pos - before.lastIndexOf("\n")
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`
}

export interface ProductsDocument {
  readonly products: Stream.Stream<ProductItem>
  readonly metadata: unknown
}

/**
 * The products document: an object with a `products` array, or (as some
 * exports write it) the bare array. `metadata`, when present, goes to lineage.
 */
export const extractProducts = (path: string): Effect.Effect<ProductsDocument, SourceError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const failure = (reason: string, cause?: unknown) =>
      new SourceError({ source: "products", location: path, reason, transient: false, cause })
    const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => failure(describePlatformError(e), e)))
    if (text.trim().length === 0) return yield* failure("file is empty: expected a JSON object with a products array")
    const document = yield* Effect.try({
      try: () => JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown,
      catch: (e) => failure(`malformed JSON: ${positionOf(text, e instanceof Error ? e.message : String(e))}`, e)
    })
    const products = Array.isArray(document)
      ? document
      : typeof document === "object" && document !== null && Array.isArray((document as { products?: unknown }).products)
      ? (document as { products: Array<unknown> }).products
      : undefined
    if (products === undefined) {
      return yield* failure(
        typeof document === "object" && document !== null && "products" in document
          ? "'products' is not an array"
          : "expected a JSON object with a 'products' array"
      )
    }
    return {
      products: Stream.fromChunk(Chunk.unsafeFromArray(products.map((value, index) => ({ index, value })))),
      metadata: Array.isArray(document) ? null : ((document as { metadata?: unknown }).metadata ?? null)
    }
  })
