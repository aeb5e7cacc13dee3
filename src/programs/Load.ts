/**
 * The loading half of each source: outcomes grouped into BATCH_SIZE batches;
 * each batch's rows are staged (one transaction, the last row per key wins)
 * and its rejects written to the dead-letter store, retried on transient
 * errors. The set-based merges into the star schema follow in Pipeline.
 */
import { Chunk, Effect, Stream } from "effect"
import type { WarehouseError } from "../schema/Errors.js"
import type { Source } from "../schema/Records.js"
import { Reject } from "../schema/Reject.js"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import { retryTransient } from "../services/Resilience.js"
import { Warehouse } from "../services/Warehouse.js"
import { isFiltered, type Outcome } from "./Transform.js"

export interface LoadTarget<A> {
  readonly source: Source
  readonly key: (row: A) => string
  readonly stage: (runId: string, rows: ReadonlyArray<A>) => Effect.Effect<void, WarehouseError>
}

/** Splits one batch: rows (deduplicated, last wins), rejects, and the filtered count by reason. */
export const partition = <A extends object>(
  batch: Chunk.Chunk<Outcome<A>>,
  key: (row: A) => string
) => {
  const rows = new Map<string, A>()
  const rejects: Array<Reject> = []
  const filtered: Record<string, number> = {}
  let accepted = 0
  for (const outcome of batch) {
    if (outcome instanceof Reject) rejects.push(outcome)
    else if (isFiltered(outcome)) filtered[outcome.why] = (filtered[outcome.why] ?? 0) + 1
    else {
      const k = key(outcome)
      rows.delete(k)
      rows.set(k, outcome)
      accepted++
    }
  }
  return { rows: [...rows.values()], rejects, filtered, accepted }
}

export const loadOutcomes = <A extends object>(runId: string, target: LoadTarget<A>) =>
  <E, R>(outcomes: Stream.Stream<Outcome<A>, E, R>) =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      const warehouse = yield* Warehouse
      const metrics = yield* Metrics
      const retry = retryTransient(config.processing, `loading a ${target.source} batch`)
      yield* outcomes.pipe(
        Stream.grouped(config.processing.batchSize),
        Stream.mapEffect((batch) =>
          Effect.gen(function* () {
            const { accepted, filtered, rejects, rows } = partition(batch, target.key)
            if (rows.length > 0) yield* retry(target.stage(runId, rows))
            if (rejects.length > 0) yield* retry(warehouse.recordRejects(runId, rejects))
            yield* metrics.read(target.source, batch.length)
            yield* metrics.loaded(target.source, accepted)
            for (const r of rejects) yield* metrics.rejected(target.source, r.category)
            for (const [why, n] of Object.entries(filtered)) yield* metrics.filtered(target.source, why, n)
            for (const row of rows) {
              const flags = (row as { readonly quality_flags?: string | null }).quality_flags
              if (flags) yield* metrics.flagged(target.source, flags)
            }
          })
        ),
        Stream.runDrain
      )
    })
