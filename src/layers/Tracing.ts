/**
 * The stage spans exported through OTLP/HTTP (JSON) to
 * OTEL_EXPORTER_OTLP_ENDPOINT when it is set; when it is not, nothing is
 * installed and spans cost nothing beyond Effect's own bookkeeping.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../services/AppConfig.js"

export const layer = Layer.unwrapEffect(
  Effect.flatMap(AppConfig, ({ logging }) =>
    Option.match(logging.otelEndpoint, {
      onNone: () => Effect.succeed(Layer.empty),
      // The exporter is loaded only when it is configured.
      onSome: (endpoint) =>
        Effect.promise(() => Promise.all([import("@effect/opentelemetry/OtlpTracer"), import("@effect/opentelemetry/OtlpSerialization")])).pipe(
          Effect.map(([OtlpTracer, OtlpSerialization]) =>
            OtlpTracer.layer({
              url: `${endpoint.replace(/\/+$/, "")}/v1/traces`,
              resource: { serviceName: "etl", attributes: { "deployment.environment": logging.env } },
              exportInterval: Duration.seconds(2),
              shutdownTimeout: Duration.seconds(5)
            }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer)))
        )
    }))
)
