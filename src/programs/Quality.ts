/**
 * run_data_quality_checks and detect_data_anomalies. The checks grade the
 * run against warn and error thresholds from configuration; the anomalies
 * compare it with the last successful runs (mean ± k standard deviations,
 * once there is enough history). Both are pure; `assessQuality` gathers the
 * figures and raises the alerts as the origin's process_quality_alerts does.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { Alerts } from "../services/Alerts.js"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { Warehouse, type QualityFigures, type RunFigures } from "../services/Warehouse.js"

export type Level = "ok" | "warn" | "error"

export interface QualityFinding {
  readonly check: "completeness" | "validity" | "consistency" | "timeliness"
  readonly level: Level
  readonly value: number
  readonly detail: string
}

export interface Anomaly {
  readonly type: "volume" | "error_rate" | "duration"
  readonly table: string
  readonly severity: "warning" | "critical"
  readonly value: number
  readonly baseline: number
  readonly message: string
}

export interface RunFacts {
  readonly processed: number
  readonly rejected: number
  readonly referential: number
  readonly facts: number
  readonly backfill: boolean
  readonly today: string
}

type Thresholds = AppConfigShape["quality"]

const grade = (value: number, warn: number, error: number): Level => (value > error ? "error" : value > warn ? "warn" : "ok")
const pct = (x: number) => `${(100 * x).toFixed(1)}%`

const daysBetween = (from: string, to: string) =>
  Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000)

export const qualityChecks = (run: RunFacts, figures: QualityFigures, t: Thresholds): ReadonlyArray<QualityFinding> => {
  const flagged = figures.customers === 0 ? 0 : figures.customersFlagged / figures.customers
  const errorRate = run.processed === 0 ? 0 : run.rejected / run.processed
  const referential = run.facts + run.referential === 0 ? 0 : run.referential / (run.facts + run.referential)
  const findings: Array<QualityFinding> = [
    {
      check: "completeness", level: grade(flagged, t.completenessWarn, t.completenessError), value: flagged,
      detail: `${pct(flagged)} of customers have a quality flag (warn above ${pct(t.completenessWarn)}, error above ${pct(t.completenessError)})`
    },
    {
      check: "validity", level: grade(errorRate, t.errorRateWarn, t.errorRateError), value: errorRate,
      detail: `${pct(errorRate)} of this run's records were rejected (warn above ${pct(t.errorRateWarn)}, error above ${pct(t.errorRateError)})`
    },
    {
      check: "consistency", level: grade(referential, t.referentialWarn, t.referentialError), value: referential,
      detail: `${pct(referential)} of this run's sales wait for a missing customer or product (warn above ${pct(t.referentialWarn)}, error above ${pct(t.referentialError)})`
    }
  ]
  if (figures.newestTransaction === null) {
    findings.push({ check: "timeliness", level: "ok", value: 0, detail: "no transactions loaded yet" })
  } else {
    const age = daysBetween(figures.newestTransaction, run.today)
    // Old or backfilled data must not fail a run for being old.
    findings.push({
      check: "timeliness", level: run.backfill ? "ok" : grade(age, t.freshnessWarnDays, t.freshnessErrorDays), value: age,
      detail: `the newest transaction is ${age} day(s) old (${figures.newestTransaction})${run.backfill ? "; not graded on a backfill" : `; warn above ${t.freshnessWarnDays}, error above ${t.freshnessErrorDays}`}`
    })
  }
  return findings
}

const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length
const stddev = (xs: ReadonlyArray<number>) => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)
}

/**
 * Volume, error rate and duration against the baseline of earlier successful
 * runs. A spread too small to measure (identical runs) is floored at 10% of
 * the mean, so steady history does not make every wobble an anomaly.
 */
export const detectAnomalies = (
  current: { readonly recordsRead: number; readonly errorRate: number; readonly durationSeconds: number },
  history: ReadonlyArray<RunFigures>,
  settings: { readonly minHistory: number; readonly stddevs: number }
): ReadonlyArray<Anomaly> => {
  if (history.length < settings.minHistory) return []
  const measures = [
    { type: "volume" as const, value: current.recordsRead, past: history.map((h) => h.recordsRead), floor: 1, unit: " records" },
    { type: "error_rate" as const, value: current.errorRate, past: history.map((h) => h.errorRate), floor: 0.01, unit: "" },
    { type: "duration" as const, value: current.durationSeconds, past: history.map((h) => h.durationSeconds), floor: 1, unit: " s" }
  ]
  return measures.flatMap((m) => {
    const base = mean(m.past)
    const spread = Math.max(stddev(m.past), Math.abs(base) * 0.1, m.floor)
    const z = (m.value - base) / spread
    if (Math.abs(z) <= settings.stddevs) return []
    const shown = (x: number) => (m.type === "error_rate" ? pct(x) : `${x.toFixed(m.type === "duration" ? 1 : 0)}${m.unit}`)
    return [{
      type: m.type,
      table: "sales_fact",
      severity: Math.abs(z) > 2 * settings.stddevs ? "critical" as const : "warning" as const,
      value: m.value,
      baseline: base,
      message: `${m.type.replace("_", " ")} ${shown(m.value)} is ${Math.abs(z).toFixed(1)} standard deviations ${z > 0 ? "above" : "below"} the mean of the last ${m.past.length} successful runs (${shown(base)})`
    }]
  })
}

/** The run's quality findings and anomalies, with their alerts. */
export const assessQuality = (run: Omit<RunFacts, "today"> & { readonly runId: string; readonly recordsRead: number; readonly durationSeconds: number }) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const alerts = yield* Alerts
    const today = new Date(yield* Clock.currentTimeMillis).toISOString().slice(0, 10)
    const figures = yield* warehouse.qualityFigures
    const findings = qualityChecks({ ...run, today }, figures, config.quality)
    const history = (yield* warehouse.recentRuns(config.quality.anomalyHistory)).filter((h) => h.runId !== run.runId)
    const errorRate = run.processed === 0 ? 0 : run.rejected / run.processed
    const anomalies = detectAnomalies(
      { recordsRead: run.recordsRead, errorRate, durationSeconds: run.durationSeconds },
      history,
      { minHistory: config.quality.anomalyMinHistory, stddevs: config.quality.anomalyStddevs }
    )
    for (const f of findings.filter((f) => f.level !== "ok")) {
      yield* alerts.send({
        key: `quality_${f.check}`, severity: f.level === "error" ? "error" : "warning", title: `Data quality ${f.level.toUpperCase()} - ${f.check}`,
        stage: "Quality checks", errorType: "QualityCheck", message: f.detail, runId: run.runId
      })
    }
    // process_quality_alerts: critical anomalies by email and Slack, the rest to Slack.
    for (const a of anomalies) {
      yield* alerts.send({
        key: `quality_${a.type}_${a.table}`, severity: a.severity, title: `Data anomaly - ${a.type.replace("_", " ")} of ${a.table}`,
        stage: "Anomaly detection", errorType: "Anomaly", message: a.message, runId: run.runId
      })
    }
    return { findings, anomalies, baselineRuns: history.length }
  })
