/**
 * The side file of a split first load (programs/SplitRead): a scratch SQLite file
 * beside the warehouse, which the second thread writes the second part of the
 * sales CSV into exactly as the direct load writes the first part into the
 * warehouse (SqlWarehouse.writeDirectly): facts whose customer and product are
 * known are upserted (the last copy of a key wins), the others set aside (and an
 * earlier copy's fact withdrawn), and every reject kept, in file order. The
 * warehouse then takes it in, in the load's transaction (SqlWarehouse.absorb).
 *
 * Nothing in it outlives the run: the warehouse deletes it after the load's
 * transaction, and a crashed run's is deleted by the next load. So it is
 * written without a journal file or syncs (a crash loses nothing the warehouse holds).
 */
import Database from "better-sqlite3"
import { Reject } from "../../schema/Reject.js"
import type { StagedSale } from "../Warehouse.js"
import { locationOf } from "../Warehouse.js"
import { sqlite, SQLITE_PAGE_SIZE } from "./Dialect.js"
import type { KeySet } from "./KeySet.js"
import { columns, FACT_REPLACE, placeholders, SALE_COLUMNS, statementSlices, writeSaleValues } from "./Schema.js"

/** The side file's tables: its facts, the rows set aside, and the rejects, each in the order written. */
export const SIDE_TABLES = { facts: "facts", setAside: "set_aside", rejects: "rejects" } as const

const schema = [
  `CREATE TABLE ${SIDE_TABLES.facts} (${columns(sqlite).sale}, PRIMARY KEY (transaction_id))`,
  `CREATE TABLE ${SIDE_TABLES.setAside} (seq INTEGER PRIMARY KEY, ${columns(sqlite).sale}, location TEXT)`,
  `CREATE TABLE ${SIDE_TABLES.rejects} (seq INTEGER PRIMARY KEY, source TEXT NOT NULL, record_key TEXT, category TEXT NOT NULL,
    reason TEXT NOT NULL, location TEXT, payload TEXT NOT NULL)`
]


/** Whether better-sqlite3 failed for a row's values (a constraint), not for the file or the connection. */
const refusesRow = (error: unknown): error is Error =>
  typeof (error as { code?: unknown }).code === "string" && (error as { code: string }).code.startsWith("SQLITE_CONSTRAINT")

export interface SideWriter {
  /**
   * Writes a batch's rows and rejects. A row the file refuses (a constraint) is found by halving,
   * as Load.stageIsolating does on the warehouse, and returned as a `constraint` reject (also
   * written). Any other failure throws.
   */
  readonly write: (rows: ReadonlyArray<StagedSale>, rejects: ReadonlyArray<Reject>) => ReadonlyArray<Reject>
  /** Commits and closes the file. */
  readonly close: () => void
}

/**
 * Creates the side file `file` (it must not exist) for facts checked against `customers` and
 * `products`; `refused` makes the reject of a row the file refuses, as the run's thread would.
 */
export const openSideWriter = (
  file: string,
  customers: KeySet,
  products: KeySet,
  refused: (row: StagedSale, reason: string) => Reject
): SideWriter => {
  const db = new Database(file)
  try {
    // The warehouse's page size: SQLite's default of 4 KiB made four times the writes here and
    // reads when it is taken in, each a system call. 1M, alternating: the wait at the cut and the
    // taking in 0.38-0.49 s against 0.47-0.72, faster in 4 of 6 pairs.
    db.pragma(`page_size = ${SQLITE_PAGE_SIZE}`)
    // Its rollback journal in memory: better-sqlite3's defensive mode refuses OFF, and every page
    // the load writes is new, so the journal holds next to nothing.
    db.pragma("journal_mode = MEMORY")
    db.pragma("synchronous = OFF")
    db.pragma("cache_size = -2048")
    for (const statement of schema) db.exec(statement)
    db.exec("BEGIN")
  } catch (e) {
    db.close()
    throw e
  }
  /**
   * A statement per row count, prepared once (`text(n)` for n rows), with one parameter array
   * of `width` a row, filled again for each run, as the direct load does (SqlWarehouse.writeDirectly).
   */
  const bySize = (width: number, text: (n: number) => string) => {
    const prepared = new Map<number, { readonly statement: Database.Statement; readonly params: Array<unknown> }>()
    return (n: number) => {
      let s = prepared.get(n)
      if (s === undefined) prepared.set(n, s = { statement: db.prepare(text(n)), params: new Array<unknown>(n * width) })
      return s
    }
  }
  const width = SALE_COLUMNS.length
  const upsert = bySize(width, (n) => `INSERT INTO ${SIDE_TABLES.facts} (${SALE_COLUMNS.join(",")}) VALUES ${placeholders(width, n)} ${FACT_REPLACE}`)
  const withdraw = bySize(1, (n) => `DELETE FROM ${SIDE_TABLES.facts} WHERE transaction_id IN (${Array.from({ length: n }, () => "?").join(",")})`)
  const setAside = bySize(width + 1, (n) => `INSERT INTO ${SIDE_TABLES.setAside} (${SALE_COLUMNS.join(",")}, location) VALUES ${placeholders(width + 1, n)}`)
  const keep = bySize(6, (n) => `INSERT INTO ${SIDE_TABLES.rejects} (source, record_key, category, reason, location, payload) VALUES ${placeholders(6, n)}`)

  const writeRows = (batch: ReadonlyArray<StagedSale>) => {
    const known: Array<StagedSale> = []
    const orphans: Array<StagedSale> = []
    for (const r of batch) (customers.has(r.customer_id) && products.has(r.product_id) ? known : orphans).push(r)
    for (const slice of statementSlices(known)) {
      const { params, statement } = upsert(slice.length)
      let at = 0
      for (const r of slice) at = writeSaleValues(params, at, r, sqlite)
      statement.run(params)
    }
    for (const slice of statementSlices(orphans)) {
      const { params, statement } = withdraw(slice.length)
      slice.forEach((r, i) => (params[i] = r.transaction_id))
      statement.run(params)
    }
    for (const slice of statementSlices(orphans)) {
      const { params, statement } = setAside(slice.length)
      let at = 0
      for (const r of slice) {
        at = writeSaleValues(params, at, r, sqlite)
        params[at++] = locationOf(r)
      }
      statement.run(params)
    }
  }
  /** Writes `batch`; the rows refused, found by halving, as rejects. */
  const isolating = (batch: ReadonlyArray<StagedSale>): Array<Reject> => {
    try {
      writeRows(batch)
      return []
    } catch (e) {
      if (!refusesRow(e)) throw e
      if (batch.length === 1) return [refused(batch[0]!, e.message)]
      const middle = Math.ceil(batch.length / 2)
      return [...isolating(batch.slice(0, middle)), ...isolating(batch.slice(middle))]
    }
  }
  const keepRejects = (rejects: ReadonlyArray<Reject>) => {
    for (const slice of statementSlices(rejects)) {
      const { params, statement } = keep(slice.length)
      let at = 0
      for (const r of slice) for (const v of [r.source, r.record_key, r.category, r.reason, r.location, JSON.stringify(r.payload)]) params[at++] = v
      statement.run(params)
    }
  }
  return {
    write: (batch, rejects) => {
      const refusals = batch.length === 0 ? [] : isolating(batch)
      keepRejects([...rejects, ...refusals])
      return refusals
    },
    close: () => {
      if (db.inTransaction) db.exec("COMMIT")
      db.close()
    }
  }
}
