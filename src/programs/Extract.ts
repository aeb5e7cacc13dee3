/**
 * extract_customers_csv, extract_products_json, extract_sales: each source as
 * a Stream. A source that cannot be read fails its stream with a SourceError
 * naming the file and the problem; a bad record is never an error here, it
 * flows on to the transform, which rejects it with a reason.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { JSONParser } from "@streamparser/json"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Stream from "effect/Stream"
import { CUSTOMER_COLUMNS } from "../rules/Customers.js"
import { SALE_COLUMNS } from "../rules/Sales.js"
import { SourceError } from "../schema/Errors.js"
import { describePlatformError, readCsv, readCsvThrough, type CsvItem, type CsvPart } from "./Csv.js"

export const extractCustomers = (path: string) => readCsv(path, "customers", CUSTOMER_COLUMNS)

/** extractCustomers with `through` applied to each chunk of records where it is read (Csv.readCsvThrough). */
export const extractCustomersThrough = <B>(path: string, through: (items: Chunk.Chunk<CsvItem>) => Chunk.Chunk<B>) =>
  readCsvThrough(path, "customers", CUSTOMER_COLUMNS, through)

/** The sales CSV: the contract's columns, and `status` when present (absent: all completed). */
export const extractSalesCsv = (path: string): Stream.Stream<CsvItem, SourceError, FileSystem.FileSystem> =>
  extractSalesCsvThrough(path, identity<Chunk.Chunk<CsvItem>>)

/** extractSalesCsv with `through` applied to each chunk of records where it is read (Csv.readCsvThrough). */
export const extractSalesCsvThrough = <B>(path: string, through: (items: Chunk.Chunk<CsvItem>) => Chunk.Chunk<B>, part?: CsvPart) =>
  readCsvThrough(path, "sales", SALE_COLUMNS, through, part)

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
  return `${message.replace(/ in JSON at position \d+.*$/, "").replace(/ \(line \d+ column \d+\)$/, "")} at line ${line}, column ${column}`
}

export interface ProductsDocument {
  /** The products, streamed: the document is never held whole in memory. */
  readonly products: Stream.Stream<ProductItem, SourceError>
  /** The document's `metadata` (null when absent); known once `products` has run. */
  readonly metadata: Effect.Effect<unknown>
}

const CHUNK_SIZE = 1024 * 1024
/** Up to this size a broken document is parsed again whole, for an exact line and column. */
const EXACT_POSITION_LIMIT = 64 * 1024 * 1024

/**
 * The products document: an object with a `products` array, or (as some
 * exports write it) the bare array, read as a stream of products.
 */
export const extractProducts = (path: string): Effect.Effect<ProductsDocument, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const failure = (reason: string, cause?: unknown) =>
      new SourceError({ source: "products", location: path, reason, transient: false, cause })
    let metadata: unknown = null

    /** What exactly is wrong with a document that streamed no products (small or broken files only). */
    const diagnose = (size: number) =>
      Effect.gen(function* () {
        if (size > EXACT_POSITION_LIMIT) return yield* failure("no products found (the document is too large to diagnose further)")
        const text = yield* fs.readFileString(path).pipe(Effect.mapError((e) => failure(describePlatformError(e), e)))
        if (text.trim().length === 0) return yield* failure("file is empty: expected a JSON object with a products array")
        const document = yield* Effect.try({
          try: () => JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown,
          catch: (e) => failure(`malformed JSON: ${positionOf(text, e instanceof Error ? e.message : String(e))}`, e)
        })
        if (Array.isArray(document)) return
        if (typeof document !== "object" || document === null || !("products" in document)) {
          return yield* failure("expected a JSON object with a 'products' array")
        }
        if (!Array.isArray((document as { products: unknown }).products)) return yield* failure("'products' is not an array")
      })

    const products = Stream.unwrap(
      Effect.gen(function* () {
        const info = yield* fs.stat(path).pipe(Effect.mapError((e) => failure(describePlatformError(e), e)))
        const size = Number(info.size)
        let parser: JSONParser | undefined
        let pending: Array<ProductItem> = []
        let count = 0
        let offset = 0
        let done = false
        let error: SourceError | undefined
        const start = (first: string) => {
          const bare = first === "["
          const p = new JSONParser({ paths: bare ? ["$.*"] : ["$.products.*", "$.metadata"], keepStack: false })
          p.onValue = ({ key, stack, value }) => {
            if (bare || stack.length === 2) {
              if (typeof key === "number") pending.push({ index: count++, value })
              else error ??= failure("'products' is not an array")
            } else if (key === "metadata") metadata = value
          }
          p.onEnd = () => {
            done = true
          }
          // Also after the document ends: text after it (a second document appended) is malformed,
          // not ignored with whatever it holds. Whitespace after it is fine.
          p.onError = (e) => {
            error ??= failure(`malformed JSON in bytes ${offset}–${offset + CHUNK_SIZE}: ${e.message}`, e)
          }
          return p
        }
        const feed = (bytes: Uint8Array) =>
          Effect.suspend(() => {
            if (parser === undefined) {
              let text = new TextDecoder().decode(bytes.subarray(0, 64)).replace(/^\uFEFF/, "").trimStart()
              if (text.length === 0 && bytes.length < 64) text = " "
              parser = start(text[0] ?? "{")
              if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3)
            }
            parser.write(bytes)
            offset += bytes.length
            if (error !== undefined) return reportError
            const out = pending
            pending = []
            return Effect.succeed(Chunk.unsafeFromArray(out))
          })
        // A syntax error found while streaming: a small file is parsed again for the exact line and column.
        const reportError = Effect.suspend(() =>
          (size <= EXACT_POSITION_LIMIT ? diagnose(size) : Effect.void).pipe(Effect.zipRight(Effect.fail(error!))))
        const finish = Effect.suspend(() => {
          if (parser !== undefined && !done && error === undefined) {
            try {
              parser.end()
            } catch (e) {
              error ??= failure(`malformed JSON: the document ends early (${e instanceof Error ? e.message : String(e)})`, e)
            }
          }
          const out = Chunk.unsafeFromArray(pending)
          pending = []
          return Effect.succeed(out)
        })
        const settle = Effect.suspend(() =>
          error !== undefined
            ? reportError
            : count === 0 ? diagnose(size).pipe(Effect.as(Chunk.empty<ProductItem>()))
            : Effect.succeed(Chunk.empty<ProductItem>())
        )
        return fs.stream(path, { chunkSize: CHUNK_SIZE }).pipe(
          Stream.mapError((e) => failure(describePlatformError(e), e)),
          Stream.mapChunksEffect((chunks) =>
            Effect.map(Effect.forEach(chunks, feed), (parts) => Chunk.flatten(Chunk.unsafeFromArray(parts)))),
          Stream.concat(Stream.fromEffect(finish).pipe(Stream.flattenChunks)),
          Stream.concat(Stream.fromEffect(settle).pipe(Stream.flattenChunks))
        )
      })
    )
    return { products, metadata: Effect.sync(() => metadata) }
  })
