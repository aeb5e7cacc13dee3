/** The dashboard and its figures after runs of every status. */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { dashboardFigures, renderDashboard } from "../../src/programs/Dashboard.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs, rewrite } from "../support/Fixtures.js"
import { copyFileSync } from "node:fs"

const root = join(import.meta.dirname, "../..")
const fixture = inputs({})
for (const f of ["customers.csv", "products.json", "sales_transactions.csv"]) {
  copyFileSync(join(root, "data/input", f), join(fixture.settings.INPUT_DIR!, f))
}
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

describe("etl report", () => {
  it.layer(TestLayer.layer(fixture.settings))((it) => {
    it.effect("shows every run with its status, and the partial one at a glance", () =>
      Effect.gen(function* () {
        for (let i = 0; i < 4; i++) {
          yield* runPipeline(full)
          yield* TestClock.adjust(Duration.minutes(10))
        }
        rewrite(fixture.dir, "products.json", `{"products": [`)
        yield* runPipeline(full)
        const figures = yield* dashboardFigures()
        expect(figures.runs.map((r) => r.status)).toEqual(["success", "success", "success", "success", "partial"])
        expect(figures.rejects.length).toBeGreaterThan(0)
        expect(figures.latest?.status).toBe("partial")
        const html = renderDashboard(figures)
        expect(html.match(/class="run status-/g)).toHaveLength(5)
        expect(html.match(/class="run status-partial"/g)).toHaveLength(1)
        // One point per run on each chart that has a value for it (durations are 0 on the TestClock, so no throughput).
        const points = (chart: string) => html.split(`data-chart="${chart}"`)[1]!.split("</figure>")[0]!.match(/<circle class="point/g)?.length ?? 0
        expect(points("Duration")).toBe(5)
        expect(points("Error rate")).toBe(5)
        expect(html).not.toMatch(/<script src=|https?:\/\/(?!www\.w3\.org)/)
      }))
  })
})
