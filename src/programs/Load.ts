/**
 * The loading half of each source: outcomes grouped into BATCH_SIZE batches;
 * each batch's rows are staged (one transaction, the last row per key wins)
 * and its rejects written to the dead-letter store, retried on transient
 * errors. The set-based merges into the star schema follow in Pipeline.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { WarehouseError } from "../schema/Errors.js"
import type { Source } from "../schema/Records.js"
import { writeOutAmounts } from "../rules/Sales.js"
import { Reject } from "../schema/Reject.js"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { locationOf, Warehouse, type StagedSale } from "../services/Warehouse.js"
import { batched, releaseBatch, type Batch, type Outcome } from "./Transform.js"

export interface LoadTarget<A> {
  readonly source: Source
  readonly key: (row: A) => string
  readonly stage: (runId: string, rows: ReadonlyArray<A>) => Effect.Effect<void, WarehouseError>
}

/**
 * Stages `rows`; when the database refuses the batch for a reason retrying
 * will not fix (a constraint), splits it in halves until the offending rows are
 * alone, and returns them as `constraint` rejects with the database's message.
 * The rest of the batch still loads.
 */
export const stageIsolating = <A extends object, E extends { readonly transient: boolean; readonly message: string }>(
  rows: ReadonlyArray<A>,
  stage: (rows: ReadonlyArray<A>) => Effect.Effect<void, E>,
  reject: (row: A, error: E) => Reject
): Effect.Effect<ReadonlyArray<Reject>, E> =>
  stage(rows).pipe(
    Effect.as([] as ReadonlyArray<Reject>),
    Effect.catchIf(
      (e) => !e.transient,
      (e) => {
        if (rows.length === 1) return Effect.succeed([reject(rows[0]!, e)])
        // A refusal of the whole dependency (an open breaker) is not about any row.
        if ((e as { _tag?: string })._tag === "CircuitOpen") return Effect.fail(e)
        const middle = Math.ceil(rows.length / 2)
        return Effect.zipWith(
          stageIsolating(rows.slice(0, middle), stage, reject),
          stageIsolating(rows.slice(middle), stage, reject),
          (a, b) => [...a, ...b]
        )
      }
    )
  )

/** A refused row's location and payload, a sale's location and amounts written out (StagedSale). */
export const locatedPayload = (row: object): { readonly location: string | null; readonly payload: Record<string, unknown> } => {
  const { line, ...payload } = writeOutAmounts({ ...row }) as Record<string, unknown>
  if (line !== undefined) payload.location = locationOf(row as StagedSale)
  return { location: typeof payload.location === "string" ? payload.location : null, payload }
}

/**
 * Stages batches under `stageId` (the run's id, or one partition's) and records
 * rejects as seen by run `runId`. Batches come from `loadOutcomes` below, or
 * already split on the thread that read them (ReadThread).
 */
export const loadBatches = <A extends object>(runId: string, target: LoadTarget<A>, stageId: string = runId) =>
  <E, R>(batches: Stream.Stream<Batch<A>, E, R>) =>
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      const metrics = yield* Metrics
      const breaker = yield* CircuitBreaker
      const retry = <X, E extends { readonly transient: boolean; readonly message: string }>(effect: Effect.Effect<X, E>) =>
        breaker.resilient("warehouse", `loading a ${target.source} batch`, effect)
      yield* batches.pipe(
        Stream.mapEffect((batch) =>
          Effect.gen(function* () {
            const { filtered, read, rejects: refusedByRules, rows } = batch
            const refused = rows.length === 0 ? [] : yield* stageIsolating(
              rows,
              (some) => retry(target.stage(stageId, some)),
              (row, error) => new Reject({
                source: target.source,
                record_key: target.key(row),
                category: "constraint",
                reason: `the warehouse refused the record: ${(error as { reason?: string }).reason ?? error.message}`,
                ...locatedPayload(row)
              })
            )
            const rejects = [...refusedByRules, ...refused]
            const accepted = read - rejects.length - Object.values(filtered).reduce((a, b) => a + b, 0)
            if (rejects.length > 0) yield* retry(warehouse.recordRejects(runId, rejects))
            // Tallied here, one Metrics call per category and flag: this runs for every batch.
            const rejectedBy: Record<string, number> = {}
            for (const r of rejects) rejectedBy[r.category] = (rejectedBy[r.category] ?? 0) + 1
            const flagged: Record<string, number> = {}
            for (const row of rows) {
              const flags = (row as { readonly quality_flags?: string | null }).quality_flags
              if (flags) for (const f of flags.split(",")) flagged[f] = (flagged[f] ?? 0) + 1
            }
            yield* metrics.read(target.source, read)
            yield* metrics.loaded(target.source, accepted)
            for (const [category, n] of Object.entries(rejectedBy)) yield* metrics.rejected(target.source, category, n)
            for (const [why, n] of Object.entries(filtered)) yield* metrics.filtered(target.source, why, n)
            yield* metrics.flagged(target.source, flagged)
            releaseBatch(batch)
          })
        ),
        Stream.runDrain
      )
    })

/** Groups outcomes into BATCH_SIZE batches and stages them (see loadBatches). */
export const loadOutcomes = <A extends object>(runId: string, target: LoadTarget<A>, stageId: string = runId) =>
  <E, R>(outcomes: Stream.Stream<Outcome<A>, E, R>) =>
    Effect.flatMap(AppConfig, (config) =>
      outcomes.pipe(
        batched(config.processing.batchSize, target.key),
        loadBatches(runId, target, stageId)
      ))
