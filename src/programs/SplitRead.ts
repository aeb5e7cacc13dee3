/**
 * A large sales CSV loaded by two threads at once, for a direct first load into
 * a SQLite file. The file is cut at a line's start near its middle: this thread
 * reads and writes the first part into the warehouse as usual, while a worker
 * (SplitReadWorker) reads the second part through the same rules and writes what
 * the direct load would into a side file beside the warehouse
 * (warehouse/SideFile). Once this thread is done, the warehouse takes the side
 * file in, in the load's transaction, as the later copies they are
 * (SideLoad.absorb). Nothing crosses between the threads row by row: earlier
 * designs that sent rows (ReadThread, a writer thread) spent on copying them
 * what the second core gave.
 *
 * Exactly what one thread would load, or the part is read here: the cut is
 * taken only if this thread's parser, on reaching it, stands between records
 * (a quoted field with a line break can span it) at the line the worker
 * started on, and the worker read its part to the end. Otherwise, or if the
 * worker fails in any way, the worker is stopped, its counts taken back and its
 * file ignored, and this thread reads on past the cut itself.
 *
 * Off unless SPLIT_READ=on. On this project's two-core bench machine (a VM) two
 * busy threads each run at about 60% of one alone, whichever the work: two runs
 * of half the file each, as separate processes, took 14-17 s together against
 * 9-10.5 s alone. At 1M transactions the split run was 12% faster (median of
 * four alternating pairs) for about 90 MB more at the peak (the worker's V8 heap
 * is sized by the command's flags), which puts it over the 200 MB the bench
 * holds the run to.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { closeSync, openSync, readSync, statSync } from "node:fs"
import { availableParallelism } from "node:os"
import * as Money from "../rules/Money.js"
import type { WarehouseError } from "../schema/Errors.js"
import { SALE_COLUMNS, type DateWindow } from "../rules/Sales.js"
import { Metrics } from "../services/Metrics.js"
import type { SideLoad } from "../services/Warehouse.js"
import type { KeySetParts } from "../services/warehouse/KeySet.js"
import type { CsvPart } from "./Csv.js"
import { makeCsvParser } from "./CsvParser.js"
import { startThread, threadScript } from "./ThreadScript.js"

/**
 * The share of the file this thread reads: less than half, as it also takes the side file in
 * after, and its rows cost more here (each batch's rejects and counts go through the run's
 * services). 1M, alternating runs: 0.45 and 0.4 alike, 0.5 slower (this thread waited).
 */
const SHARE = 0.45

/** What the worker is given. */
export interface SplitInput {
  readonly path: string
  /** Where its part starts: a line's start. */
  readonly at: number
  /** The file's header record. */
  readonly header: ReadonlyArray<string>
  readonly window: DateWindow
  /** Every product's cost as exact decimal text (null when it has none). */
  readonly costs: ReadonlyArray<readonly [string, string | null]>
  readonly commissionRate: string
  readonly batchSize: number
  /** The side file to create. */
  readonly file: string
  readonly customers: KeySetParts
  readonly products: KeySetParts
}

/** What the worker sends: a batch's counts, its end (with the line its part started on), or why it stopped. */
export type FromSplitThread =
  | {
    readonly _tag: "Batch"
    readonly read: number
    readonly rejectedBy: Readonly<Record<string, number>>
    readonly filtered: Readonly<Record<string, number>>
    readonly bytesRead: number
  }
  | { readonly _tag: "Done"; readonly line: number }
  | { readonly _tag: "Failed"; readonly reason: string }

/**
 * The worker's old generation: a batch or two live at a time. V8 flags win over a worker's limits,
 * so in the command's bundle its --max-old-space-size (and --max-semi-space-size) apply instead.
 */
const LIMITS = { maxOldGenerationSizeMb: 64 }

const READ = 1024 * 1024

/** The line number at byte `at` of `path`: 1 + the line breaks before it (CRLF, LF or CR, as CsvParser counts them). */
export const linesBefore = (path: string, at: number): number => {
  const fd = openSync(path, "r")
  try {
    const buffer = Buffer.alloc(READ)
    let breaks = 0
    // A CR ending the read before: a break of its own unless this read starts with its LF.
    let crBefore = false
    for (let offset = 0; offset < at;) {
      const n = readSync(fd, buffer, 0, Math.min(READ, at - offset), offset)
      if (n === 0) break
      if (crBefore && buffer[0] !== 10) breaks++
      for (let lf = buffer.indexOf(10); lf !== -1 && lf < n; lf = buffer.indexOf(10, lf + 1)) breaks++
      for (let cr = buffer.indexOf(13); cr !== -1 && cr < n - 1; cr = buffer.indexOf(13, cr + 1)) if (buffer[cr + 1] !== 10) breaks++
      crBefore = buffer[n - 1] === 13
      offset += n
    }
    return 1 + breaks + (crBefore ? 1 : 0)
  } finally {
    closeSync(fd)
  }
}

/** Up to 1 MiB of `path` from byte `offset`. */
const bytesAt = (path: string, offset: number): Buffer => {
  const fd = openSync(path, "r")
  try {
    const buffer = Buffer.alloc(READ)
    return buffer.subarray(0, readSync(fd, buffer, 0, READ, offset))
  } finally {
    closeSync(fd)
  }
}

/** The file's first record (its header) and where it ends; undefined when its first line is not whole within 1 MiB or not a whole record. */
const headerOf = (path: string): { readonly fields: ReadonlyArray<string>; readonly end: number } | undefined => {
  const head = bytesAt(path, 0)
  const end = head.indexOf(10) + 1
  if (end === 0) return undefined
  let fields: ReadonlyArray<string> | undefined
  makeCsvParser({ record: (f) => void (fields ??= f), broken: () => undefined }).write(new TextDecoder("utf-8").decode(head.subarray(0, end)))
  return fields === undefined ? undefined : { fields, end }
}

