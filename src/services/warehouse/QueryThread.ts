/**
 * Read-only queries on a second SQLite connection, on a worker thread: what the
 * run's thread does meanwhile goes on beside them (better-sqlite3 holds its
 * thread for a whole statement). The warehouse's validation scans every fact
 * there while the run's thread writes the failed-records file.
 *
 * A thread can be started ahead (`warm`) while the run's thread still builds
 * the load's indexes: the query then finds it ready instead of waiting for a
 * thread to start, 0.05-0.25 s at the end of a 1M load, most of it on the
 * path every run waits on.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { Worker } from "node:worker_threads"
import { newThread, threadScript } from "../../programs/ThreadScript.js"

export interface QueryInput {
  /** The warehouse's file. */
  readonly file: string
  readonly statements: ReadonlyArray<{ readonly sql: string; readonly params: ReadonlyArray<unknown> }>
}

/** What the thread is started with: how long it waits for its query before it ends by itself. */
export interface QueryThreadData {
  readonly idleMs: number
}

export type FromQueryThread =
  | { readonly _tag: "Rows"; readonly results: ReadonlyArray<ReadonlyArray<Record<string, unknown>>> }
  | { readonly _tag: "Failed"; readonly reason: string }

type Rows = ReadonlyArray<ReadonlyArray<Record<string, unknown>>>

// The thread holds a few rows of counts: small heap limits, so it adds little to the run's peak
// (its page cache is SQLite's, outside them).
const LIMITS = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }

/**
 * A thread started ahead and never asked ends after this long: in an app that embeds the
 * pipeline, a run that fails before its validation leaves nothing running. It does not hold the
 * process open meanwhile.
 */
const IDLE_MS = 60_000

const script = threadScript("query-thread", "../services/warehouse/QueryThreadWorker.ts")

interface Thread {
  readonly worker: Worker
  /** Its rows, or why it has none: its first word settles it, its exit after them changes nothing. */
  readonly answer: Deferred.Deferred<Rows, string>
  /** It sent its answer or exited. */
  readonly done: () => boolean
}

const spawn = (idleMs: number): Effect.Effect<Thread> => Effect.gen(function* () {
  const answer = yield* Deferred.make<Rows, string>()
  const data: QueryThreadData = { idleMs }
  let done = false
  const settle = (exit: Exit.Exit<Rows, string>) => {
    done = true
    Deferred.unsafeDone(answer, exit)
  }
  const worker = newThread<FromQueryThread>(yield* script, data, LIMITS,
    (m) => settle(m._tag === "Rows" ? Exit.succeed(m.results) : Exit.fail(m.reason)),
    (reason) => settle(Exit.fail(reason)))
  return { worker, answer, done: () => done }
})

/** Asks `thread` at once; the answer's wait ends the thread after, whatever happened. */
const ask = (thread: Thread, input: QueryInput): Effect.Effect<Effect.Effect<Rows, string>> =>
  Effect.sync(() => {
    // Asked, it holds the process open again until it answers, as the run's other waits do.
    thread.worker.ref()
    thread.worker.postMessage(input)
    return Deferred.await(thread.answer).pipe(Effect.ensuring(Effect.promise(() => thread.worker.terminate())))
  })

/** A thread that cannot be started (no script to run, no worker threads) is one that cannot read. */
const couldNotStart = (defect: unknown) =>
  Effect.fail(`the thread could not start: ${defect instanceof Error ? defect.message : String(defect)}`)

export interface QueryThreads {
  /** Starts a thread for the next query, unless one is waiting already. Never fails: the query starts its own. */
  readonly warm: Effect.Effect<void>
  /**
   * Sends the statements to a thread at once (the one started ahead, else a new one) and answers
   * the wait for their rows: read in one read transaction, so they see one committed state of
   * `file`. The wait fails with why when the thread could not open or read it. Sent at once: the run's
   * thread goes on with its own work meanwhile, and the thread is not left waiting for it.
   */
  readonly send: (input: QueryInput) => Effect.Effect<Effect.Effect<Rows, string>>
}

export const makeQueryThreads = (idleMs = IDLE_MS): QueryThreads => {
  let waiting: Thread | undefined
  /** The thread started ahead, if it still waits. */
  const ready = () => (waiting?.done() === false ? waiting : undefined)
  const cold = (input: QueryInput) =>
    Effect.flatMap(spawn(idleMs), (thread) => ask(thread, input)).pipe(Effect.catchAllDefect((defect) => Effect.succeed(couldNotStart(defect))))
  return {
    warm: Effect.suspend(() => {
      if (ready() !== undefined) return Effect.void
      return Effect.map(spawn(idleMs), (thread) => {
        thread.worker.unref()
        waiting = thread
      })
    }).pipe(Effect.catchAllDefect(() => Effect.void)),
    send: (input) =>
      Effect.suspend(() => {
        const thread = ready()
        waiting = undefined
        if (thread === undefined) return cold(input)
        // One that ended while it waited (its idle time ran out as it was asked) is replaced once.
        return Effect.map(ask(thread, input), (answer) => Effect.catchAll(answer, () => Effect.flatten(cold(input))))
      })
  }
}
