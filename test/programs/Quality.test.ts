import { describe, expect, it } from "@effect/vitest"
import { detectAnomalies, qualityChecks } from "../../src/programs/Quality.js"

const thresholds = {
  completenessWarn: 0.05, completenessError: 0.2, errorRateWarn: 0.05, errorRateError: 0.2, referentialWarn: 0.01,
  referentialError: 0.1, freshnessWarnDays: 2, freshnessErrorDays: 7, anomalyMinHistory: 5, anomalyHistory: 20, anomalyStddevs: 3
}
const history = (n: number, read = 1000, errorRate = 0.02, duration = 10) =>
  Array.from({ length: n }, (_, i) => ({ runId: `r${i}`, recordsRead: read + (i % 2) * 20, errorRate, durationSeconds: duration }))
const settings = { minHistory: 5, stddevs: 3 }

describe("detect_data_anomalies", () => {
  it("raises a volume anomaly when the volume triples against five normal runs", () => {
    const anomalies = detectAnomalies({ recordsRead: 3000, errorRate: 0.02, durationSeconds: 10 }, history(5), settings)
    expect(anomalies.map((a) => [a.type, a.severity])).toEqual([["volume", "critical"]])
    expect(anomalies[0]!.message).toMatch(/volume 3000 records is .* above the mean of the last 5 successful runs/)
  })

  it("stays quiet for a normal run and before there is enough history", () => {
    expect(detectAnomalies({ recordsRead: 1030, errorRate: 0.025, durationSeconds: 11 }, history(5), settings)).toEqual([])
    expect(detectAnomalies({ recordsRead: 9000, errorRate: 0.5, durationSeconds: 99 }, history(4), settings)).toEqual([])
  })

  it("sees error-rate and duration anomalies, and drops in volume", () => {
    const types = detectAnomalies({ recordsRead: 100, errorRate: 0.3, durationSeconds: 60 }, history(8), settings).map((a) => a.type)
    expect(types).toEqual(["volume", "error_rate", "duration"])
  })
})

describe("run_data_quality_checks", () => {
  const figures = { customers: 100, customersFlagged: 3, facts: 1000, newestTransaction: "2026-11-24" }
  const run = { processed: 1000, rejected: 10, referential: 0, facts: 1000, backfill: false, today: "2026-11-25" }

  it("grades each check against its warn and error thresholds", () => {
    expect(qualityChecks(run, figures, thresholds).map((f) => [f.check, f.level])).toEqual([
      ["completeness", "ok"], ["validity", "ok"], ["consistency", "ok"], ["timeliness", "ok"]
    ])
    const bad = qualityChecks({ ...run, rejected: 100, referential: 50 }, { ...figures, customersFlagged: 30, newestTransaction: "2026-11-20" }, thresholds)
    expect(bad.map((f) => [f.check, f.level])).toEqual([
      ["completeness", "error"], ["validity", "warn"], ["consistency", "warn"], ["timeliness", "warn"]
    ])
  })

  it("does not grade old data on a backfill", () => {
    const [, , , timeliness] = qualityChecks({ ...run, backfill: true }, { ...figures, newestTransaction: "2020-01-01" }, thresholds)
    expect(timeliness).toMatchObject({ level: "ok" })
    expect(timeliness!.detail).toContain("not graded on a backfill")
  })
})