/** The start of the first line at or after SHARE of the file, past `after`; undefined when there is none within 1 MiB. */
const cutOf = (path: string, size: number, after: number): number | undefined => {
  const from = Math.max(after, Math.floor(size * SHARE))
  const lf = bytesAt(path, from).indexOf(10)
  return lf === -1 || from + lf + 1 >= size ? undefined : from + lf + 1
}

export interface SplitPlan {
  readonly path: string
  readonly window: DateWindow
  readonly costs: ReadonlyMap<string, string | null>
  readonly commissionRate: Money.Decimal
  readonly batchSize: number
}

/**
 * Starts the worker on the second part of `plan.path` and returns the part of the file this
 * thread reads (CsvPart: up to the cut, and on past it if the worker's part is not taken) and
 * `finish`, to run once everything this thread read is written: it takes the side file in. None,
 * having started nothing, when the machine has one core or no cut is found (a file of one line).
 */
export const splitSalesRead = (
  plan: SplitPlan,
  side: SideLoad
): Effect.Effect<Option.Option<{ readonly part: CsvPart; readonly finish: Effect.Effect<void, WarehouseError> }>, never, Scope.Scope | Metrics> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const found = yield* Effect.sync(() => {
      const size = statSync(plan.path).size
      if (availableParallelism() < 2) return undefined
      const header = headerOf(plan.path)
      if (header === undefined || !SALE_COLUMNS.every((c) => header.fields.some((f) => f.trim().toLowerCase() === c))) return undefined
      const at = cutOf(plan.path, size, header.end)
      return at === undefined ? undefined : { size, header: header.fields, at }
    }).pipe(Effect.catchAllDefect(() => Effect.succeed(undefined)))
    if (found === undefined) return Option.none()
    const { at, header, size } = found

    const script = yield* splitScript
    const messages = yield* Queue.unbounded<FromSplitThread>()
    const input: SplitInput = {
      path: plan.path, at, header, window: plan.window,
      costs: [...plan.costs],
      commissionRate: Money.formatDecimal(plan.commissionRate),
      batchSize: plan.batchSize, file: side.file, customers: side.customers, products: side.products
    }
    const worker = yield* startThread<FromSplitThread>(script, input, LIMITS, (m) => messages.unsafeOffer(m), (reason) =>
      messages.unsafeOffer({ _tag: "Failed", reason }))
    yield* Effect.logDebug(`reading ${plan.path} from byte ${at} of ${size} on a second thread`)

    // The worker's counts: rows read go to the progress as they come; the rest once its part is taken.
    let read = 0
    const rejectedBy: Record<string, number> = {}
    const filtered: Record<string, number> = {}
    let mainBytes = 0
    let workerBytes = at
    let taken: boolean | undefined
    const progress = () => metrics.bytes("sales", mainBytes + (taken === false ? 0 : workerBytes - at), size)
    const ended = yield* Deferred.make<{ readonly line: number } | { readonly reason: string }>()
    yield* Effect.forkScoped(Effect.gen(function* () {
      for (;;) {
        const m = yield* Queue.take(messages)
        if (m._tag === "Batch") {
          if (taken === false) continue
          read += m.read
          for (const [k, n] of Object.entries(m.rejectedBy)) rejectedBy[k] = (rejectedBy[k] ?? 0) + n
          for (const [k, n] of Object.entries(m.filtered)) filtered[k] = (filtered[k] ?? 0) + n
          workerBytes = m.bytesRead
          yield* metrics.read("sales", m.read)
          yield* progress()
        } else {
          if (!(yield* Deferred.isDone(ended))) yield* Effect.logDebug(`the second thread ended: ${m._tag === "Done" ? "done" : m.reason}`)
          yield* Deferred.succeed(ended, m._tag === "Done" ? { line: m.line } : { reason: m.reason })
        }
      }
    }))

    /** The worker's part is not taken: stopped, its rows read taken back, and read here instead. */
    const readHere = (why: string) =>
      Effect.gen(function* () {
        taken = false
        yield* Effect.promise(() => worker.terminate())
        yield* metrics.read("sales", -read)
        yield* Effect.logInfo(`the second thread's part of ${plan.path} is read on this thread instead: ${why}`)
        return true
      })

    const part: CsvPart = {
      pause: {
        at,
        proceed: (position) =>
          Effect.gen(function* () {
            if (!position.whole) return yield* readHere(`a quoted record runs across byte ${at}`)
            yield* Effect.logDebug(`this thread reached byte ${at}; the second thread has ${(yield* Deferred.isDone(ended)) ? "" : "not "}finished`)
            const end = yield* Deferred.await(ended)
            if ("reason" in end) return yield* readHere(end.reason)
            if (end.line !== position.line) return yield* readHere(`it started on line ${end.line}, this thread stopped on line ${position.line}`)
            taken = true
            return false
          })
      },
      progress: (bytes) => Effect.suspend(() => {
        mainBytes = bytes
        return progress()
      })
    }
    const finish = Effect.gen(function* () {
      if (taken !== true) return
      const rejected = Object.values(rejectedBy).reduce((a, b) => a + b, 0)
      const dropped = Object.values(filtered).reduce((a, b) => a + b, 0)
      yield* metrics.loaded("sales", read - rejected - dropped)
      for (const [category, n] of Object.entries(rejectedBy)) yield* metrics.rejected("sales", category, n)
      for (const [why, n] of Object.entries(filtered)) yield* metrics.filtered("sales", why, n)
      yield* side.absorb
    })
    return Option.some({ part, finish })
  })

const splitScript = threadScript("split-read", "SplitReadWorker.ts")
