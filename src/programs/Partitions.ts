/**
 * Partitioned runs (`etl run --partition-by day`) on Effect Cluster.
 *
 * The run loads the dimensions itself, then submits one `SalesPartition`
 * workflow per day of its window to the runners (`etl runner`). A workflow is
 * two activities, each journaled by the cluster, so a runner that dies loses
 * only the step it was in: another runner resumes the workflow and never
 * repeats a finished step.
 *
 * - stage: reads the day's sales, applies the rules and stages them apart
 *   from the other partitions (an earlier attempt's rows are cleared first);
 * - merge: waits for the partitions before it, then merges, exactly once
 *   (the merge and the partition's `merged` state commit together).
 *
 * Merging in day order keeps a single-process run's meaning: the dead-letter
 * retries (staged by the first partition) come before every newer copy, and
 * a transaction on two days ends as the later day's.
 */
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { resolve } from "node:path"
import * as Money from "../rules/Money.js"
import { parseTransactionDate } from "../rules/Dates.js"
import { inWindow, type DateWindow } from "../rules/Sales.js"
import { WarehouseError } from "../schema/Errors.js"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { Metrics } from "../services/Metrics.js"
import { partitionStageId, Warehouse, type SalesMerge } from "../services/Warehouse.js"
import { field, type CsvItem } from "./Csv.js"
import { countSalesMerge, stageSales, type RunContext } from "./Sources.js"

export class PartitionFailed extends Schema.TaggedError<PartitionFailed>()("PartitionFailed", {
  partition: Schema.String,
  message: Schema.String
}) {}

const Tally = Schema.Record({ key: Schema.String, value: Schema.Number })

export const PartitionCounts = Schema.Struct({
  read: Schema.Number,
  loaded: Schema.Number,
  rejectedBy: Tally,
  filteredBy: Tally,
  flagged: Tally,
  runner: Schema.String
})
export type PartitionCounts = typeof PartitionCounts.Type

export const MergeCounts = Schema.Struct({
  inserted: Schema.Number,
  updated: Schema.Number,
  unchanged: Schema.Number,
  referential: Schema.Number,
  resolved: Schema.Number,
  statusChanges: Schema.Number
})

/** The settings that decide what a partition writes: a runner must share them with the run. */
const Settings = Schema.Struct({ warehouse: Schema.String, sales: Schema.String, commissionRate: Schema.String })

export const SalesPartition = Workflow.make({
  name: "etl/SalesPartition",
  payload: {
    runId: Schema.String,
    key: Schema.String,
    /** The first partition also owns the rows no day of the window claims, and retries the dead-letter store. */
    first: Schema.Boolean,
    now: Schema.String,
    from: Schema.NullOr(Schema.String),
    to: Schema.NullOr(Schema.String),
    settings: Settings
  },
  success: Schema.Struct({ counts: PartitionCounts, merge: MergeCounts }),
  error: PartitionFailed,
  idempotencyKey: (p) => partitionStageId(p.runId, p.key)
})
type Payload = typeof SalesPartition.payloadSchema.Type

export const dataSettings = (config: AppConfigShape): typeof Settings.Type => ({
  warehouse: config.database.display,
  sales: Option.match(config.files.sourceDatabase, { onNone: () => resolve(config.files.salesFile), onSome: (d) => d.display }),
  commissionRate: Money.formatDecimal(config.processing.commissionRate)
})

/** The days of a window, in order: one partition each. */
export const days = (window: { readonly from: string; readonly to: string }): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let d = new Date(`${window.from}T00:00:00Z`); d.toISOString().slice(0, 10) <= window.to; d.setUTCDate(d.getUTCDate() + 1)) {
    out.push(d.toISOString().slice(0, 10))
  }
  return out
}

/**
 * Which CSV rows partition `p` owns: those dated on its day; the first
 * partition also owns the rows no day claims (dates outside the window or
 * unreadable), so every row of the file is read by exactly one partition.
 */
const owner = (p: Payload) => {
  const window: DateWindow = { from: p.from, to: p.to }
  return (item: CsvItem): boolean => {
    const day = item._tag === "Broken" ? undefined : parseTransactionDate(field(item, "transaction_date"))
    return day !== undefined && inWindow(day, window) ? day === p.key : p.first
  }
}

const isoNow = Effect.map(DateTime.now, DateTime.formatIso)

