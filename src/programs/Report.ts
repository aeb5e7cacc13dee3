/**
 * generate_summary_report: the run summary as `OUTPUT_DIR/run_<run_id>.json`,
 * the run's rejects as `OUTPUT_DIR/failed_records_<run_id>.csv`, and a short
 * aligned table on the console.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { OutputError } from "../schema/Errors.js"
import type { OpenReject, ValidationFinding } from "../services/Warehouse.js"
import type { MetricsSnapshot } from "../services/Metrics.js"
import type { Anomaly, QualityFinding } from "./Quality.js"
import type { RunMode } from "./Window.js"
import { makeDirectories } from "../services/Directories.js"

export interface RunSummary {
  readonly run_id: string
  readonly env: string
  readonly mode: RunMode
  readonly dry_run: boolean
  readonly status: "success" | "partial" | "failed" | "interrupted"
  readonly window: { readonly from: string | null; readonly to: string | null }
  readonly started_at: string
  readonly finished_at: string
  readonly duration_seconds: number
  readonly records: { readonly read: number; readonly loaded: number; readonly rejected: number; readonly filtered: number }
  readonly error_rate: number
  readonly throughput_rows_per_second: number
  readonly peak_rss_mb: number
  readonly sources: MetricsSnapshot["sources"]
  readonly changes: MetricsSnapshot["changes"]
  readonly stages: MetricsSnapshot["stages"]
  readonly validation: ReadonlyArray<ValidationFinding>
  readonly quality: ReadonlyArray<QualityFinding>
  readonly anomalies: ReadonlyArray<Anomaly>
  readonly anomaly_baseline_runs: number
  readonly failures: ReadonlyArray<string>
  readonly products_metadata: unknown
  readonly warehouse: string
  /** sha-256 (first 16 hex) of the non-secret settings, and the settings themselves. */
  readonly config: { readonly fingerprint: string; readonly settings: unknown }
  readonly files: { readonly summary: string | null; readonly failed_records: string | null }
}

const SPECIAL = /[",\r\n]/

const csvField = (value: unknown): string => {
  if (value === null || value === undefined) return ""
  const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : JSON.stringify(value)
  return SPECIAL.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

const FIXED = ["source", "record_key", "category", "reason", "location", "attempts"]
const FIXED_SET: ReadonlySet<string> = new Set(FIXED)

const payloadOf = (r: OpenReject): Record<string, unknown> => {
  try {
    const p = JSON.parse(r.payload) as unknown
    return typeof p === "object" && p !== null ? (p as Record<string, unknown>) : { value: p }
  } catch {
    return { payload: r.payload }
  }
}

/** Adds the raw columns of a set of payloads to `into`, in the order they first appear. */
const rawColumnsOf = (payloads: ReadonlyArray<Record<string, unknown>>, into: Set<string> = new Set()) => {
  for (const p of payloads) for (const c in p) if (!into.has(c) && !FIXED_SET.has(c)) into.add(c)
  return into
}

const csvHeader = (raw: Iterable<string>) => [...FIXED, ...raw].map(csvField).join(",") + "\n"
/** Each reject's line: built as one string, field by field (arrays of fields, mapped and joined, took half again as long). */
const csvLines = (rejects: ReadonlyArray<OpenReject>, payloads: ReadonlyArray<Record<string, unknown>>, raw: ReadonlyArray<string>) => {
  let out = ""
  for (let i = 0; i < rejects.length; i++) {
    const r = rejects[i]!
    const p = payloads[i]!
    let line = `${csvField(r.source)},${csvField(r.recordKey)},${csvField(r.category)},${csvField(r.reason)},${csvField(r.location)},${csvField(r.attempts)}`
    for (const c of raw) line += `,${csvField(p[c])}`
    out += `${line}\n`
  }
  return out
}

/** The failed-records CSV: fixed columns, then every raw field any reject carried. */
export const failedRecordsCsv = (rejects: ReadonlyArray<OpenReject>): string => {
  const payloads = rejects.map(payloadOf)
  const raw = [...rawColumnsOf(payloads)]
  return csvHeader(raw) + csvLines(rejects, payloads, raw)
}

const writeFile = (path: string, content: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const dir = path.slice(0, Math.max(0, path.lastIndexOf("/")))
    if (dir !== "") yield* makeDirectories(fs, dir)
    yield* fs.writeFileString(path, content)
  }).pipe(Effect.mapError((e) => new OutputError({ path, reason: e.message, cause: e })))

export const writeSummary = (outputDir: string, summary: RunSummary) =>
  writeFile(`${outputDir}/run_${summary.run_id}.json`, JSON.stringify(summary, null, 2) + "\n")

// 1,000 rejects a page: with 5,000, writing 10M's 304,000 rejects was the run's peak (the young
// generation, shrunk while SQLite merged, grew back under pages of parsed payloads: 182 MB, against
// 163 MB at that point with 1,000; no slower).
const PAGE = 1000

const QUOTE = 0x22
const NEWLINE = 0x0a
const utf8 = new TextEncoder()

/**
 * CSV text of records `extra` fields short, with an empty field added at the end of each: a
 * record ends at a line break outside quotes (csvField quotes a field that holds one). Fed the
 * text in chunks, from the start of a record.
 */
export const padRecords = (extra: number) => {
  const pad = utf8.encode(",".repeat(extra))
  let quoted = false
  return (chunk: Uint8Array): Uint8Array => {
    const pieces: Array<Uint8Array> = []
    let from = 0
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!
      if (byte === QUOTE) quoted = !quoted
      else if (byte === NEWLINE && !quoted) {
        pieces.push(chunk.subarray(from, i), pad)
        from = i
      }
    }
    if (pieces.length === 0) return chunk
    pieces.push(chunk.subarray(from))
    return Buffer.concat(pieces)
  }
}

