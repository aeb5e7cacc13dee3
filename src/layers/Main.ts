/**
 * The live wiring of one run: configuration, the warehouse picked by
 * DATABASE_URL, metrics, logging, and Node's platform services.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Layer from "effect/Layer"
import { Alerts } from "../services/Alerts.js"
import { AppConfig } from "../services/AppConfig.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { Metrics } from "../services/Metrics.js"
import * as Logging from "./Logging.js"
import * as Tracing from "./Tracing.js"
import * as Warehouse from "./Warehouse.js"

export const layer = Layer.mergeAll(Warehouse.layer, Metrics.Default, Tracing.layer).pipe(
  Layer.provideMerge(CircuitBreaker.Default),
  Layer.provideMerge(Alerts.Default),
  // Installed first, so that building the other layers (connecting, retrying) logs through it too.
  Layer.provideMerge(Logging.layer),
  Layer.provideMerge(AppConfig.Default),
  Layer.provideMerge(NodeContext.layer)
)
