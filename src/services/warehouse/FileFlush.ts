/**
 * Writes a SQLite warehouse file's pages to disk ahead of a first load's commit. Under a rollback
 * journal the load's pages go into the file as SQLite's cache spills them, and the commit's fsync
 * then waits for all of them: at 1M facts, 0.2-0.4 s with the run's thread idle. `start` begins an
 * fdatasync of the file on libuv's thread pool (unless one is under way), so the disk takes them
 * while the run's thread goes on: after each batch of a first load and before each index build.
 * What SQLite writes into the file mid-transaction is already covered by its synced journal, so
 * writing it out earlier changes nothing but when.
 *
 * The descriptor is opened at the first `start` and closed only after the connection: closing any
 * descriptor of a file drops every POSIX lock the process holds on it, SQLite's included. Its
 * layer is built before the SqlClient's, so its scope closes after it (SqliteWarehouse).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { close, fdatasync, openSync } from "node:fs"

export class FileFlush extends Context.Tag("etl/FileFlush")<FileFlush, {
  /** Begins writing the file's pages to disk, unless that is under way; never waits, never fails. */
  readonly start: Effect.Effect<void>
}>() {}

/** For a warehouse in memory: nothing to write. */
export const none = Layer.succeed(FileFlush, { start: Effect.void })

/** A SQLite filename that names a file of its own (not `:memory:`, nor a `file:` URI): what a second thread or descriptor can open. */
export const isFile = (filename: string | undefined): filename is string =>
  filename !== undefined && filename !== "" && filename !== ":memory:" && !filename.startsWith("file:")

export const layer = (filename: string) =>
  !isFile(filename) ? none : Layer.scoped(
    FileFlush,
    Effect.gen(function* () {
      let fd: number | undefined
      let broken = false
      let pending: Promise<void> | undefined
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          await pending
          if (fd !== undefined) await new Promise<void>((done) => close(fd!, () => done()))
        }))
      return {
        start: Effect.sync(() => {
          if (broken || pending !== undefined) return
          try {
            fd ??= openSync(filename, "r")
          } catch {
            broken = true
            return
          }
          // An error here (EIO) is SQLite's to meet at its own fsync, which decides the commit.
          pending = new Promise<void>((done) => fdatasync(fd!, () => done())).then(() => {
            pending = undefined
          })
        })
      }
    })
  )
