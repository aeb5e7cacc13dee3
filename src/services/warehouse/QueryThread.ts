/**
 * Read-only queries on a second SQLite connection, on a worker thread: what the
 * run's thread does meanwhile goes on beside them (better-sqlite3 holds its
 * thread for a whole statement). The warehouse's validation scans every fact
 * there while the run's thread writes the failed-records file.
 */
import { Deferred, Effect, Exit } from "effect"
import { startThread, threadScript } from "../../programs/ThreadScript.js"

export interface QueryInput {
  /** The warehouse's file. */
  readonly file: string
  readonly statements: ReadonlyArray<{ readonly sql: string; readonly params: ReadonlyArray<unknown> }>
}

export type FromQueryThread =
  | { readonly _tag: "Rows"; readonly results: ReadonlyArray<ReadonlyArray<Record<string, unknown>>> }
  | { readonly _tag: "Failed"; readonly reason: string }

// The thread holds a few rows of counts: small heap limits, so it adds little to the run's peak
// (its page cache is SQLite's, outside them).
const LIMITS = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }

const script = threadScript("query-thread", "../services/warehouse/QueryThreadWorker.ts")

/**
 * The rows of each statement, read on a thread of their own in one read transaction, so they
 * see one committed state of `file`; fails with why when the thread could not open or read it.
 */
export const queryOnThread = (input: QueryInput): Effect.Effect<ReadonlyArray<ReadonlyArray<Record<string, unknown>>>, string> =>
  Effect.scoped(Effect.gen(function* () {
    const answer = yield* Deferred.make<ReadonlyArray<ReadonlyArray<Record<string, unknown>>>, string>()
    // The first word settles it: the thread's exit after its rows changes nothing.
    yield* startThread<FromQueryThread>(
      yield* script,
      input,
      LIMITS,
      (m) => Deferred.unsafeDone(answer, m._tag === "Rows" ? Exit.succeed(m.results) : Exit.fail(m.reason)),
      (reason) => Deferred.unsafeDone(answer, Exit.fail(reason))
    )
    return yield* Deferred.await(answer)
  }).pipe(
    // A thread that cannot be started (no script to run, no worker threads) is one that cannot read.
    Effect.catchAllDefect((defect) => Effect.fail(`the thread could not start: ${defect instanceof Error ? defect.message : String(defect)}`))
  ))
