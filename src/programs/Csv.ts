/**
 * A streamed RFC 4180 reader (CsvParser): quoted fields with commas, newlines
 * and doubled quotes; a leading BOM; CRLF, LF and CR mixed in one file. The
 * file is read 256 KiB at a time and parsed synchronously into chunks, so the
 * stream's backpressure bounds memory whatever the file's size.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { StringDecoder } from "node:string_decoder"
import { SourceError } from "../schema/Errors.js"
import { Metrics } from "../services/Metrics.js"
import { type CsvParser, makeCsvParser } from "./CsvParser.js"

/** The header, matched trimmed and case-insensitively; extra columns are kept for payloads. */
export interface CsvHeader {
  readonly names: ReadonlyArray<string>
  /** Position of each wanted column (lower-cased name → index). */
  readonly index: ReadonlyMap<string, number>
}

export type CsvItem =
  | {
    readonly _tag: "Row"
    readonly line: number
    readonly fields: ReadonlyArray<string>
    readonly header: CsvHeader
    /** The row's bytes were not valid UTF-8 (the decoder put U+FFFD in): loading it would corrupt text. */
    readonly invalidUtf8?: true
  }
  /** Text the parser could not split into a record (an unbalanced quote): rejected as `malformed`. */
  | { readonly _tag: "Broken"; readonly line: number; readonly raw: string; readonly reason: string; readonly header: CsvHeader }

// 256 KiB reads: at 1M sales rows the peak was 205–220 MB with 1 MiB reads (each decoded into a
// string V8 keeps in its large-object space, and parsed into one chunk of ~13,000 rows), 184–192 MB
// with 256 KiB, 190–194 MB with 64 KiB, in the same time (interleaved).
const CHUNK_SIZE = 256 * 1024

/**
 * A read is decoded and parsed 64 KiB at a time. V8 puts a string longer than 128 KiB in its
 * large-object space, where each costs about a millisecond to make: 1M sales (78 MB) decoded by
 * StringDecoder in 256 KiB pieces took 330-380 ms, in pieces of 32 to 124 KiB 9-12 ms, whatever
 * the decoder (the profile of a 1M run had 210 ms of it on the run's thread, as much on the worker's).
 */
const DECODE_SIZE = 64 * 1024

export const describePlatformError = (error: PlatformError): string => {
  if (error._tag === "SystemError") {
    switch (error.reason) {
      case "NotFound":
        return "file not found"
      case "PermissionDenied":
        return "permission denied"
      case "BadResource":
        return "not a readable file"
      default:
        return `cannot read the file (${error.reason})`
    }
  }
  return `cannot read the file (${error.message})`
}

const makeHeader = (fields: ReadonlyArray<string>): CsvHeader => {
  const index = new Map<string, number>()
  fields.forEach((name, i) => {
    const key = name.trim().toLowerCase()
    if (!index.has(key)) index.set(key, i)
  })
  return { names: fields.map((n) => n.trim()), index }
}

/**
 * Which part of a file a read takes, when not all of it: a file split between two threads
 * (SplitRead) is read from a line's start by one, and up to there by the other, which then
 * learns whether the split fell between records.
 */
export interface CsvPart {
  /** Read from byte `offset`, the start of line `line`, with the file's header record `header` (read before). */
  readonly from?: { readonly offset: number; readonly line: number; readonly header: ReadonlyArray<string> }
  /**
   * Stop at byte `at` (a line's start), and read on past it only if `proceed`, given where the
   * parser stands there, says so.
   */
  readonly pause?: { readonly at: number; readonly proceed: (position: ReturnType<CsvParser["position"]>) => Effect.Effect<boolean> }
  /** Told how far the file has been read (bytes from its start) instead of the run's Metrics. */
  readonly progress?: (read: number, total: number) => Effect.Effect<void>
}

/**
 * The records of a CSV file after its header. Fails with a SourceError when the
 * file cannot be read, is empty, or its header lacks a required column.
 */
export const readCsv = (
  path: string,
  source: string,
  required: ReadonlyArray<string>
): Stream.Stream<CsvItem, SourceError, FileSystem.FileSystem> => readCsvThrough(path, source, required, identity<Chunk.Chunk<CsvItem>>)

/**
 * readCsv with `through` applied to each chunk of records where it is parsed, so that only what
 * `through` returns leaves the step. What a step emits lives long enough to be promoted to V8's
 * old space: reading 1M sales rows alone, records emitted by the parsing step promoted 430 MB,
 * against 55-72 MB when the next step's work ran inside it. The sales CSV is parsed, put through
 * the rules and batched here (Transform.salesCsvBatches): in a 1M run, faster in 5 of 6 pairs side by side.
 */
