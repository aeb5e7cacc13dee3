/**
 * One program per source: extract → transform → stage, then the set-based
 * merge into its table. A SourceError ends only its own branch.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Money from "../rules/Money.js"
import { CUSTOMER_COLUMNS, standardizeCustomer } from "../rules/Customers.js"
import { enrichProduct } from "../rules/Products.js"
import type { DateWindow, RawSale } from "../rules/Sales.js"
import { costLookup, SALE_COLUMNS } from "../rules/Sales.js"
import type { CustomerRow, ProductRow } from "../schema/Records.js"
import { isRefusal, Reject } from "../schema/Reject.js"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { Warehouse, type SalesMerge, type SideLoad, type StagedSale } from "../services/Warehouse.js"
import type { WarehouseError } from "../schema/Errors.js"
import type { CsvItem, CsvPart } from "./Csv.js"
import { extractCustomersThrough, extractProducts } from "./Extract.js"
import { loadBatches, loadOutcomes } from "./Load.js"
import { readSalesOnThread } from "./ReadThread.js"
import { SPLIT_AUTO_BYTES, splitSalesRead, startSplit, type SplitStart } from "./SplitRead.js"
import { extractSalesDatabase } from "./SourceDatabase.js"
import { batched, salesCsvBatches, transformCustomers, transformProducts, transformSale, type Outcome } from "./Transform.js"

export interface RunContext {
  readonly runId: string
  readonly now: string
  readonly window: DateWindow
  readonly moveMark: boolean
}

export const loadCustomers = (run: RunContext) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const path = config.files.customersFile
    yield* metrics.source("customers", path)
    const read = (write: (runId: string, rows: ReadonlyArray<CustomerRow>) => Effect.Effect<void, WarehouseError>) =>
      Effect.gen(function* () {
        const stage = loadOutcomes<CustomerRow>(run.runId, { source: "customers", key: (r) => r.customer_id, stage: write })
        // Re-queued rejects first, so a newer copy of the same customer in this run's input wins.
        yield* retried("customers", (payload, location) => transformCustomerPayload(payload, location)).pipe(stage)
        // Put through the rules where each chunk is parsed: the parsed records are not emitted (Csv.readCsvThrough).
        yield* extractCustomersThrough(path, transformCustomers(path)).pipe(stage)
        yield* metrics.extracted("customers")
      })
    // Into an empty customer_dim (a first load, on SQLite) written once, without staging.
    const direct = yield* warehouse.loadCustomersDirectly(run.runId, run.now, read)
    const counts = Option.isSome(direct) ? direct.value : yield* Effect.zipRight(
      read(warehouse.stageCustomers),
      (yield* CircuitBreaker).resilient("warehouse", "merging customers", warehouse.mergeCustomers(run.runId, run.now))
    )
    yield* metrics.changes("customer_dim", { ...counts })
    yield* metrics.kept("customers", counts.inserted + counts.updated + counts.unchanged)
    return counts
  })

export const loadProducts = (run: RunContext) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const path = config.files.productsFile
    yield* metrics.source("products", path)
    const document = yield* extractProducts(path)
    const stage = loadOutcomes<ProductRow>(run.runId, { source: "products", key: (r) => r.product_id, stage: warehouse.stageProducts })
    yield* retried("products", (payload, location) => transformProductPayload(payload, location)).pipe(stage)
    yield* document.products.pipe(Stream.mapChunks(transformProducts(path)), stage)
    yield* metrics.extracted("products")
    const counts = yield* (yield* CircuitBreaker).resilient("warehouse", "merging products", warehouse.mergeProducts(run.runId, run.now))
    yield* metrics.changes("product_dim", { ...counts })
    yield* metrics.kept("products", counts.inserted + counts.updated + counts.unchanged)
    return { counts, metadata: yield* document.metadata }
  })

/** A source database's row as a reject's payload. */
const copyOf = (raw: RawSale): Record<string, unknown> => ({ ...raw })

/** A stored payload by lower-cased field name (a CSV header may have been `Transaction_ID`). */
const payloadFields = (payload: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (typeof payload === "object" && payload !== null) {
    for (const [k, v] of Object.entries(payload)) out[k.trim().toLowerCase()] = v
  }
  return out
}

const textFields = <K extends string>(payload: unknown, columns: ReadonlyArray<K>): Record<K, string> => {
  const fields = payloadFields(payload)
  const out = {} as Record<K, string>
  for (const c of columns) out[c] = fields[c] === null || fields[c] === undefined ? "" : String(fields[c])
  return out
}

const parsePayload = (payload: string): unknown => {
  try {
    return JSON.parse(payload)
  } catch {
    // An unreadable payload fails the rules with a reason, like any bad record.
    return {}
  }
}

/**
 * The rejects a run retries for `source` (referential ones, and those re-queued
 * with `etl rejects --requeue`), through the same rules as fresh input.
 */
