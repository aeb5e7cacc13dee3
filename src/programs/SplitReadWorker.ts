/**
 * The second thread of SplitRead: reads the sales CSV from a line's start to its
 * end, puts every row through the rules, and writes what the direct load would
 * write into the side file (warehouse/SideFile). It sends each batch's counts
 * and how far it has read, then `Done` with the line it started on, or `Failed`
 * with why it stopped (the run's thread then reads the part itself).
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { parentPort, workerData } from "node:worker_threads"
import * as Money from "../rules/Money.js"
import { costLookup } from "../rules/Sales.js"
import { Reject } from "../schema/Reject.js"
import { KeySet } from "../services/warehouse/KeySet.js"
import { openSideWriter, type SideWriter } from "../services/warehouse/SideFile.js"
import { locatedPayload } from "./Load.js"
import { linesBefore, type FromSplitThread, type SplitInput } from "./SplitRead.js"
import { releaseBatch, salesCsvBatches } from "./Transform.js"

const input = workerData as SplitInput
const port = parentPort!
const send = (message: FromSplitThread) => port.postMessage(message)

const pricing = { window: input.window, costOf: costLookup(input.costs), commissionRate: Money.parseDecimal(input.commissionRate)! }

const program = Effect.gen(function* () {
  const line = yield* Effect.sync(() => linesBefore(input.path, input.at))
  const writer = yield* Effect.acquireRelease(
    Effect.sync((): SideWriter =>
      openSideWriter(input.file, KeySet.fromParts(input.customers), KeySet.fromParts(input.products), (row, reason) =>
        new Reject({
          source: "sales",
          record_key: row.transaction_id,
          category: "constraint",
          reason: `the warehouse refused the record: ${reason}`,
          ...locatedPayload(row)
        }))),
    (w) => Effect.sync(() => w.close())
  )
  let bytesRead = input.at
  yield* salesCsvBatches(input.path, pricing, input.batchSize, (r) => r.transaction_id, undefined, {
    from: { offset: input.at, line, header: input.header },
    progress: (read) => Effect.sync(() => void (bytesRead = read))
  }).pipe(
    Stream.runForEach((batch) =>
      Effect.sync(() => {
        const refused = writer.write(batch.rows, batch.rejects)
        const rejectedBy: Record<string, number> = {}
        for (const r of [...batch.rejects, ...refused]) rejectedBy[r.category] = (rejectedBy[r.category] ?? 0) + 1
        send({ _tag: "Batch", read: batch.read, rejectedBy, filtered: batch.filtered, bytesRead })
        releaseBatch(batch)
      }))
  )
  return line
}).pipe(
  Effect.scoped,
  Effect.flatMap((line) => Effect.sync(() => send({ _tag: "Done", line }))),
  Effect.catchTag("SourceError", (e) => Effect.sync(() => send({ _tag: "Failed", reason: `${e.location}: ${e.reason}` }))),
  Effect.catchAllDefect((defect) => Effect.sync(() => send({ _tag: "Failed", reason: Cause.pretty(Cause.die(defect)) }))),
  Effect.provide(NodeFileSystem.layer)
)

// The thread's edge: the only place here that runs an Effect.
NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
