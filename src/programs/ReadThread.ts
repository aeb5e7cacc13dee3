/**
 * The sales CSV read on a second thread. A worker (ReadThreadWorker) reads the
 * file, puts every row through the rules and splits each BATCH_SIZE batch into
 * rows, rejects and filtered counts, exactly as the run's own thread would;
 * this thread only stages what arrives, so reading and writing overlap.
 *
 * The rows cross as one string per batch (encodeRows): copying outcome objects
 * between threads (structured clone) cost what the rules cost, one string and
 * a split a fraction of it. At most AHEAD batches wait unstaged, so memory
 * stays bounded whatever the file's size.
 *
 * Off unless READ_THREAD=on: on this project's two-core machine both cores are
 * already busy (the second V8 heap's garbage, encoding and decoding eat most
 * of the overlap), so it bought 4-5% at 1M and 10M for about 150 MB more, and
 * nothing at 300k and 600k; into a PostgreSQL server on the same cores it was
 * slower (1M: 36.0 s against 30.9 s).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { writeOutAmounts, type DateWindow } from "../rules/Sales.js"
import { SourceError } from "../schema/Errors.js"
import { Reject } from "../schema/Reject.js"
import { locationOf, type StagedSale } from "../services/Warehouse.js"
import type { Batch } from "./Transform.js"
import { startThread, threadScript } from "./ThreadScript.js"

/** What the worker is given. */
export interface ReadThreadInput {
  readonly path: string
  readonly window: DateWindow
  /** Every product's cost as exact decimal text (null when it has none). */
  readonly costs: ReadonlyArray<readonly [string, string | null]>
  readonly commissionRate: string
  readonly batchSize: number
  readonly ahead: number
}

type RejectFields = ConstructorParameters<typeof Reject>[0]

/** What the worker sends: a batch, the reason the file could not be read, the end, or a defect. */
export type FromReadThread =
  | {
    readonly _tag: "Batch"
    readonly read: number
    readonly count: number
    readonly rows: { readonly joined: string } | { readonly json: string }
    readonly rejects: ReadonlyArray<RejectFields>
    readonly filtered: Readonly<Record<string, number>>
    readonly bytesRead: number
    readonly bytesTotal: number
  }
  | { readonly _tag: "Failed"; readonly source: string; readonly location: string; readonly reason: string; readonly transient: boolean }
  | { readonly _tag: "Done" }
  | { readonly _tag: "Crashed"; readonly message: string }

/** Batches the worker may have sent ahead of the one being staged. */
const AHEAD = 2

/**
 * The worker's old generation: a few batches live at a time, so garbage never needs to pile up
 * past this. Its young generation is V8's default, as the run's thread's (semi-spaces of 16 MB);
 * the rules' garbage dies there.
 */
const LIMITS = { maxOldGenerationSizeMb: 64 }

/**
 * Rows on the wire: every value of every row joined by one separator, 14 a row,
 * null as "" (no staged sale has an empty text: ids and prices are never empty,
 * and an absent sales_rep_id, cost or margin is null). JSON.parse of the same
 * rows took five times as long on the run's thread. A batch with the
 * separator inside a value goes as JSON instead.
 */
const SEPARATOR = "\x1f"
const WIDTH = 14

/** Whether a text of the row could hold the separator (the rest are made by the rules). */
const holdsSeparator = (s: StagedSale): boolean =>
  s.transaction_id.includes(SEPARATOR) || s.customer_id.includes(SEPARATOR) || s.product_id.includes(SEPARATOR) ||
  (s.sales_rep_id?.includes(SEPARATOR) ?? false) || (locationOf(s)?.includes(SEPARATOR) ?? false)

const asArray = (s: StagedSale) => [
  s.transaction_id, s.customer_id, s.product_id, s.quantity, s.unit_price, s.discount_amount, s.total_amount,
  s.cost_amount, s.profit_margin, s.commission, s.value_tier, s.transaction_date, s.sales_rep_id, locationOf(s)
]