const retried = <A>(source: "customers" | "products" | "sales", transform: (payload: unknown, location: string) => Outcome<A>) =>
  Stream.unwrap(
    Effect.gen(function* () {
      const open = yield* Effect.flatMap(Warehouse, (w) => w.rejectsToRetry(source))
      if (open.length > 0) yield* Effect.logInfo(`retrying ${open.length} ${source} record(s) from the dead-letter store`)
      return Stream.fromIterable(open).pipe(Stream.map((r) => transform(parsePayload(r.payload), r.location ?? "etl_rejects")))
    })
  )

const transformCustomerPayload = (payload: unknown, location: string): Outcome<CustomerRow> => {
  const result = standardizeCustomer(textFields(payload, CUSTOMER_COLUMNS))
  if (!isRefusal(result)) return result
  const key = textFields(payload, ["customer_id"]).customer_id.trim()
  return new Reject({ source: "customers", record_key: key === "" ? null : key, category: result.category, reason: result.reason, location, payload: payloadFields(payload) })
}

const transformProductPayload = (payload: unknown, location: string): Outcome<ProductRow> => {
  const result = enrichProduct(payload)
  if (!isRefusal(result)) return result
  const key = textFields(payload, ["product_id"]).product_id.trim()
  return new Reject({ source: "products", record_key: key === "" ? null : key, category: result.category, reason: result.reason, location, payload: payloadFields(payload) })
}

/**
 * Which of the run's sales one call reads and stages, and under which staging
 * id: the whole run (the default), or one partition of a partitioned run.
 */
export interface SalesScope {
  readonly stageId: string
  /** Whether the open rejects of the dead-letter store are retried here (once per run: its first partition). */
  readonly retry: boolean
  /** The source database is read for this window (a partition's day); the rules still filter by the run's. */
  readonly window: DateWindow
  /** Which CSV rows are this scope's (a partition's): each row of the file belongs to exactly one. */
  readonly owns?: ((item: CsvItem) => boolean) | undefined
}

const saleKey = (row: StagedSale) => row.transaction_id

/** The scope of an unpartitioned run: all its sales, staged under its own id, retries included. */
const wholeRun = (run: RunContext): SalesScope => ({ stageId: run.runId, retry: true, window: run.window })

/**
 * The sales of `scope` as batches, read and put through the rules: dead-letter
 * retries first (so a newer copy of the same transaction in the input wins),
 * then the input. A fact's cost_amount needs its product's cost: the products
 * are merged before.
 */
const salesBatches = (
  run: RunContext,
  scope: SalesScope,
  given: { readonly costs?: ReadonlyMap<string, string | null>; readonly part?: CsvPart | undefined } = {}
) =>
  Stream.unwrap(Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const path = config.files.salesFile
    yield* metrics.source("sales", Option.match(config.files.sourceDatabase, { onNone: () => path, onSome: (d) => d.display }))

    const costs = given.costs ?? (yield* warehouse.productCosts)
    const pricing = { window: run.window, costOf: costLookup(costs), commissionRate: config.processing.commissionRate }
    const inBatches = batched(config.processing.batchSize, saleKey)

    // Late-arriving dimensions: every run retries the open referential rejects, whatever its window.
    const retryPricing = { ...pricing, window: { from: null, to: null } }
    const retries = scope.retry
      ? inBatches(retried("sales", (payload, location) =>
        transformSale(textFields(payload, SALE_COLUMNS), retryPricing, location, payloadFields, payload)))
      : Stream.empty

    const owns = scope.owns
    // READ_THREAD=on: the CSV is read on a second thread (ReadThread); a partition's rows are picked
    // by a function, which stays on this thread.
    if (config.processing.readThread === "on" && Option.isNone(config.files.sourceDatabase) && owns === undefined) {
      return Stream.concat(retries, Stream.unwrap(Effect.as(Effect.logDebug(`reading ${path} on a second thread`), readSalesOnThread(
        {
          path,
          window: pricing.window,
          costs: [...costs],
          commissionRate: Money.formatDecimal(pricing.commissionRate),
          batchSize: config.processing.batchSize
        },
        (read, total) => metrics.bytes("sales", read, total)
      ))))
    }
    return Stream.concat(retries, Option.match(config.files.sourceDatabase, {
      // Read, transformed and batched in the step that parses each chunk (Csv.readCsvThrough).
      onNone: () => salesCsvBatches(path, pricing, config.processing.batchSize, saleKey, owns, given.part),
      onSome: (db) => {
        const location = `${db.display} sales_transactions`
        return inBatches(extractSalesDatabase(db, scope.window, config.processing.batchSize, config.processing).pipe(
          Stream.map((raw): Outcome<StagedSale> => transformSale(raw, pricing, location, copyOf, raw))
        ))
      }
    }))
  }))

