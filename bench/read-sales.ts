/**
 * Reading alone: the sales CSV extracted and transformed (every rule) without
 * a warehouse, counting what comes out. Peak memory here is the extraction's
 * own: `bash bench/read.sh` runs it at several sizes.
 * Usage: node dist/read-sales.mjs FILE   (bench/read.sh bundles it first)
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Stream } from "effect"
import { extractSalesCsv } from "../src/programs/Extract.js"
import { isFiltered, transformSalesCsv } from "../src/programs/Transform.js"
import { productCost } from "../src/rules/Sales.js"
import * as Money from "../src/rules/Money.js"
import { Reject } from "../src/schema/Reject.js"

const path = process.argv[2]!
const pricing = { window: { from: null, to: null }, costOf: () => productCost(Money.parseDecimal("12.50")!), commissionRate: Money.parseDecimal("0.03")! }
const counts = { read: 0, loaded: 0, rejected: 0, filtered: 0 }
const started = performance.now()
await Effect.runPromise(
  extractSalesCsv(path).pipe(
    Stream.mapChunks(transformSalesCsv(path, pricing)),
    Stream.runForEach((o) =>
      Effect.sync(() => {
        counts.read++
        if (o instanceof Reject) counts.rejected++
        else if (isFiltered(o)) counts.filtered++
        else counts.loaded++
      })),
    Effect.provide(NodeContext.layer)
  )
)
console.log(JSON.stringify({ ...counts, seconds: (performance.now() - started) / 1000 }))
