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
 * SPLIT_READ=auto (the default) splits a file of SPLIT_AUTO_BYTES or more; `on`
 * any file, `off` none. On this project's two-core bench machine (a VM) two busy
 * threads each run at about 60% of one alone, whichever the work: two runs of
 * half the file each, as separate processes, took 14-17 s together against
 * 9-10.5 s alone. So the split pays only on a large file: at 1M transactions
 * 4-9% faster than one thread, for about 50 MB more at the peak (the worker's
 * heap, its young generation kept small: LIMITS).
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { closeSync, openSync, readSync, statSync } from "node:fs"
import type { Worker } from "node:worker_threads"
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
 * The share of the file this thread reads. Its rows cost more here (each batch's rejects and
 * counts go through the run's services) and it takes the side file in after, but the worker's
 * young generation is smaller (LIMITS). 1M, the worker started ahead, alternating runs: with
 * 0.45 this thread waited about 0.3 s at the cut, with 0.5 0.14 s, with 0.55 the worker 0.27 s;
 * 0.5 faster than 0.45 in 3 of 5 pairs (medians 5.52 s against 5.95).
 */
const SHARE = 0.5

/** What the worker is given when it starts: its part of the file. */
export interface SplitPart {
  readonly path: string
  /** Where its part starts: a line's start. */
  readonly at: number
  /** The file's header record. */
  readonly header: ReadonlyArray<string>
}

/** What the worker is sent once the dimensions are loaded, before it reads a row. */
export interface SplitInput {
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
 * The worker's heap. Old generation: a batch or two live at a time (V8 flags win over a worker's
 * limits, so in the command's bundle its --max-old-space-size applies instead). Young generation:
 * 24 MB, semi-spaces of 8 MB against the run's thread's 16 (V8 rounds them to a power of two, so
 * 32 is 48). The command sets no --max-semi-space-size, which would override this too. 1M, the
 * run's peak, alternating runs: 185-193 MB against 204-212 with 48 (V8's default), the run about
 * 4% slower than with 48 (5.81 s against 5.56, four pairs) and 4-9% faster than one thread.
 */
const LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 24 }

/**
 * SPLIT_READ=auto splits a file of at least this size. Below it the worker's start (its bundle,
 * the line count up to the cut) and taking its part in cost what the second core gives: on this
 * project's two-core machine, alternating runs, 1M transactions (78 MB) 4-9% faster split, 750k
 * (59 MB) 5% slower, 500k 2% slower, 300k and 100k 10% and 26% slower.
 */
export const SPLIT_AUTO_BYTES = 64 * 1024 * 1024

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
  /** A file smaller than this is read by this thread alone. */
  readonly minBytes: number
  /**
   * The worker started ahead (startSplit), or none when startSplit found nothing to split. When
   * undefined, it is started here.
   */
  readonly started?: Option.Option<SplitStart> | undefined
  readonly window: DateWindow
  readonly costs: ReadonlyMap<string, string | null>
  readonly commissionRate: Money.Decimal
  readonly batchSize: number
}

/**
 * Sets the worker (`plan.started`, or one started here: startSplit) reading the second part of
 * `plan.path` and returns the part of the file this thread reads (CsvPart: up to the cut, and on
 * past it if the worker's part is not taken) and `finish`, to run once everything this thread
 * read is written: it takes the side file in. None when no worker was started (startSplit).
 */
export const splitSalesRead = (
  plan: SplitPlan,
  side: SideLoad
): Effect.Effect<Option.Option<{ readonly part: CsvPart; readonly finish: Effect.Effect<void, WarehouseError> }>, never, Scope.Scope | Metrics> =>
  Effect.gen(function* () {
    const metrics = yield* Metrics
    const started = plan.started ?? (yield* startSplit(plan.path, plan.minBytes))
    if (Option.isNone(started)) return Option.none()
    const { at, messages, size, worker } = started.value
    worker.postMessage({
      window: plan.window,
      costs: [...plan.costs],
      commissionRate: Money.formatDecimal(plan.commissionRate),
      batchSize: plan.batchSize, file: side.file, customers: side.customers, products: side.products
    } satisfies SplitInput)
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

/** A worker started on its part of the file, waiting for its SplitInput. */
export interface SplitStart {
  readonly at: number
  readonly size: number
  readonly worker: Worker
  readonly messages: Queue.Queue<FromSplitThread>
}

/**
 * Finds the cut of `path` and starts the worker on the part after it: it loads its code and counts
 * the lines before its part, then waits for its SplitInput (splitSalesRead sends it). Started while
 * the dimensions load, its start is off the sales' path: the second core is idle then. None, having
 * started nothing, when the machine has one core, the file is smaller than `minBytes`, or no cut is
 * found (a file of one line, a header without the sales columns). Terminated when the scope closes.
 */
export const startSplit = (path: string, minBytes: number): Effect.Effect<Option.Option<SplitStart>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const found = yield* Effect.sync(() => {
      const size = statSync(path).size
      if (availableParallelism() < 2 || size < minBytes) return undefined
      const header = headerOf(path)
      if (header === undefined || !SALE_COLUMNS.every((c) => header.fields.some((f) => f.trim().toLowerCase() === c))) return undefined
      const at = cutOf(path, size, header.end)
      return at === undefined ? undefined : { size, header: header.fields, at }
    }).pipe(Effect.catchAllDefect(() => Effect.succeed(undefined)))
    if (found === undefined) return Option.none()
    const { at, header, size } = found
    const script = yield* splitScript
    const messages = yield* Queue.unbounded<FromSplitThread>()
    const worker = yield* startThread<FromSplitThread>(script, { path, at, header } satisfies SplitPart, LIMITS, (m) => messages.unsafeOffer(m), (reason) =>
      messages.unsafeOffer({ _tag: "Failed", reason }))
    return Option.some({ at, size, worker, messages })
  })
