/**
 * The end of every run that got past its start: the summary with its status,
 * the quality checks and anomalies, lineage, failed records, the row in
 * etl_run_history, the alerts and the table on the console.
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { OutputError } from "../schema/Errors.js"
import { AppConfig, configFingerprint } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import { Warehouse, type LineageRow, type ValidationFinding } from "../services/Warehouse.js"
import { notify } from "./Notify.js"
import { assessQuality } from "./Quality.js"
import { printSummary, writeFailedRecords, writeSummary, type RunSummary } from "./Report.js"
import type { RunContext } from "./Sources.js"

export interface RunOutcome {
  readonly validation: ReadonlyArray<ValidationFinding>
  /** How writing the failed-records file went (its path, or null: nothing rejected), if it was tried. */
  readonly failedRecords?: Exit.Exit<string | null, OutputError> | undefined
  readonly productsMetadata: unknown
  /** Why the warehouse failed the run, or null. */
  readonly failure: string | null
  readonly error?: { readonly _tag: string; readonly stack?: string | undefined }
}

/**
 * The failed-records file of run `runId` (Report.writeFailedRecords) when it rejected anything, and
 * its path; null when it rejected nothing.
 */
export const writeRunFailedRecords = (runId: string) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const snapshot = yield* (yield* Metrics).snapshot
    if (Object.values(snapshot.sources).every((c) => c.rejected === 0)) return null
    return yield* writeFailedRecords(config.files.outputDir, runId, (after, limit) =>
      warehouse.rejectsSeenIn(runId, after, limit).pipe(Effect.orElseSucceed(() => [])))
  })

export const recordRun = (
  { dryRun, mode, outcome, run, startedMs }: {
    readonly dryRun: boolean
    readonly run: RunContext
    readonly mode: RunSummary["mode"]
    readonly startedMs: number
    readonly outcome: RunOutcome
  }
) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const { now, runId } = run
    const snapshot = yield* metrics.snapshot
    const finishedMs = yield* Clock.currentTimeMillis
    const finishedAt = DateTime.formatIso(DateTime.unsafeMake(finishedMs))
    const sources = Object.values(snapshot.sources)
    const totals = sources.reduce(
      (t, c) => ({ read: t.read + c.read, loaded: t.loaded + c.loaded, rejected: t.rejected + c.rejected, filtered: t.filtered + c.filtered }),
      { read: 0, loaded: 0, rejected: 0, filtered: 0 }
    )
    const failedSources = Object.entries(snapshot.sources).filter(([, c]) => c.status === "failed")
    const failedChecks = outcome.validation.filter((v) => !v.passed)
    const status: RunSummary["status"] =
      outcome.failure !== null || failedChecks.length > 0 || failedSources.length === sources.length
        ? "failed"
        : failedSources.length > 0
        ? "partial"
        : "success"
    const seconds = (finishedMs - startedMs) / 1000
    const processed = totals.read - totals.filtered
    const salesChanges = snapshot.changes.sales_fact as Record<string, number> | undefined
    const quality = dryRun || outcome.failure !== null
      ? { findings: [], anomalies: [], baselineRuns: 0 }
      : yield* metrics.stage("quality")(assessQuality({
          runId, recordsRead: totals.read, durationSeconds: seconds, processed, rejected: totals.rejected,
          referential: salesChanges?.referential ?? 0,
          facts: (salesChanges?.inserted ?? 0) + (salesChanges?.updated ?? 0) + (salesChanges?.unchanged ?? 0),
          backfill: mode === "backfill"
        })).pipe(
          Effect.catchAll((e) =>
            Effect.logError(`the quality checks could not run: ${e.message}`).pipe(Effect.as({ findings: [], anomalies: [], baselineRuns: 0 })))
        )
    const files = {
      summary: `${config.files.outputDir}/run_${runId}.json`,
      failed_records: outcome.failedRecords !== undefined && Exit.isSuccess(outcome.failedRecords) ? outcome.failedRecords.value : null
    }
    const summary: RunSummary = {
      run_id: runId,
      env: config.env,
      mode,
      dry_run: dryRun,
      status,
      window: run.window,
      started_at: now,
      finished_at: finishedAt,
      duration_seconds: seconds,
      records: totals,
      error_rate: processed === 0 ? 0 : totals.rejected / processed,
      throughput_rows_per_second: seconds > 0 ? totals.read / seconds : 0,
      peak_rss_mb: snapshot.peakRssBytes / 1024 / 1024,
      sources: snapshot.sources,
      changes: snapshot.changes,
      stages: snapshot.stages,
      validation: outcome.validation,
      quality: quality.findings,
      anomalies: quality.anomalies,
      anomaly_baseline_runs: quality.baselineRuns,
      failures: [
        ...failedSources.map(([name, c]) => `${name}: ${c.error}`),
        ...(outcome.failure === null ? [] : [outcome.failure]),
        ...failedChecks.map((v) => `validation ${v.check}: ${v.detail}`)
      ],
      products_metadata: outcome.productsMetadata,
      warehouse: config.database.display,
      config: configFingerprint(config),
      files
    }

    if (!dryRun && outcome.failure === null) {
      const lineage: Array<LineageRow> = [
        ["customers", "customer_dim"],
        ["products", "product_dim"],
        ["sales", "sales_fact"]
      ].flatMap(([source, target]) => {
        const c = snapshot.sources[source!]
        return c === undefined ? [] : [{
          runId, source: c.location, target: target!, recordsIn: c.read, recordsOut: c.loaded,
          recordsRejected: c.rejected, startedAt: now, finishedAt
        }]
      })
      yield* warehouse.recordLineage(lineage).pipe(Effect.ignore)
    }
    // A failed-records file that could not be written fails the run here, as the summary would.
    if (outcome.failedRecords !== undefined) yield* outcome.failedRecords
    yield* writeSummary(config.files.outputDir, summary)
    if (!dryRun) {
      yield* warehouse.finishRun({
        runId, finishedAt, status, recordsRead: totals.read, recordsLoaded: totals.loaded,
        recordsRejected: totals.rejected, recordsFiltered: totals.filtered, errorRate: summary.error_rate,
        durationSeconds: seconds, summaryJson: JSON.stringify(summary)
      }).pipe(Effect.catchAll((e) => Effect.logError(`could not record the run in etl_run_history: ${e.message}`)))
    }
    yield* notify(summary, outcome.error)
    yield* printSummary(summary)
    return summary
  })
