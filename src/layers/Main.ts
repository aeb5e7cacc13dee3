/**
 * The live wiring of one run: configuration, the warehouse picked by
 * DATABASE_URL, metrics, logging, and Node's platform services.
 */
import { NodeContext } from "@effect/platform-node"
import { Layer } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import * as Logging from "./Logging.js"
import * as Warehouse from "./Warehouse.js"

export const layer = Layer.mergeAll(Warehouse.layer, Metrics.Default, Logging.layer).pipe(
  Layer.provideMerge(AppConfig.Default),
  Layer.provideMerge(NodeContext.layer)
)