export const readCsvThrough = <B>(
  path: string,
  source: string,
  required: ReadonlyArray<string>,
  through: (items: Chunk.Chunk<CsvItem>) => Chunk.Chunk<B>,
  part: CsvPart = {}
): Stream.Stream<B, SourceError, FileSystem.FileSystem> =>
  Stream.suspend(() => {
    const failure = (reason: string, cause?: unknown) =>
      new SourceError({ source, location: path, reason, transient: false, cause })
    let header: CsvHeader | undefined
    let headerError: SourceError | undefined
    let pending: Array<CsvItem> = []
    // UTF-8, streaming (a character split across reads is kept, a byte that is not UTF-8 becomes
    // U+FFFD), as TextDecoder does, faster (78 MB in 64 KiB pieces: 10 ms against 50). Each read is
    // decoded 64 KiB at a time (DECODE_SIZE). A leading BOM is dropped (only the file's own: a part
    // read from the middle keeps what it starts with).
    const decoder = new StringDecoder("utf8")
    let atStart = part.from === undefined
    // Once the decoder has put a U+FFFD in, rows are checked one by one; until then, not at all.
    let replaced = false
    const decode = (bytes?: Uint8Array) => {
      let text = bytes === undefined ? decoder.end() : decoder.write(bytes)
      if (atStart && text.length > 0) {
        atStart = false
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
      }
      if (!replaced && text.includes("\uFFFD")) replaced = true
      return text
    }
    const takeHeader = (fields: ReadonlyArray<string>) => {
      header = makeHeader(fields)
      const missing = required.filter((c) => !header!.index.has(c))
      if (missing.length > 0 && fields.some((f) => /[\uFFFD\x00-\x08\x0E-\x1F]/.test(f))) {
        headerError = failure("the first line is not text: the file looks binary or is not UTF-8")
      } else if (missing.length > 0) {
        const first = fields[0] ?? ""
        const delimiter = fields.length === 1 ? [";", "\t", "|"].find((d) => first.includes(d)) : undefined
        const found = header.names.join(", ")
        headerError = failure(
          `header is missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (found: ${found.length > 200 ? found.slice(0, 200) + "…" : found})` +
            (delimiter === undefined ? "" : `; the file looks delimited by ${delimiter === "\t" ? "tabs" : `'${delimiter}'`}, expected ','`)
        )
      }
    }
    if (part.from !== undefined) takeHeader(part.from.header)
    const parser = makeCsvParser({
      record: (fields, line) => {
        if (header === undefined) return takeHeader(fields)
        pending.push(replaced && fields.some((f) => f.includes("\uFFFD"))
          ? { _tag: "Row", line, fields, header, invalidUtf8: true }
          : { _tag: "Row", line, fields, header })
      },
      broken: (raw, line, reason) => {
        if (header !== undefined) pending.push({ _tag: "Broken", line, raw, reason, header })
      }
    }, part.from?.line)
    const drain = (): Effect.Effect<Chunk.Chunk<B>, SourceError> => {
      if (headerError !== undefined) return Effect.fail(headerError)
      const out = pending
      pending = []
      return Effect.succeed(through(Chunk.unsafeFromArray(out)))
    }
    const end = Effect.suspend(() => {
      parser.write(decode())
      parser.end()
      return Effect.flatMap(drain(), (chunk) =>
        header === undefined ? Effect.fail(failure("file is empty: expected a header line")) : Effect.succeed(chunk))
    })
    let bytes = part.from?.offset ?? 0
    return Stream.unwrap(
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        // Progress, when a Metrics service is present (a run); a bare read has none.
        const metrics = yield* Effect.serviceOption(Metrics)
        const progress = part.progress ?? (Option.isSome(metrics) ? (read: number, total: number) => metrics.value.bytes(source, read, total) : undefined)
        const total = progress !== undefined
          ? Number(yield* fs.stat(path).pipe(Effect.map((i) => i.size), Effect.orElseSucceed(() => 0)))
          : 0
        const read = (options: FileSystem.StreamOptions) =>
          fs.stream(path, { ...options, chunkSize: CHUNK_SIZE }).pipe(
            Stream.mapError((e) => failure(describePlatformError(e), e)),
            Stream.mapChunksEffect((buffers) =>
              Effect.suspend(() => {
                Chunk.forEach(buffers, (b) => {
                  bytes += b.length
                  for (let at = 0; at < b.length; at += DECODE_SIZE) parser.write(decode(b.subarray(at, at + DECODE_SIZE)))
                })
                return progress !== undefined ? Effect.zipRight(progress(bytes, total), drain()) : drain()
              })
            )
          )
        const pause = part.pause
        const body = pause === undefined
          ? read({ offset: bytes })
          : Stream.concat(
            read({ offset: bytes, bytesToRead: pause.at - bytes }),
            Stream.unwrap(Effect.map(Effect.suspend(() => pause.proceed(parser.position())), (on) => on ? read({ offset: pause.at }) : Stream.empty))
          )
        return body.pipe(Stream.concat(Stream.flatten(Stream.fromEffect(Effect.map(end, Stream.fromChunk)))))
      })
    )
  })

/** The value of a wanted column in a row (empty when the row is short). */
export const field = (item: { readonly fields: ReadonlyArray<string>; readonly header: CsvHeader }, column: string): string => {
  const i = item.header.index.get(column)
  return i === undefined ? "" : (item.fields[i] ?? "")
}

/** The whole row by header name, for a reject's payload. */
export const payloadOf = (item: { readonly fields: ReadonlyArray<string>; readonly header: CsvHeader }): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  item.header.names.forEach((name, i) => {
    if (i < item.fields.length) out[name] = item.fields[i]
  })
  if (item.fields.length > item.header.names.length) out["_extra_fields"] = item.fields.slice(item.header.names.length)
  return out
}
