/**
 * run_etl_pipeline: extract → transform → load → validate → report.
 *
 * Customers load alongside products and then sales; the sales merge waits for
 * the customers (its referential check needs this run's dimensions). A source
 * that cannot be read ends only its own branch and the run ends `partial`; a
 * warehouse failure ends it `failed`.
 * The summary is always written, and returned to the caller.
 */
import * as Clock from "effect/Clock"
import * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as FileSystem from "@effect/platform/FileSystem"
import { OutputError, type SourceError, type WarehouseError } from "../schema/Errors.js"
import { Alerts } from "../services/Alerts.js"
import { AppConfig } from "../services/AppConfig.js"
import { CircuitBreaker, type CircuitOpen } from "../services/CircuitBreaker.js"
import { Metrics } from "../services/Metrics.js"
import { Warehouse, type ValidationFinding } from "../services/Warehouse.js"
import * as Money from "../rules/Money.js"
import type { DateWindow } from "../rules/Sales.js"
import { emitLineage, newLineageRunId, runEvent } from "./OpenLineage.js"
import { reportProgress } from "./Progress.js"
import { recordRun, type RunOutcome, writeRunFailedRecords } from "./Finish.js"
import type { RunSummary } from "./Report.js"
import { loadCustomers, loadProducts, loadSales, startSalesSplit, type RunContext } from "./Sources.js"
import { resolveWindow, type WindowOptions } from "./Window.js"
import { makeDirectories } from "../services/Directories.js"

export interface RunOptions extends WindowOptions {
  /** Extract, transform and validate, then roll everything back: nothing is written to the warehouse. */
  readonly dryRun: boolean
  /** `day`: the sales load as one cluster workflow per day of the window, on the runners (see Partitions). */
  readonly partitionBy?: "none" | "day" | undefined
}

/** The days a partitioned run splits its window into; an open end stops at the run's day. */
const partitionKeys = (window: DateWindow, now: string) =>
  Effect.gen(function* () {
    if (window.from === null) {
      return yield* Effect.fail(ConfigError.InvalidData(["--partition-by"],
        "a partitioned run needs a window with a first day: pass --from and --to (or --date), or run incrementally after a first load"))
    }
    const { days } = yield* Effect.promise(() => import("./Partitions.js"))
    return days({ from: window.from, to: window.to ?? now.slice(0, 10) })
  })

const newRunId = Effect.gen(function* () {
  const now = yield* DateTime.now
  const stamp = DateTime.formatIso(now).replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")
  const suffix = (yield* Random.nextIntBetween(0, 0x7fffffff)).toString(16).padStart(8, "0")
  return { runId: `${stamp}-${suffix}`, now: DateTime.formatIso(now) }
})

/** Creates OUTPUT_DIR if needed and proves a file can be written there. */
const outputWritable = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const probe = `${dir.replace(/\/+$/, "")}/.etl-write-probe`
    yield* makeDirectories(fs, dir)
    yield* fs.writeFileString(probe, "")
    yield* fs.remove(probe)
  }).pipe(
    Effect.timeout(Duration.seconds(5)),
    Effect.mapError((e) => new OutputError({ path: dir, reason: `OUTPUT_DIR is not writable (${e.message})` }))
  )

/** A source's branch: its SourceError becomes a recorded failure instead of ending the run. */
const degradeGracefully = (source: string) => <A, R>(branch: Effect.Effect<A, SourceError | WarehouseError | CircuitOpen, R>) =>
  Effect.flatMap(Metrics, (metrics) =>
    branch.pipe(
      Effect.map(Option.some),
      Effect.catchTag("SourceError", (e) =>
        Effect.logError(`source ${source} failed, the other sources go on: ${e.message}`).pipe(
          Effect.zipRight(metrics.failed(source, e.message)),
          Effect.as(Option.none<A>())
        ))
    ))

