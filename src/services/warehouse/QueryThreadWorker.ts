/**
 * The thread of QueryThread: opens the SQLite warehouse read-only, runs the
 * statements it was given in one read transaction (one snapshot), sends their
 * rows and ends; or sends why it could not.
 */
import Database from "better-sqlite3"
import { parentPort, workerData } from "node:worker_threads"
import type { FromQueryThread, QueryInput } from "./QueryThread.js"

const input = workerData as QueryInput
const send = (message: FromQueryThread) => parentPort!.postMessage(message)

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
