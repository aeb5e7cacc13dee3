/** The stage spans reach an OTLP collector: here, an HTTP server on 127.0.0.1. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import * as Tracing from "../../src/layers/Tracing.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs } from "../support/Fixtures.js"
import { httpSink } from "../support/HttpSink.js"

describe("tracing", () => {
  it.scopedLive("exports the pipeline's stage spans to OTEL_EXPORTER_OTLP_ENDPOINT", () =>
    Effect.gen(function* () {
      const collector = yield* httpSink()
      const { settings } = inputs({})
      const all = { ...settings, INPUT_DIR: join(import.meta.dirname, "../../data/input"), OTEL_EXPORTER_OTLP_ENDPOINT: collector.url }
      const layer = Tracing.layer.pipe(Layer.provideMerge(TestLayer.layer(all)))
      // The layer's scope closes after the run: the exporter flushes on shutdown.
      yield* runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }).pipe(Effect.provide(layer))
      type Traces = { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> }
      const names = collector.received.filter((r) => r.path === "/v1/traces")
        .flatMap((r) => (r.body as Traces).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name))))
      for (const stage of ["pipeline", "migrate", "customers", "products", "sales", "validate", "quality"]) expect(names).toContain(stage)
    }), 30_000)
})