const encodeRows = (rows: ReadonlyArray<StagedSale>): { readonly joined: string } | { readonly json: string } => {
  // The amounts cross as their texts.
  for (const row of rows) writeOutAmounts(row)
  // Concatenated, not pushed and joined: half the time, measured.
  let joined = ""
  for (let r = 0; r < rows.length; r++) {
    const s = rows[r]!
    if (holdsSeparator(s)) return { json: JSON.stringify(rows.map(asArray)) }
    joined += (r === 0 ? "" : SEPARATOR) + s.transaction_id + SEPARATOR + s.customer_id + SEPARATOR + s.product_id + SEPARATOR +
      s.quantity + SEPARATOR + s.unit_price + SEPARATOR + s.discount_amount + SEPARATOR + s.total_amount + SEPARATOR +
      (s.cost_amount ?? "") + SEPARATOR + (s.profit_margin ?? "") + SEPARATOR + s.commission + SEPARATOR + s.value_tier +
      SEPARATOR + s.transaction_date + SEPARATOR + (s.sales_rep_id ?? "") + SEPARATOR + (locationOf(s) ?? "")
  }
  return { joined }
}

type Row = [
  string, string, string, number, string, string, string, string | null, string | null, string, StagedSale["value_tier"], string,
  string | null, string | null
]

const decodeRows = (rows: { readonly joined: string } | { readonly json: string }, count: number): Array<StagedSale> => {
  if ("json" in rows) {
    return (JSON.parse(rows.json) as Array<Row>).map((r) => ({
      transaction_id: r[0], customer_id: r[1], product_id: r[2], quantity: r[3], unit_price: r[4], discount_amount: r[5],
      total_amount: r[6], cost_amount: r[7], profit_margin: r[8], commission: r[9], value_tier: r[10], transaction_date: r[11],
      sales_rep_id: r[12], location: r[13]
    }))
  }
  const out = new Array<StagedSale>(count)
  if (count === 0) return out
  const v = rows.joined.split(SEPARATOR)
  for (let r = 0, i = 0; r < count; r++, i += WIDTH) {
    out[r] = {
      transaction_id: v[i]!, customer_id: v[i + 1]!, product_id: v[i + 2]!, quantity: Number(v[i + 3]), unit_price: v[i + 4]!,
      discount_amount: v[i + 5]!, total_amount: v[i + 6]!, cost_amount: v[i + 7] || null, profit_margin: v[i + 8] || null,
      commission: v[i + 9]!, value_tier: v[i + 10] as StagedSale["value_tier"], transaction_date: v[i + 11]!,
      sales_rep_id: v[i + 12] || null, location: v[i + 13] || null
    }
  }
  return out
}

/** A batch as the worker sends it. */
export const encodeBatch = (batch: Batch<StagedSale>, bytesRead: number, bytesTotal: number): FromReadThread => ({
  _tag: "Batch",
  read: batch.read,
  count: batch.rows.length,
  rows: encodeRows(batch.rows),
  rejects: batch.rejects.map((r) => ({
    source: r.source, record_key: r.record_key, category: r.category, reason: r.reason, location: r.location, payload: r.payload
  })),
  filtered: batch.filtered,
  bytesRead,
  bytesTotal
})

/** The batch the worker made, back as the run's thread would have made it. */
export const decodeBatch = (message: FromReadThread & { _tag: "Batch" }): Batch<StagedSale> => ({
  read: message.read,
  rows: decodeRows(message.rows, message.count),
  // Made and checked on the worker: no second validation.
  rejects: message.rejects.map((r) => new Reject(r, true)),
  filtered: message.filtered
})

const workerScript = threadScript("read-thread", "ReadThreadWorker.ts")

/** The batches of the sales CSV as the worker reads them; a file that cannot be read fails with its SourceError. */
export const readSalesOnThread = (input: Omit<ReadThreadInput, "ahead">, progress: (read: number, total: number) => Effect.Effect<void>) =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const script = yield* workerScript
      const messages = yield* Queue.unbounded<FromReadThread>()
      const worker = yield* startThread<FromReadThread>(
        script,
        { ...input, ahead: AHEAD } satisfies ReadThreadInput,
        LIMITS,
        (m) => messages.unsafeOffer(m),
        (message) => messages.unsafeOffer({ _tag: "Crashed", message })
      )
      return Stream.repeatEffectOption(
        Effect.flatMap(Queue.take(messages), (m) => {
          switch (m._tag) {
            case "Batch":
              worker.postMessage("next")
              return Effect.as(progress(m.bytesRead, m.bytesTotal), decodeBatch(m))
            case "Failed":
              return Effect.fail(Option.some(new SourceError({ source: m.source, location: m.location, reason: m.reason, transient: m.transient })))
            case "Done":
              return Effect.fail(Option.none())
            case "Crashed":
              // A bug on the worker is a defect, as it would be on this thread.
              return Effect.dieMessage(`reading ${input.path} on a second thread failed: ${m.message}`)
          }
        })
      )
    })
  )
