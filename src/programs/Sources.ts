/**
 * One program per source: extract → transform → stage, then the set-based
 * merge into its table. A SourceError ends only its own branch.
 */
import { Effect, Option, Stream } from "effect"
import * as Money from "../rules/Money.js"
import type { DateWindow, RawSale } from "../rules/Sales.js"
import { SALE_COLUMNS } from "../rules/Sales.js"
import { AppConfig } from "../services/AppConfig.js"
import { Metrics } from "../services/Metrics.js"
import { retryTransient } from "../services/Resilience.js"
import { Warehouse, type StagedSale } from "../services/Warehouse.js"
import { extractCustomers, extractProducts, extractSalesCsv } from "./Extract.js"
import { loadOutcomes } from "./Load.js"
import { extractSalesDatabase } from "./SourceDatabase.js"
import { transformCustomers, transformProducts, transformSale, transformSalesCsv, type Outcome } from "./Transform.js"

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
    yield* extractCustomers(path).pipe(
      Stream.mapChunks(transformCustomers(path)),
      loadOutcomes(run.runId, { source: "customers", key: (r) => r.customer_id, stage: warehouse.stageCustomers })
    )
    const counts = yield* retryTransient(config.processing, "merging customers")(warehouse.mergeCustomers(run.runId, run.now))
    yield* metrics.changes("customer_dim", { ...counts })
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
    yield* document.products.pipe(
      Stream.mapChunks(transformProducts(path)),
      loadOutcomes(run.runId, { source: "products", key: (r) => r.product_id, stage: warehouse.stageProducts })
    )
    const counts = yield* retryTransient(config.processing, "merging products")(warehouse.mergeProducts(run.runId, run.now))
    yield* metrics.changes("product_dim", { ...counts })
    return { counts, metadata: document.metadata }
  })

const rawSaleFromPayload = (payload: string): RawSale => {
  let parsed: Record<string, unknown> = {}
  try {
    const p = JSON.parse(payload) as unknown
    if (typeof p === "object" && p !== null) parsed = p as Record<string, unknown>
  } catch {
    // An unreadable payload fails the rules below with a reason, like any bad record.
  }
  const out: Record<string, string> = {}
  for (const c of SALE_COLUMNS) out[c] = parsed[c] === null || parsed[c] === undefined ? "" : String(parsed[c])
  return out as unknown as RawSale
}

export const loadSales = (run: RunContext) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const warehouse = yield* Warehouse
    const metrics = yield* Metrics
    const path = config.files.salesFile
    yield* metrics.source("sales", Option.match(config.files.sourceDatabase, { onNone: () => path, onSome: (d) => d.display }))

    const costs = new Map<string, Money.Decimal | null>()
    for (const [id, cost] of yield* warehouse.productCosts) costs.set(id, cost === null ? null : (Money.parseDecimal(cost) ?? null))
    const pricing = { window: run.window, costOf: (id: string) => costs.get(id), commissionRate: config.processing.commissionRate }
    const stageSales = loadOutcomes<StagedSale>(run.runId, {
      source: "sales",
      key: (r) => r.transaction_id,
      stage: warehouse.stageSales
    })

    // Late-arriving dimensions: every run retries the open referential rejects, whatever its window.
    // They are staged first, so a newer copy of the same transaction in this run's input wins.
    const open = yield* warehouse.openRejects("sales", "referential")
    if (open.length > 0) yield* Effect.logInfo(`retrying ${open.length} sale(s) quarantined for a missing customer or product`)
    const retryPricing = { ...pricing, window: { from: null, to: null } }
    yield* Stream.fromIterable(open).pipe(
      Stream.map((r): Outcome<StagedSale> =>
        transformSale(rawSaleFromPayload(r.payload), retryPricing, r.location ?? "etl_rejects", () => JSON.parse(r.payload))),
      stageSales
    )

    yield* Option.match(config.files.sourceDatabase, {
      onNone: () => extractSalesCsv(path).pipe(Stream.mapChunks(transformSalesCsv(path, pricing))),
      onSome: (db) => {
        const location = `${db.display} sales_transactions`
        return extractSalesDatabase(db, run.window, config.processing.batchSize, config.processing).pipe(
          Stream.map((raw): Outcome<StagedSale> => transformSale(raw, pricing, location, () => ({ ...raw })))
        )
      }
    }).pipe(stageSales)
    const merge = yield* retryTransient(config.processing, "merging sales")(warehouse.mergeSales(run.runId, run.now, run.moveMark))
    if (merge.referential > 0) yield* metrics.reclassify("sales", "referential", merge.referential)
    yield* metrics.changes("sales_fact", { ...merge })
    return merge
  })
