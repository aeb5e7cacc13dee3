/** A batch keeps one row per key, the last copy, in the order of those last copies; rejects and filtered records as they came. */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck as fc, Stream } from "effect"
import { filtered, productCost } from "../../src/rules/Sales.js"
import { Reject } from "../../src/schema/Reject.js"
import { batched, batchOf, salesCsvBatches, transformSalesCsv, type Outcome } from "../../src/programs/Transform.js"
import { NodeContext } from "@effect/platform-node"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { extractSalesCsv } from "../../src/programs/Extract.js"
import { generate } from "../../src/programs/Generate.js"
import type { StagedSale } from "../../src/services/Warehouse.js"

interface Row { readonly id: string; readonly copy: number }

const reject = (n: number) => new Reject({ source: "sales", record_key: `R${n}`, category: "validation", reason: "bad", location: null, payload: {} })

const outcome = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"), fc.nat()).map(([id, copy]): Outcome<Row> => ({ id, copy })) },
  // Keys of any text, most of them met once: the batch's table of keys grows.
  { weight: 4, arbitrary: fc.tuple(fc.string({ maxLength: 3 }), fc.nat()).map(([id, copy]): Outcome<Row> => ({ id, copy })) },
  { weight: 1, arbitrary: fc.nat().map(reject) },
  { weight: 1, arbitrary: fc.constantFrom(filtered("status"), filtered("window")) }
)

describe("batchOf", () => {
  it.prop("keeps the last copy of each key, in the order of the last copies", [fc.array(outcome, { maxLength: 120 })], ([outcomes]) => {
    const batch = batchOf(Chunk.fromIterable(outcomes), (r) => r.id)
    // The rule, stated plainly: a row stays when no later row has its key.
    const rows = outcomes.filter((o, i): o is Row => "id" in o && !outcomes.slice(i + 1).some((later) => "id" in later && later.id === o.id))
    expect(batch.rows).toEqual(rows)
    expect(batch.rejects).toEqual(outcomes.filter((o) => o instanceof Reject))
    expect(batch.read).toBe(outcomes.length)
    // Every copy a later one replaced is counted once, as filtered `duplicate`.
    const replaced = outcomes.filter((o) => "id" in o).length - rows.length
    expect(batch.filtered).toEqual(outcomes.reduce<Record<string, number>>((counts, o) =>
      "_tag" in o && o._tag === "Filtered" ? { ...counts, [o.why]: (counts[o.why] ?? 0) + 1 } : counts,
      replaced === 0 ? {} : { duplicate: replaced }))
  })

  it("T1, T2, T1 → T2, T1", () => {
    const batch = batchOf(Chunk.fromIterable<Outcome<Row>>([{ id: "T1", copy: 1 }, { id: "T2", copy: 1 }, { id: "T1", copy: 2 }]), (r) => r.id)
    expect(batch.rows).toEqual([{ id: "T2", copy: 1 }, { id: "T1", copy: 2 }])
  })
})

describe("batched", () => {
  // The outcomes arrive in chunks of any size, as a reader emits them; the batches are those of
  // every `size` outcomes in turn, the last one shorter, whatever the chunks.
  it.effect.prop(
    "gives batchOf of every `size` outcomes in turn, whatever chunks they arrive in",
    [fc.array(outcome, { maxLength: 60 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 9 }), fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 7 })],
    ([outcomes, size, first, more]) =>
      Effect.gen(function* () {
        // Chunk sizes in turn, empty ones among them; the first is never empty, so the cutting ends.
        const cuts = [first, ...more]
        const chunks: Array<Chunk.Chunk<Outcome<Row>>> = []
        for (let at = 0, i = 0; at < outcomes.length; i++) {
          const n = cuts[i % cuts.length]!
          chunks.push(Chunk.fromIterable(outcomes.slice(at, at + n)))
          at += n
        }
        const stream = Stream.fromChunks(...chunks).pipe(batched(size, (r: Row) => r.id))
        const expected = Array.from({ length: Math.ceil(outcomes.length / size) }, (_, i) =>
          batchOf(outcomes.slice(i * size, (i + 1) * size), (r) => r.id))
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(stream))).toEqual(expected)
        // Run twice, the same: each run fills batches of its own.
        expect(Chunk.toReadonlyArray(yield* Stream.runCollect(stream))).toEqual(expected)
      })
  )
})

describe("sales batched where the CSV is read", () => {
  it.effect("gives the batches of reading, transforming and batching in separate steps, over many reads", () =>
    Effect.gen(function* () {
      // 5,000 generated transactions with the dirty mix: about 400 KB, so two reads of 256 KiB.
      const dir = mkdtempSync(join(tmpdir(), "etl-through-"))
      yield* generate({ transactions: 5000, outDir: dir, seed: 7 })
      const path = join(dir, "sales_transactions.csv")
      const pricing = { window: { from: null, to: null }, costOf: () => productCost({ units: 1250n, scale: 2 }), commissionRate: { units: 3n, scale: 2 } }
      const key = (r: StagedSale) => r.transaction_id
      for (const size of [1, 7, 500, 5000, 20_000]) {
        const separate = yield* Stream.runCollect(batched(size, key)(extractSalesCsv(path).pipe(Stream.mapChunks(transformSalesCsv(path, pricing)))))
        const fused = yield* Stream.runCollect(salesCsvBatches(path, pricing, size, key))
        expect(Chunk.toReadonlyArray(fused)).toEqual(Chunk.toReadonlyArray(separate))
        expect(Chunk.reduce(fused, 0, (n, b) => n + b.read)).toBe(5000)
        expect(Chunk.some(fused, (b) => b.rejects.length > 0)).toBe(true)
      }
    }).pipe(Effect.provide(NodeContext.layer)))
})