/**
 * Writes `OUTPUT_DIR/failed_records_<run_id>.csv` from the warehouse, reading
 * it once in pages of 1,000 rejects, so a run with millions of rejects never
 * holds them all. The lines go to a part file after a header of the raw columns
 * known from the first page. When no page after it brought a column, the part
 * file is the file (renamed); otherwise the file is the whole header and the
 * part file's lines, those written before a column first appeared given an
 * empty field for it. Answers the file's path.
 */
export const writeFailedRecords = <E>(
  outputDir: string,
  runId: string,
  page: (after: number, limit: number) => Effect.Effect<ReadonlyArray<OpenReject & { readonly id: number }>, E>
) => {
  const path = `${outputDir}/failed_records_${runId}.csv`
  const part = `${path}.part`
  const failed = (e: PlatformError) => new OutputError({ path, reason: e.message, cause: e })
  return Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const raw = new Set<string>()
    // The part file's header: how many raw columns it names, and its length.
    const header = { columns: 0, bytes: 0 }
    // The part file's runs of lines of one width after its header: how many raw columns, and the byte each ends at.
    const runs: Array<{ readonly columns: number; end: number }> = []
    yield* Effect.scoped(Effect.gen(function* () {
      let file: FileSystem.File | undefined
      let bytes = 0
      for (let after = 0, more = true; more;) {
        const rows = yield* page(after, PAGE)
        const payloads = rows.map(payloadOf)
        rawColumnsOf(payloads, raw)
        const lines = utf8.encode(csvLines(rows, payloads, [...raw]))
        if (file === undefined) {
          const text = utf8.encode(csvHeader(raw))
          Object.assign(header, { columns: raw.size, bytes: text.length })
          // Makes the folder, and empties a part file an earlier attempt left.
          yield* writeFile(part, "")
          file = yield* fs.open(part, { flag: "a" }).pipe(Effect.mapError(failed))
          yield* file.writeAll(text).pipe(Effect.mapError(failed))
        }
        bytes += lines.length
        const last = runs.at(-1)
        if (last?.columns === raw.size) last.end = bytes
        else if (lines.length > 0) runs.push({ columns: raw.size, end: bytes })
        // (writeAll fails on nothing to write)
        if (lines.length > 0) yield* file.writeAll(lines).pipe(Effect.mapError(failed))
        after = rows.at(-1)?.id ?? after
        more = rows.length === PAGE
      }
    }))
    // 1M transactions: 30,000 rejects, 7 MB, renamed instead of copied line by line.
    if (raw.size === header.columns) {
      yield* fs.rename(part, path).pipe(Effect.mapError(failed))
      return path
    }
    yield* writeFile(path, csvHeader(raw))
    let start = 0
    for (const { columns, end } of runs) {
      const text = fs.stream(part, { offset: header.bytes + start, bytesToRead: end - start })
      yield* (columns === raw.size ? text : Stream.map(text, padRecords(raw.size - columns))).pipe(
        Stream.run(fs.sink(path, { flag: "a" })),
        Effect.mapError(failed)
      )
      start = end
    }
    return path
  }).pipe(
    // Gone whether the file was written or not.
    Effect.ensuring(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.remove(part)).pipe(Effect.ignore))
  )
}