const stagePartition = (p: Payload, runner: string) =>
  Effect.gen(function* () {
    const mine = dataSettings(yield* AppConfig)
    const differs = (Object.keys(mine) as Array<keyof typeof mine>).filter((k) => mine[k] !== p.settings[k])
    if (differs.length > 0) {
      return yield* new PartitionFailed({
        partition: p.key,
        message: `runner ${runner} is set up differently from run ${p.runId} (${
          differs.map((k) => `${k}: ${mine[k]} here, ${p.settings[k]} in the run`).join("; ")
        }); start the runners with the run's settings`
      })
    }
    const warehouse = yield* Warehouse
    yield* warehouse.partitionRunLive(p.runId)
    yield* warehouse.startPartition(p.runId, p.key, runner, yield* isoNow)
    yield* Effect.logInfo(`partition ${p.key}: staging`)
    const run: RunContext = { runId: p.runId, now: p.now, window: { from: p.from, to: p.to }, moveMark: false }
    const counts = yield* Effect.gen(function* () {
      yield* stageSales(run, { stageId: partitionStageId(p.runId, p.key), retry: p.first, window: { from: p.key, to: p.key }, owns: owner(p) })
      const sales = (yield* (yield* Metrics).snapshot).sources["sales"]!
      return { read: sales.read, loaded: sales.loaded, rejectedBy: sales.rejectedBy, filteredBy: sales.filteredBy, flagged: sales.flagged, runner }
    }).pipe(Effect.provide(Metrics.Default))
    yield* warehouse.partitionStaged(p.runId, p.key, JSON.stringify(counts), yield* isoNow)
    yield* Effect.logInfo(`partition ${p.key}: staged ${counts.read} read, ${counts.loaded} accepted`)
    return counts
  })

/**
 * Waits until every earlier partition is merged or failed, asking every 200 ms per partition
 * still ahead (at most every 2 s): the next in line notices its turn at once, and hundreds of
 * waiting days cost the warehouse a few hundred small queries a second, not a thousand.
 */
const waitForTurn = (runId: string, key: string): Effect.Effect<void, WarehouseError, Warehouse> =>
  Effect.flatMap(Warehouse, (warehouse) =>
    Effect.flatMap(warehouse.partitionsAhead(runId, key), (ahead) =>
      ahead === 0
        ? Effect.void
        : Effect.zipRight(Effect.sleep(Duration.millis(Math.min(2000, 200 * ahead))), waitForTurn(runId, key))))

const mergeInTurn = (p: Payload) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    yield* waitForTurn(p.runId, p.key)
    const at = yield* isoNow
    const { merge, replayed } = yield* (yield* CircuitBreaker).resilient(
      "warehouse", `merging partition ${p.key}`, warehouse.mergePartition(p.runId, p.key, p.now, at)
    )
    yield* Effect.logInfo(
      `partition ${p.key}: ${replayed ? "merged before (its counts replayed)" : "merged"}: ${merge.inserted} inserted, ${merge.updated} updated`
    )
    return merge
  })

/**
 * At most `n` effects at once, the waiting ones let in by smallest key first:
 * merges go in day order, so a runner stages its earliest waiting day first.
 */
export const orderedPermits = (n: number) => {
  let free = n
  const waiting: Array<{ readonly key: string; readonly go: Deferred.Deferred<void> }> = []
  const release = Effect.suspend(() => {
    const next = waiting.shift()
    if (next !== undefined) return Deferred.succeed(next.go, undefined)
    free++
    return Effect.void
  })
  return (key: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        if (free > 0) {
          free--
        } else {
          const go = yield* Deferred.make<void>()
          const entry = { key, go }
          waiting.push(entry)
          waiting.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          yield* restore(Deferred.await(go)).pipe(
            Effect.onInterrupt(() => {
              const at = waiting.indexOf(entry)
              if (at >= 0) waiting.splice(at, 1)
              // Interrupted after being let in: pass the permit on.
              return at >= 0 ? Effect.void : release
            })
          )
        }
        return yield* restore(effect).pipe(Effect.ensuring(release))
      })
    )
}

/**
 * The runner side: the partition workflow, with at most `concurrency`
 * partitions staging at once in this process.
 */
export const partitionWorkflows = (runner: string, concurrency: number) =>
  Layer.unwrapEffect(Effect.gen(function* () {
    const permits = orderedPermits(concurrency)
    return SalesPartition.toLayer((p) => {
      const failed = (e: { readonly message: string }) =>
        e instanceof PartitionFailed ? e : new PartitionFailed({ partition: p.key, message: e.message })
      return Effect.gen(function* () {
        const counts = yield* Activity.make({
          name: "stage",
          success: PartitionCounts,
          error: PartitionFailed,
          execute: permits(p.key)(stagePartition(p, runner)).pipe(Effect.mapError(failed))
        })
        const merge = yield* Activity.make({
          name: "merge",
          success: MergeCounts,
          error: PartitionFailed,
          execute: mergeInTurn(p).pipe(Effect.mapError(failed))
        })
        return { counts, merge }
      }).pipe(
        // A failed partition is recorded so that the partitions after it do not wait for its merge.
        Effect.tapError((e) =>
          Activity.make({
            name: "record failure",
            execute: Effect.flatMap(isoNow, (at) => Effect.flatMap(Warehouse, (w) => w.partitionFailed(p.runId, p.key, e.message, at))).pipe(
              Effect.zipRight(Effect.logError(`partition ${p.key} failed: ${e.message}`)),
              Effect.orElse(() => Effect.logError(`partition ${p.key} failed (${e.message}) and could not be recorded`))
            )
          })),
        Effect.annotateLogs({ run_id: p.runId, partition: p.key })
      )
    })
  }))