export const runPipeline = (options: RunOptions) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    yield* metrics.reset
    const startedMs = yield* Clock.currentTimeMillis
    const { now, runId } = yield* newRunId

    const breaker = yield* CircuitBreaker
    const alerts = yield* Alerts
    // The run's record goes to OUTPUT_DIR: find out it is unwritable before touching the warehouse.
    yield* outputWritable(config.files.outputDir).pipe(
      Effect.tapError((e) =>
        alerts.send({
          key: "output_unwritable", severity: "critical", title: "ETL Pipeline Failed - output folder not writable",
          stage: "Start", errorType: "OutputError", message: `${e.message}. Nothing was loaded.`
        }))
    )
    const migrated = yield* metrics.stage("migrate")(breaker.resilient("warehouse", "migrating the warehouse", warehouse.migrate)).pipe(
      Effect.either
    )
    if (migrated._tag === "Left") {
      const e = migrated.left
      const sentence = `The warehouse (${config.database.display}) could not be reached: ${e.message}. The run stops before reading any source.`
      yield* Effect.logFatal(sentence)
      yield* alerts.send({
        key: "warehouse_unreachable", severity: "critical", title: "ETL Pipeline Failed - warehouse unreachable",
        stage: "Migrate", errorType: e._tag, message: sentence, stackTrace: e.stack
      })
      return yield* Effect.fail(e)
    }
    const resolved = yield* resolveWindow(options, config.processing.lookbackDays)
    const run: RunContext = { runId, now, window: resolved.window, moveMark: resolved.moveMark }
    const partitions = options.partitionBy === "day" ? yield* partitionKeys(run.window, now) : null
    yield* Effect.logInfo(
      `run ${runId} (${config.env}, ${resolved.mode}) window ${run.window.from ?? "…"} → ${run.window.to ?? "…"}${options.dryRun ? ", dry run" : ""}`
    )
    if (!options.dryRun) {
      yield* warehouse.beginRun({
        runId, env: config.env, startedAt: now, mode: resolved.mode, windowFrom: run.window.from, windowTo: run.window.to
      })
    }
    const lineageRunId = newLineageRunId()
    if (!options.dryRun) yield* emitLineage(runEvent(config, lineageRunId, runId, "START", now))
    return yield* afterBegin(options, run, resolved, startedMs, partitions).pipe(
      Effect.tap((summary) =>
        options.dryRun ? Effect.void : emitLineage(runEvent(config, lineageRunId, runId, summary.status === "failed" ? "FAIL" : "COMPLETE", summary.finished_at, summary))),
      Effect.annotateLogs({ run_id: runId, env: config.env }),
      Effect.onInterrupt(() =>
        options.dryRun ? Effect.void : Effect.gen(function* () {
          const snapshot = yield* metrics.snapshot
          const finishedAt = DateTime.formatIso(DateTime.unsafeMake(yield* Clock.currentTimeMillis))
          const read = Object.values(snapshot.sources).reduce((n, c) => n + c.read, 0)
          // A merge is one transaction, and SQLite's run synchronously: a signal during one is
          // handled once it has committed. What was merged before the interruption stays.
          const kept = Object.entries(snapshot.changes).filter(([, c]) => c.inserted + c.updated > 0)
          const keptText = kept.length === 0 ? "" : `; merged before it and kept: ${
            kept.map(([table, c]) => `${table} (${c.inserted.toLocaleString("en-US")} inserted, ${c.updated.toLocaleString("en-US")} updated)`).join(", ")}`
          yield* Effect.logWarning(`run ${runId} interrupted: the open batch rolled back${keptText}; the next run starts over cleanly`)
          yield* warehouse.clearStaging(runId).pipe(Effect.ignore)
          yield* emitLineage(runEvent(config, lineageRunId, runId, "ABORT", finishedAt))
          yield* warehouse.finishRun({
            runId, finishedAt, status: "interrupted", recordsRead: read, recordsLoaded: 0, recordsRejected: 0,
            recordsFiltered: 0, errorRate: 0, durationSeconds: 0,
            summaryJson: JSON.stringify({ run_id: runId, status: "interrupted", changes: Object.fromEntries(kept) })
          }).pipe(Effect.ignore)
        })),
      Effect.ensuring(options.dryRun ? Effect.void : warehouse.releaseLock(runId).pipe(Effect.ignore)),
      Effect.scoped
    )
  }).pipe(Effect.withSpan("pipeline"))

/**
 * The partitioned sales load: once the customers are in, every day goes to the
 * runners, through the cluster's client, or through the WorkflowEngine the
 * caller provides (an app that embeds the pipeline, a test's in-memory engine).
 */
const salesOnRunners = (run: RunContext, keys: ReadonlyArray<string>, customersLoaded: Effect.Effect<void>) =>
  Effect.gen(function* () {
    yield* customersLoaded
    const partitions = yield* Effect.promise(() => import("./Partitions.js"))
    const given = yield* Effect.serviceOption(WorkflowEngine)
    const engine = Option.isSome(given)
      ? Layer.succeed(WorkflowEngine, given.value)
      : (yield* Effect.promise(() => import("../layers/Cluster.js"))).clientLayer
    return yield* partitions.loadSalesPartitioned(run, keys, engine)
  })