/**
 * Rows as aligned columns, the first row a header. `numbers`: columns after
 * the first align right (counts); `text`: every column aligns left.
 */
export const formatTable = (rows: ReadonlyArray<ReadonlyArray<string>>, align: "numbers" | "text" = "numbers"): string => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const cell = (c: string, i: number) => (i === 0 || align === "text" ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))
  return rows.map((r) => r.map(cell).join("  ").trimEnd()).join("\n")
}
const table = formatTable

/** The aligned table printed at the end of every run. */
export const formatSummary = (s: RunSummary): string => {
  const sources = table([
    ["source", "read", "loaded", "rejected", "filtered", "status"],
    ...Object.entries(s.sources).map(([name, c]) => [
      name, String(c.read), String(c.loaded), String(c.rejected), String(c.filtered), c.status
    ])
  ])
  const changes = table([
    ["table", "inserted", "updated", "unchanged"],
    ...Object.entries(s.changes).map(([name, c]) => [name, String(c.inserted), String(c.updated), String(c.unchanged)])
  ])
  const failedChecks = s.validation.filter((v) => !v.passed)
  return [
    `Run ${s.run_id}: ${s.status.toUpperCase()}${s.dry_run ? " (dry run: nothing was written)" : ""} in ${s.duration_seconds.toFixed(2)} s`,
    `  env ${s.env}, ${s.mode}, window ${s.window.from ?? "…"} → ${s.window.to ?? "…"}, ${s.throughput_rows_per_second.toFixed(0)} rows/s, peak ${s.peak_rss_mb.toFixed(0)} MB`,
    "",
    sources,
    "",
    changes,
    "",
    failedChecks.length === 0
      ? `Validation: all ${s.validation.length} checks passed`
      : `Validation: ${failedChecks.map((v) => `${v.check}: ${v.detail}`).join("; ")}`,
    ...(s.quality.length === 0 ? [] : [
      `Quality: ${s.quality.map((q) => `${q.check} ${q.level}`).join(", ")}`,
      ...s.quality.filter((q) => q.level !== "ok").map((q) => `  ${q.level.toUpperCase()} ${q.check}: ${q.detail}`)
    ]),
    ...(s.anomalies.length === 0
      ? s.anomaly_baseline_runs === 0 || s.quality.length === 0 ? [] : [`Anomalies: none against the last ${s.anomaly_baseline_runs} successful run(s)`]
      : s.anomalies.map((a) => `Anomaly (${a.severity}): ${a.message}`)),
    ...s.failures.map((f) => `Failed: ${f}`),
    ...(s.files.summary === null ? [] : [`Summary: ${s.files.summary}`]),
    ...(s.files.failed_records === null ? [] : [`Rejects: ${s.files.failed_records}`])
  ].join("\n")
}

export const printSummary = (s: RunSummary) => Console.log(formatSummary(s))
