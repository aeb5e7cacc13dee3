/** OpenLineage run events: START then COMPLETE, datasets by the naming spec, row counts, posted when configured. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs } from "../support/Fixtures.js"
import { httpSink } from "../support/HttpSink.js"

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const root = join(import.meta.dirname, "../..")

describe("OpenLineage", () => {
  it.scopedLive("writes START and COMPLETE for a run to lineage.jsonl and posts them to OPENLINEAGE_URL", () =>
    Effect.gen(function* () {
      const lineageServer = yield* httpSink(201)
      const { dir, settings } = inputs({})
      const layer = TestLayer.layer({
        ...settings, INPUT_DIR: join(root, "data/input"), OPENLINEAGE_URL: lineageServer.url
      }, join(dir, "w.db"))
      const summary = yield* runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: false, dryRun: false }).pipe(Effect.provide(layer))
      const posted = lineageServer.received.filter((r) => r.path === "/api/v1/lineage").map((r) => r.body)
      const events = readFileSync(join(settings.OUTPUT_DIR!, "lineage.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      expect(events.map((e) => e.eventType)).toEqual(["START", "COMPLETE"])
      expect(posted).toEqual(events)
      for (const e of events) {
        expect(e).toMatchObject({ producer: "urn:etl:0.1.0", schemaURL: "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent", job: { namespace: "etl-dev", name: "etl.run" } })
        expect(e.run.runId).toMatch(UUID)
        expect(Date.parse(e.eventTime)).not.toBeNaN()
        expect(e.inputs.map((d: { namespace: string }) => d.namespace)).toEqual(["file", "file", "file"])
      }
      expect(events[0].run.runId).toBe(events[1].run.runId)
      expect(events[1].run.facets.etl).toMatchObject({ runId: summary.run_id, status: "success" })
      const stats = events[1].outputs.map((o: { name: string; outputFacets: { outputStatistics: { rowCount: number; _producer: string; _schemaURL: string } } }) =>
        [o.name.split(".").pop(), o.outputFacets.outputStatistics.rowCount])
      expect(stats).toEqual([["customer_dim", 19], ["product_dim", 10], ["sales_fact", 16]])
      expect(events[1].outputs[0].name).toBe(`${join(dir, "w.db")}.main.customer_dim`)
    }), 30_000)
})
