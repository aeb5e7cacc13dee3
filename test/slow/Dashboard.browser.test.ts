/**
 * The dashboard in a real browser: headless Chromium (Debian's package, driven
 * by playwright-core) opens dashboard.html after five runs, one partial and one
 * with anomalies, counts what the charts drew, and saves a screenshot.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, TestClock } from "effect"
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { chromium } from "playwright-core"
import * as TestLayer from "../../src/layers/Test.js"
import { dashboardFigures, renderDashboard } from "../../src/programs/Dashboard.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs, rewrite } from "../support/Fixtures.js"

const CHROMIUM = "/usr/bin/chromium"
const SLOW = process.env.ETL_SLOW_TESTS === "1"
const skip = !SLOW
  ? "browser tests are slow; set ETL_SLOW_TESTS=1 to run them (CI does)"
  : !existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install chromium; .ci/run does)` : undefined
if (skip !== undefined) console.log(`skipped: ${skip}`)

const root = join(import.meta.dirname, "../..")
const fixture = inputs({})
for (const f of ["customers.csv", "products.json", "sales_transactions.csv"]) copyFileSync(join(root, "data/input", f), join(fixture.settings.INPUT_DIR!, f))
const sales = readFileSync(join(root, "data/input/sales_transactions.csv"), "utf8")
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

describe.skipIf(skip !== undefined)("dashboard in Chromium", () => {
  it.layer(TestLayer.layer({ ...fixture.settings, ANOMALY_MIN_HISTORY: "2" }))((it) => {
    it.effect("shows five runs, the partial one and the anomaly at a glance", () =>
      Effect.gen(function* () {
        const next = TestClock.adjust(Duration.minutes(10))
        for (let i = 0; i < 3; i++) yield* Effect.zipRight(runPipeline(full), next)
        // Triple the sales volume: an anomaly against the three runs before.
        const rows = sales.trimEnd().split("\n")
        rewrite(fixture.dir, "sales_transactions.csv", [rows[0], ...[1, 2, 3].flatMap((k) => rows.slice(1).map((r) => r.replace(/^T/, `T${k}`)))].join("\n") + "\n")
        const anomalous = yield* Effect.zipLeft(runPipeline(full), next)
        expect(anomalous.anomalies.length).toBeGreaterThan(0)
        rewrite(fixture.dir, "products.json", `{"products": [`)
        yield* runPipeline(full)
        const html = renderDashboard(yield* dashboardFigures())
        const out = join(fixture.settings.OUTPUT_DIR!)
        mkdirSync(out, { recursive: true })
        writeFileSync(join(out, "dashboard.html"), html)

        const seen = yield* Effect.promise(async () => {
          const browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
          })
          try {
            const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
            await page.goto(`file://${join(out, "dashboard.html")}`)
            const counts = {
              runs: await page.locator("rect.run").count(),
              partial: await page.locator("rect.run.status-partial").count(),
              durationPoints: await page.locator('figure[data-chart="Duration"] circle.point').count(),
              anomalyPoints: await page.locator('figure[data-chart="Error rate"] circle.point.anomaly').count(),
              qualityRows: await page.locator("tr.quality-row").count()
            }
            await page.screenshot({ path: join(out, "dashboard.png"), fullPage: true })
            const phone = await browser.newPage({ viewport: { width: 390, height: 844 } })
            await phone.goto(`file://${join(out, "dashboard.html")}`)
            // Runs in the page: the document there is the browser's.
            const overflow = await phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            return { ...counts, overflow }
          } finally {
            await browser.close()
          }
        })
        expect(seen).toEqual({ runs: 5, partial: 1, durationPoints: 5, anomalyPoints: 1, qualityRows: 5, overflow: 0 })
        expect(existsSync(join(out, "dashboard.png"))).toBe(true)
        console.log(`screenshot: ${join(out, "dashboard.png")}`)
      }), 120_000)
  })
})
