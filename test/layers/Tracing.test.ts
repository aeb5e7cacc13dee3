/** The stage spans reach an OTLP collector: here, an HTTP server on 127.0.0.1. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import * as Tracing from "../../src/layers/Tracing.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { inputs } from "../support/Fixtures.js"

describe("tracing", () => {
  it.live("exports the pipeline's stage spans to OTEL_EXPORTER_OTLP_ENDPOINT", () =>
    Effect.gen(function* () {
      const names: Array<string> = []
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (c) => (body += c))
        req.on("end", () => {
          if (req.url === "/v1/traces") {
            const doc = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ name: string }> }> }> }
            for (const r of doc.resourceSpans) for (const s of r.scopeSpans) for (const span of s.spans) names.push(span.name)
          }
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      yield* Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
      const port = (server.address() as AddressInfo).port
      const { settings } = inputs({})
      const all = { ...settings, INPUT_DIR: join(import.meta.dirname, "../../data/input"), OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }
      const layer = Tracing.layer.pipe(Layer.provideMerge(TestLayer.layer(all)))
      // The layer's scope closes after the run: the exporter flushes on shutdown.
      yield* runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }).pipe(Effect.provide(layer))
      server.close()
      for (const stage of ["pipeline", "migrate", "customers", "products", "sales", "validate", "quality"]) expect(names).toContain(stage)
    }), 30_000)
})
