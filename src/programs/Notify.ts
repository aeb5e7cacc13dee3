/**
 * The run's alerts, from its summary: each failed source by name, a failed
 * validation, a warehouse failure (critical), and a success notice.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Alerts } from "../services/Alerts.js"
import { Warehouse } from "../services/Warehouse.js"
import type { RunSummary } from "./Report.js"

/** The run's alerts: a failed source names itself, a warehouse failure is critical, a clean run says so. */
export const notify = (s: RunSummary, error: { readonly _tag: string; readonly stack?: string | undefined } | undefined) =>
  Effect.gen(function* () {
    if (s.dry_run) return
    const alerts = yield* Alerts
    const last = yield* Effect.flatMap(Warehouse, (w) => w.lastSuccessfulRun).pipe(
      Effect.map(Option.getOrNull),
      Effect.orElseSucceed(() => null)
    )
    const base = {
      runId: s.run_id,
      recordsTotal: s.records.read,
      recordsAffected: s.records.rejected,
      secondsBeforeFailure: s.duration_seconds,
      recordsPerSecond: s.throughput_rows_per_second
    }
    for (const [source, c] of Object.entries(s.sources)) {
      if (c.status !== "failed") continue
      yield* alerts.send({
        ...base, key: `source_failed_${source}`, severity: "error", title: `ETL Pipeline Partial - ${source} source failed`,
        stage: `Extract ${source}`, errorType: "SourceError",
        message: `${c.error}. The other sources were loaded; the run ended ${s.status}.`
      }, last)
    }
    const checks = s.validation.filter((v) => !v.passed)
    if (checks.length > 0) {
      yield* alerts.send({
        ...base, key: "validation_failed", severity: "critical", title: "ETL Pipeline Failed - post-load validation",
        stage: "Validate", errorType: "ValidationError", message: checks.map((v) => `${v.check}: ${v.detail}`).join("; ")
      }, last)
    }
    if (error !== undefined) {
      yield* alerts.send({
        ...base, key: "warehouse_failed", severity: "critical", title: "ETL Pipeline Failed - warehouse error",
        stage: "Load", errorType: error._tag, message: s.failures.join("; "), stackTrace: error.stack
      }, last)
    }
    if (s.status === "success") {
      yield* alerts.send({
        ...base, key: "run_success", severity: "info", title: "ETL Pipeline Succeeded", stage: "Report", errorType: "none",
        message: `${s.records.read} records read: ${s.records.loaded} loaded, ${s.records.rejected} rejected, ${s.records.filtered} filtered.`
      }, last)
    }
  })