/** Says so, every 30 s, while no runner has started any of the run's partitions. */
const noRunnerWarning = (runId: string, count: number) =>
  Effect.flatMap(Warehouse, (warehouse) =>
    Effect.sleep(Duration.seconds(15)).pipe(
      Effect.zipRight(warehouse.partitions(runId)),
      Effect.flatMap((rows) =>
        rows.every((r) => r.state === "planned")
          ? Effect.logWarning(
            `no runner has started any of the ${count} partition(s) yet: is \`etl runner\` running, with the same CLUSTER_DATABASE_URL?`
          ).pipe(Effect.zipRight(Effect.sleep(Duration.seconds(15))), Effect.as(true))
          : Effect.succeed(false)),
      Effect.repeat({ while: (waiting) => waiting }),
      Effect.ignore
    ))

/**
 * The run's side: plans the partitions, submits them to the runners, waits
 * for every one and adds their counts to the run's. A partition that fails
 * makes the sales source (and the run) partial; the others still load.
 */
export const loadSalesPartitioned = <E, R>(run: RunContext, keys: ReadonlyArray<string>, engine: Layer.Layer<WorkflowEngine, E, R>) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const settings = dataSettings(config)
    yield* metrics.source("sales", settings.sales)
    yield* warehouse.planPartitions(run.runId, keys, yield* isoNow)
    yield* Effect.logInfo(`submitting ${keys.length} partition(s) (${keys[0]} … ${keys.at(-1)}) to the runners`)
    const total: { -readonly [K in keyof SalesMerge]: number } = { inserted: 0, updated: 0, unchanged: 0, referential: 0, resolved: 0, statusChanges: 0 }
    const failures: Array<string> = []
    let done = 0
    // Each partition's counts join the run's as it finishes, so the progress line moves.
    const finished = (key: string, counts: PartitionCounts, merge: SalesMerge) =>
      Effect.gen(function* () {
        yield* metrics.read("sales", counts.read)
        yield* metrics.loaded("sales", counts.loaded)
        for (const [category, n] of Object.entries(counts.rejectedBy)) yield* metrics.rejected("sales", category, n)
        for (const [why, n] of Object.entries(counts.filteredBy)) yield* metrics.filtered("sales", why, n)
        yield* metrics.flagged("sales", counts.flagged)
        for (const k of Object.keys(total) as Array<keyof SalesMerge>) total[k] += merge[k]
        yield* Effect.logInfo(
          `partition ${key} done on ${counts.runner} (${++done} of ${keys.length}): ${counts.read} read, ${merge.inserted} inserted, ${merge.updated} updated`
        )
      })
    const payloads = keys.map((key, i) => ({ runId: run.runId, key, first: i === 0, now: run.now, from: run.window.from, to: run.window.to, settings }))
    const watchdog = yield* Effect.fork(noRunnerWarning(run.runId, keys.length))
    yield* Effect.forEach(payloads, (payload) =>
      SalesPartition.execute(payload).pipe(
        Effect.matchEffect({
          onSuccess: (r) => finished(payload.key, r.counts, r.merge),
          onFailure: (e) => Effect.sync(() => failures.push(`partition ${e.partition}: ${e.message}`))
        })
      ), { concurrency: "unbounded", discard: true }).pipe(
      // Workflows outlive their caller: once the run is recorded as interrupted, its partitions
      // still on the runners stage and merge nothing more (they check the run before each step).
      Effect.onInterrupt(() =>
        Effect.logWarning(`run ${run.runId} interrupted: its partitions not yet merged will load nothing`)),
      Effect.provide(engine),
      Effect.mapError((e) => new WarehouseError({ operation: "reach the cluster", reason: String((e as { message?: unknown }).message ?? e), transient: false })),
      Effect.ensuring(Fiber.interrupt(watchdog))
    )
    yield* metrics.extracted("sales")
    yield* countSalesMerge(total)
    if (failures.length > 0) {
      yield* Effect.logError(`${failures.length} of ${keys.length} partition(s) failed: ${failures.join("; ")}`)
      yield* metrics.failed("sales", failures.join("; "))
    } else if (run.moveMark) {
      yield* warehouse.moveHighWaterMark(run.now)
    }
    return total
  })