/** Everything after the run is recorded and its lock taken; keeps the lock's heartbeat while it works. */
const afterBegin = (
  options: RunOptions,
  run: RunContext,
  resolved: { readonly mode: RunSummary["mode"] },
  startedMs: number,
  partitions: ReadonlyArray<string> | null
) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const { runId } = run
    const progress = yield* Effect.forkScoped(reportProgress)
    if (!options.dryRun) {
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.flatMap(DateTime.now, (t) => warehouse.heartbeat(runId, DateTime.formatIso(t))).pipe(Effect.ignore),
          Schedule.spaced(Duration.minutes(1))
        )
      )
    }

    // A full refresh rewrites everything it reads: keep a copy of the warehouse from before.
    if (resolved.mode === "full-refresh" && !options.dryRun) {
      const where = yield* metrics.stage("backup")(warehouse.backup(runId, `${config.files.outputDir}/backups`, config.files.backupKeep))
      if (where !== null) yield* Effect.logInfo(`backed the warehouse up to ${where} (the newest ${config.files.backupKeep} are kept)`)
    }

    const body = Effect.gen(function* () {
      // A split first load's second thread starts now, while the dimensions load (startSalesSplit).
      const split = partitions === null ? yield* startSalesSplit : Option.none()
      // Customers alongside products then sales; the sales merge waits for the customers.
      const customersLoaded = yield* Deferred.make<void>()
      const [, products] = yield* Effect.all(
        [
          loadCustomers(run).pipe(
            metrics.stage("customers"),
            degradeGracefully("customers"),
            Effect.ensuring(Deferred.succeed(customersLoaded, undefined))
          ),
          loadProducts(run).pipe(
            metrics.stage("products"),
            degradeGracefully("products"),
            Effect.tap(() =>
              (partitions === null ? loadSales(run, Deferred.await(customersLoaded), split) : salesOnRunners(run, partitions, Deferred.await(customersLoaded))).pipe(
                metrics.stage("sales"),
                degradeGracefully("sales")
              ))
          )
        ],
        // Inside the dry run's single transaction the branches share one connection: one at a time.
        { concurrency: options.dryRun ? 1 : 2 }
      )
      // Read-only: a dropped connection is retried like any transient warehouse error.
      const validate = metrics.stage("validate")(
        (yield* CircuitBreaker).resilient("warehouse", "validating the warehouse", warehouse.validate(Money.formatDecimal(config.processing.commissionRate)))
      )
      // The failed-records file is written while the warehouse is validated (SQLite's scans run on a
      // thread of their own: SqlWarehouse.validationRows). Neither stops the other halfway: a run
      // whose validation fails on a warehouse error still has its file (and the summary names it).
      const [validated, failedRecords] = yield* Effect.all(
        [Effect.either(validate), Effect.exit(writeRunFailedRecords(runId)).pipe(Effect.unless(() => options.dryRun))],
        { concurrency: 2 }
      )
      const validation = yield* validated
      return { validation, failedRecords: Option.getOrUndefined(failedRecords), productsMetadata: Option.getOrNull(Option.map(products, (p) => p.metadata)) }
    })

    const outcome = yield* (options.dryRun ? warehouse.rollbackAfter(body) : body).pipe(
      Effect.map((r) => ({ ...r, failure: null as string | null })),
      Effect.catchTags({
        WarehouseError: (e) => Effect.succeed({ e, message: e.message }),
        CircuitOpen: (e) => Effect.succeed({ e, message: e.message })
      }),
      Effect.flatMap((r): Effect.Effect<RunOutcome> => {
        if (!("e" in r)) return Effect.succeed(r)
        return Effect.logFatal(`the warehouse failed, the run stops: ${r.message}`).pipe(
          Effect.as({ validation: [] as ReadonlyArray<ValidationFinding>, productsMetadata: null, failure: r.message, error: r.e })
        )
      })
    )
    if (!options.dryRun) yield* warehouse.clearStaging(runId).pipe(Effect.ignore)

    yield* Fiber.interrupt(progress)
    return yield* recordRun({ dryRun: options.dryRun, run, mode: resolved.mode, startedMs, outcome })
  })
