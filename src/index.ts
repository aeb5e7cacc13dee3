/**
 * `etl` as a library: the programs, services and layers, for Effect apps that
 * run the pipeline with their own layers.
 *
 * @example
 * ```ts
 * import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
 * import { runPipeline, TestLayer } from "etl"
 *
 * const summary = await runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false })
 *   .pipe(Effect.provide(TestLayer.layer({ INPUT_DIR: "data/input" })), Effect.runPromise)
 * ```
 */

/** The whole pipeline; returns the run summary (its `status` says how the run ended). */
export { runPipeline, type RunOptions } from "./programs/Pipeline.js"
/** One program per source, for apps that compose their own pipeline. */
export { loadCustomers, loadProducts, loadSales, type RunContext } from "./programs/Sources.js"
/** The source streams (extract) and the chunk transforms. */
export { extractCustomers, extractProducts, extractSalesCsv } from "./programs/Extract.js"
export { transformCustomers, transformProducts, transformSalesCsv, transformSale, type Outcome } from "./programs/Transform.js"
/** Run summary, failed-records CSV and the printed table. */
export { formatSummary, failedRecordsCsv, type RunSummary } from "./programs/Report.js"
/** The business rules as pure functions. */
export * as Customers from "./rules/Customers.js"
export * as Products from "./rules/Products.js"
export * as Sales from "./rules/Sales.js"
export * as Money from "./rules/Money.js"
export * as Dates from "./rules/Dates.js"
/** Services: configuration, the warehouse port, metrics, retries. */
export { AppConfig, describeConfigError, parseDatabaseUrl } from "./services/AppConfig.js"
export { Warehouse, type WarehouseService, type ChangeCounts } from "./services/Warehouse.js"
export { Metrics } from "./services/Metrics.js"
export { transientRetry, retryTransient } from "./services/Resilience.js"
/** Alerts (simulated email and Slack, throttled) and the circuit breaker. */
export { Alerts, type Alert, type Severity } from "./services/Alerts.js"
export { CircuitBreaker, CircuitOpen } from "./services/CircuitBreaker.js"
/** Record shapes and typed errors. */
export * from "./schema/Records.js"
export { Reject, RejectCategory } from "./schema/Reject.js"
export * from "./schema/Errors.js"
/** Layers: the live wiring, the SQLite warehouse, and in-memory wiring for tests. */
export * as MainLayer from "./layers/Main.js"
export * as TestLayer from "./layers/Test.js"
export * as SqliteWarehouse from "./services/warehouse/SqliteWarehouse.js"