const splitsSales = (config: AppConfig) =>
  config.processing.splitRead !== "off" && config.processing.readThread !== "on" && Option.isNone(config.files.sourceDatabase)
const splitMinBytes = (config: AppConfig) => config.processing.splitRead === "auto" ? SPLIT_AUTO_BYTES : 0

/**
 * The second thread of a split first load (splitSales), started while the dimensions load when
 * the run will split: the warehouse offers a side file and the sales file is large enough. Its
 * start (its code, the lines before its part) is then off the sales' path. loadSales hands it the
 * rest, or stops it. A dry run's transaction never offers a side file.
 */
export const startSalesSplit: Effect.Effect<Option.Option<SplitStart>, never, AppConfig | Warehouse | Scope.Scope> = Effect.gen(function* () {
  const config = yield* AppConfig
  if (!splitsSales(config)) return Option.none()
  if (!(yield* (yield* Warehouse).offersSideFile.pipe(Effect.orElseSucceed(() => false)))) return Option.none()
  return yield* startSplit(config.files.salesFile, splitMinBytes(config))
})

/**
 * A direct load's sales CSV split between this thread and a second one (SplitRead), when the
 * warehouse offers a side file, SPLIT_READ is not `off` (`auto`: the file holds at least
 * SPLIT_AUTO_BYTES) and the sales come from a CSV read here.
 */
const splitSales = (run: RunContext, side: SideLoad, costs: ReadonlyMap<string, string | null>, started: Option.Option<SplitStart> | undefined) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    if (!splitsSales(config)) return Option.none()
    return yield* splitSalesRead({
      path: config.files.salesFile,
      minBytes: splitMinBytes(config),
      started,
      window: run.window,
      costs,
      commissionRate: config.processing.commissionRate,
      batchSize: config.processing.batchSize
    }, side)
  })

/** Reads, transforms and stages sales for `scope` (the whole run by default, or one partition). */
export const stageSales = (run: RunContext, scope: SalesScope = wholeRun(run)) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    yield* salesBatches(run, scope).pipe(loadBatches(run.runId, { source: "sales", key: saleKey, stage: warehouse.stageSales }, scope.stageId))
    yield* (yield* Metrics).extracted("sales")
  })

/** Records a sales merge in the run's metrics. */
export const countSalesMerge = (merge: SalesMerge) =>
  Effect.flatMap(Metrics, (metrics) =>
    Effect.gen(function* () {
      if (merge.referential > 0) yield* metrics.reclassify("sales", "referential", merge.referential)
      yield* metrics.changes("sales_fact", { ...merge })
      yield* metrics.kept("sales", merge.inserted + merge.updated + merge.unchanged)
    }))

/** A second thread started ahead (startSalesSplit): done with, or never set reading (`used` false). */
const stopThread = (started: Option.Option<SplitStart> | undefined, used: () => boolean) =>
  started === undefined || Option.isNone(started) ? Effect.void : Effect.zipRight(
    Effect.promise(() => started.value.worker.terminate()),
    Effect.unless(Effect.logDebug("the second thread started ahead was not needed: the sales were not loaded directly"), used)
  )

/**
 * Sales start once the products are merged and read, transform and stage
 * while the customers still load; the merge waits for `customersLoaded` (its
 * referential check needs this run's customers). A first load into an empty
 * fact table, where the warehouse allows, writes the facts once instead:
 * straight into sales_fact after the customers, checked against the
 * dimensions in memory (Warehouse.loadFactsDirectly).
 */
export const loadSales = (run: RunContext, customersLoaded: Effect.Effect<void> = Effect.void, started?: Option.Option<SplitStart>) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    let used = false
    const direct = yield* warehouse.loadFactsDirectly(run.runId, run.now, run.moveMark, (write, side) =>
      Effect.scoped(Effect.gen(function* () {
        // The product costs, read once for this thread's rules and the second thread's.
        const costs = yield* warehouse.productCosts
        used = Option.isSome(side)
        const split = Option.isSome(side) ? yield* splitSales(run, side.value, costs, started) : Option.none()
        yield* salesBatches(run, wholeRun(run), { costs, part: Option.getOrUndefined(split)?.part }).pipe(
          loadBatches(run.runId, { source: "sales", key: saleKey, stage: write })
        )
        if (Option.isSome(split)) yield* split.value.finish
      })), customersLoaded).pipe(Effect.ensuring(stopThread(started, () => used)))
    if (Option.isSome(direct)) {
      yield* metrics.extracted("sales")
      yield* countSalesMerge(direct.value)
      return direct.value
    }
    yield* stageSales(run)
    yield* customersLoaded
    const merge = yield* (yield* CircuitBreaker).resilient("warehouse", "merging sales", warehouse.mergeSales(run.runId, run.now, run.moveMark))
    yield* countSalesMerge(merge)
    return merge
  })
