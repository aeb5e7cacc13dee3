/**
 * The second thread of SplitRead: counts the lines before its part, waits for the
 * rest of its input (the dimensions' keys, the product costs), then reads the sales
 * CSV from a line's start to its end, puts every row through the rules, and writes what the direct load would
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
import { linesBefore, type FromSplitThread, type SplitInput, type SplitPart } from "./SplitRead.js"
import { releaseBatch, salesCsvBatches } from "./Transform.js"

const part = workerData as SplitPart
const port = parentPort!
const send = (message: FromSplitThread) => port.postMessage(message)

/** The rest of the input, sent once the dimensions are loaded (the thread may be started before). */
const rest = Effect.async<SplitInput>((resume) => {
  port.once("message", (input: SplitInput) => resume(Effect.succeed(input)))
})

const program = Effect.gen(function* () {
  // Counted while the run's thread loads the dimensions, when the thread is started ahead.
  const line = yield* Effect.sync(() => linesBefore(part.path, part.at))
  const input = yield* rest
  const pricing = { window: input.window, costOf: costLookup(input.costs), commissionRate: Money.parseDecimal(input.commissionRate)! }
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
  let bytesRead = part.at
  yield* salesCsvBatches(part.path, pricing, input.batchSize, (r) => r.transaction_id, undefined, {
    from: { offset: part.at, line, header: part.header },
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
