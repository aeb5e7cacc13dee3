/**
 * The second thread of ReadThread: reads the sales CSV, puts every row through
 * the rules and sends each batch split into rows, rejects and filtered counts.
 * It sends a batch only when the run's thread has taken all but AHEAD of the
 * ones before, and ends with `Done`, `Failed` when the file cannot be read, or
 * `Crashed` on a defect.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { parentPort, workerData } from "node:worker_threads"
import * as Money from "../rules/Money.js"
import { costLookup } from "../rules/Sales.js"
import { Metrics } from "../services/Metrics.js"
import { encodeBatch, type FromReadThread, type ReadThreadInput } from "./ReadThread.js"
import { salesCsvBatches } from "./Transform.js"

const input = workerData as ReadThreadInput
const port = parentPort!
const send = (message: FromReadThread) => port.postMessage(message)

let credits = input.ahead
let wake: (() => void) | undefined
const onNext = () => {
  credits += 1
  const w = wake
  wake = undefined
  w?.()
}
port.on("message", onNext)
/** Waits until the run's thread has room for one more batch. */
const credit = Effect.async<void>((resume) => {
  const take = () => {
    credits -= 1
    resume(Effect.void)
  }
  if (credits > 0) take()
  else wake = take
})

const pricing = { window: input.window, costOf: costLookup(input.costs), commissionRate: Money.parseDecimal(input.commissionRate)! }

const program = Effect.gen(function* () {
  const metrics = yield* Metrics
  yield* salesCsvBatches(input.path, pricing, input.batchSize, (r) => r.transaction_id).pipe(
    Stream.runForEach((batch) =>
      Effect.gen(function* () {
        const progress = (yield* metrics.snapshot).sources["sales"]
        yield* credit
        send(encodeBatch(batch, progress?.bytesRead ?? 0, progress?.bytesTotal ?? 0))
      }))
  )
  send({ _tag: "Done" })
}).pipe(
  Effect.catchTag("SourceError", (e) =>
    Effect.sync(() => send({ _tag: "Failed", source: e.source, location: e.location, reason: e.reason, transient: e.transient }))),
  // A defect (a bug in a rule) is reported to the run's thread, which ends the read with it.
  Effect.catchAllDefect((defect) => Effect.sync(() => send({ _tag: "Crashed", message: Cause.pretty(Cause.die(defect)) }))),
  Effect.ensuring(Effect.sync(() => port.off("message", onNext))),
  Effect.provide(Layer.merge(NodeFileSystem.layer, Metrics.Default))
)

// The thread's edge: the only place here that runs an Effect.
NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })
