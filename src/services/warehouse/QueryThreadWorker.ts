/**
 * The thread of QueryThread: waits for its query, then opens the SQLite
 * warehouse read-only, runs the statements in one read transaction (one
 * snapshot), sends their rows and ends; or sends why it could not. Asked
 * nothing within its idle time, it ends.
 */
import Database from "better-sqlite3"
import { parentPort, workerData } from "node:worker_threads"
import type { FromQueryThread, QueryInput, QueryThreadData } from "./QueryThread.js"

const port = parentPort!
const send = (message: FromQueryThread) => port.postMessage(message)

const run = (input: QueryInput) => {
  try {
    const db = new Database(input.file, { readonly: true, fileMustExist: true })
    try {
      db.pragma("busy_timeout = 5000")
      db.pragma("cache_size = -2048")
      const read = db.transaction(() => input.statements.map(({ params, sql }) => db.prepare(sql).all(...params) as Array<Record<string, unknown>>))
      send({ _tag: "Rows", results: read() })
    } finally {
      db.close()
    }
  } catch (e) {
    send({ _tag: "Failed", reason: e instanceof Error ? e.message : String(e) })
  }
}

// A closed port leaves the thread nothing to wait for: it ends.
const idle = setTimeout(() => port.close(), (workerData as QueryThreadData).idleMs)
port.once("message", (input: QueryInput) => {
  clearTimeout(idle)
  run(input)
  port.close()
})
