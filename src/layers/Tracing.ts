/**
 * The stage spans exported through OTLP/HTTP (JSON) to
 * OTEL_EXPORTER_OTLP_ENDPOINT when it is set; when it is not, nothing is
 * installed and spans cost nothing beyond Effect's own bookkeeping.
 */
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as OtlpTracer from "@effect/opentelemetry/OtlpTracer"
import { FetchHttpClient } from "@effect/platform"
import { Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "../services/AppConfig.js"

export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, ({ logging }) =>
    Option.match(logging.otelEndpoint, {
      onNone: () => Layer.empty,
      onSome: (endpoint) =>
        OtlpTracer.layer({
          url: `${endpoint.replace(/\/+$/, "")}/v1/traces`,
          resource: { serviceName: "etl", attributes: { "deployment.environment": logging.env } },
          exportInterval: Duration.seconds(2),
          shutdownTimeout: Duration.seconds(5)
        }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
    }))
)
