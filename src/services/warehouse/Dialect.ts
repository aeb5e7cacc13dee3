/**
 * What differs between the warehouse dialects, and nothing else: column
 * types, NULL-safe comparison, JSON, "insert unless present", the collation
 * that orders text by code point, row limits, and how a statement reports
 * affected rows. The SQL of SqlWarehouse is written once against this; SQL
 * Server's staging and merges, which differ in shape, live in MssqlWarehouse.
 */
import { centsToDouble, toDouble } from "../../rules/Money.js"

export interface Dialect {
  readonly kind: "sqlite" | "postgres" | "mssql"
  /** Column types: text, whole numbers, input money (exact, any scale), computed money (2 decimals), dates, timestamps, booleans. */
  readonly types: {
    readonly text: string
    readonly integer: string
    readonly decimal: string
    readonly money: string
    readonly date: string
    readonly timestamp: string
    readonly boolean: string
    /** An auto-numbered primary key column. */
    readonly serial: string
    readonly json: string
  }
  /** A staging table: no crash safety needed (a crashed run stages again). */
  readonly stagingTable: string
  /** What follows a staging table's definition. */
  readonly stagingOptions: string
  /** `a` differs from `b`, NULLs included. */
  readonly distinct: (a: string, b: string) => string
  /** INSERT INTO table (columns) <select>, skipping rows whose `key` is already there. */
  readonly insertIgnore: (table: string, columns: string, select: string, key: string) => string
  /** The first `n` rows: what goes after SELECT, and what goes at the end. */
  readonly top: (n: number) => string
  readonly limit: (n: number) => string
  /** A timestamp parameter (ISO 8601 text, UTC) as the dialect's timestamp. */
  readonly timestampParam: string
  /** A timestamp column as ISO 8601 text that Date.parse reads as UTC. */
  readonly timestampText: (expr: string) => string
  /** Deletes the staged rows of run `?` that a later row of the same key supersedes (append-only staging). */
  readonly deleteSuperseded: (table: string, key: string) => string
  /** Statements that refresh the planner's statistics of a table just bulk-loaded, if the dialect needs them. */
  readonly analyze: (table: string) => ReadonlyArray<string>
  /** Empties a staging table of run `?`'s rows (the dialect may not need the run id). */
  readonly clearStage: (table: string) => string
  /** A write statement, made to report how many rows it affected. */
  readonly counting: (sql: string) => string
  /** A JSON object (as text) from alternating key literals and expressions. */
  readonly jsonObject: (pairs: ReadonlyArray<readonly [string, string]>) => string
  /** Orders text by code point (`T15` before `T3`) whatever the database's locale. */
  readonly binaryCollation: string
  /**
   * A condition: the stored amount is off `expr` rounded half away from zero to cents, by half
   * a cent or more (validation's computed-value checks).
   */
  readonly offTheCent: (stored: string, expr: string) => string
  /** `?` placeholders, rewritten to the dialect's own. */
  readonly placeholders: (sql: string) => string
  /** Rows a write statement affected, from its raw driver result. */
  readonly affected: (raw: unknown) => number
  /**
   * How a decimal column's value (exact text) is bound. SQLite stores REAL, and parsing the text
   * itself took it 1.2-1.7 s of a million facts' insert (3.7-5.0 s against 2.4-3.3 s): it is given
   * the correctly rounded double instead (Money.toDouble, the same as Number and faster). The
   * others bind the text, which their exact types keep as written.
   */
  readonly decimalParam: (text: string) => string | number
  /**
   * How an amount the rules left in whole cents (Money.Amount) is bound: SQLite takes the same
   * double as for its text (Money.centsToDouble), and no text is made; the others take `text(cents)`.
   */
  readonly centsParam: (cents: number, text: (cents: number) => string) => string | number
  /**
   * A direct load binds a fact whose amounts are all whole cents as those cents, divided in the
   * statement, with its tier as a code (Schema.SALE_CENTS_SELECT): SQLite only, where the
   * division makes the double centsParam would have bound.
   */
  readonly centsInStatement: boolean
  /** A nested transaction's savepoint is released when it ends (SQL Server has no RELEASE). */
  readonly releasesSavepoints: boolean
  /** A statement run once per connection (pragmas), if any. */
  readonly setup: ReadonlyArray<string>
  /** Run before and after a first load's transaction (outside it; direct or merged into an empty fact table), if anything. */
  readonly bulkLoad: Settings
  /** Run before and after building the fact table's indexes after a bulk load, if anything. */
  readonly indexBuild: Settings
  /** Run before and after a direct first load writes its facts (inside its transaction), if anything. */
  readonly directLoad: Settings
}

/** Statements that set something for a step (`before`) and restore it (`after`). */
export interface Settings {
  readonly before: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
}

/** The page size of a new SQLite file: the warehouse's (the dialect's setup) and a split load's side file. */
export const SQLITE_PAGE_SIZE = 16384

/** SQLite's page cache of 8 MiB, set per connection (see the dialect's setup) and again after an index build. */
const SQLITE_CACHE = "PRAGMA cache_size = -8192"

export const sqlite: Dialect = {
  kind: "sqlite",
  types: {
    text: "TEXT", integer: "INTEGER", decimal: "REAL", money: "REAL", date: "TEXT", timestamp: "TEXT",
    boolean: "INTEGER", serial: "INTEGER PRIMARY KEY", json: "TEXT"
  },
  stagingTable: "TABLE",
  // Rows live in the primary-key tree: one B-tree write per staged row instead of two.
  stagingOptions: " WITHOUT ROWID",
  distinct: (a, b) => `${a} IS NOT ${b}`,
  insertIgnore: (table, columns, select) => `INSERT OR IGNORE INTO ${table} (${columns}) ${select}`,
  top: () => "",
  limit: (n) => ` LIMIT ${Math.max(1, Math.floor(n))}`,
  timestampParam: "CAST(? AS TEXT)",
  // One writer at a time (the run lock; SQLite itself): every staged row is this run's, and a
  // DELETE without WHERE truncates the table instead of deleting row by row.
  clearStage: (table) => `DELETE FROM ${table}`,
  // Without statistics SQLite's planner still picks the index lookups these statements need.
  analyze: () => [],
  // NOT IN builds one temporary index of the survivors: n log n.
  deleteSuperseded: (table, key) =>
    `DELETE FROM ${table} WHERE run_id = ? AND seq NOT IN (SELECT max(seq) FROM ${table} WHERE run_id = ? GROUP BY ${key})`,
  timestampText: (e) => `CAST(${e} AS TEXT)`,
  counting: (sql) => sql,
  jsonObject: (pairs) => `json_object(${pairs.map(([k, v]) => `'${k}', ${v}`).join(", ")})`,
  binaryCollation: "",
  // REAL storage may carry a binary tail: nudge away from zero before rounding. SQLite rounds to
  // cents by printing and parsing the number, so an amount that is on the cent grid and within
  // 0.004 of the unrounded value is passed first without it: the only cent within 0.0042 of the
  // nudged value is its own, so rounding could not move it. (On the grid matters: 14.9875 is
  // within 0.004 of 14.984445, which rounds to 14.98.) 1M facts: 0.35 → 0.21 s and 0.32 → 0.24 s.
  offTheCent: (stored, e) =>
    `NOT (abs(${stored} * 100 - round(${stored} * 100)) < 0.000001 AND abs(${stored} - (${e})) < 0.004)
     AND abs(${stored} - round(${e} + 0.0000001 * sign(${e}), 2)) >= 0.005`,
  placeholders: (sql) => sql,
  affected: (raw) => Number((raw as { changes?: number }).changes ?? 0),
  decimalParam: toDouble,
  centsParam: centsToDouble,
  centsInStatement: true,
  releasesSavepoints: true,
  setup: [
    // A new file's page size, chosen before the switch to WAL fixes it (an existing file keeps its
    // own). Each page SQLite reads or writes beyond its cache is a system call: index builds and
    // validation read the table through the OS's cache. 8 KiB against SQLite's 4 KiB, 1M facts into
    // a new file, five runs each in turn: 6.32 s against 6.62 s on average, the same peak (269k page
    // reads and writes instead of 485k). 16 KiB against 8 (session 21, a split first load of 1M,
    // alternating): faster in 13 of 15 pairs, 7.17 s against 7.53 at the median of seven, the same
    // peak; a second full refresh over it (the staged merge) 14.6-16.8 s either way.
    `PRAGMA page_size = ${SQLITE_PAGE_SIZE}`,
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    // WAL with synchronous=NORMAL: a commit survives a killed process (not a power cut in
    // its last instant), and batches stop paying an fsync each.
    "PRAGMA synchronous = NORMAL",
    // An 8 MiB page cache, and as much again for a sort (SQLite sorts in memory up to the cache's
    // size, beside the cache): staging appends, a merge reads and writes in key order, and the
    // index builds sort, so few pages are wanted twice. Against 32 MiB (2026-11-26): 10M staged and
    // merged 219.7 s against 225.0 s, peak 202 MB against 280 (the superseded pass and the index
    // builds each sorted in 32 MiB beside a full 32 MiB cache); 1M first load 13.4-14.1 s either
    // way, 159-163 MB against 183-189. (Before staging appended, 16 MiB had made
    // the 10M merge 40 s slower.)
    SQLITE_CACHE
  ],
  // A first load writes every page new: under a rollback journal they go once into the file
  // (the journal keeps only the few pages that existed), where WAL writes them twice, into the
  // log and again at the checkpoint, and leaves a log the size of the load behind. FULL: with a
  // rollback journal, NORMAL could corrupt the file if the power failed in a commit's last instant.
  // Foreign keys off: a direct load checks every fact against the dimension keys it read in its
  // own transaction, a merge's quarantine sets aside every fact whose dimension rows are missing
  // before it inserts; SQLite would look each one up again in customer_dim and product_dim (at
  // 10M, half a million customers, that missed the page cache for most of the load).
  // The warehouse's own file only (`main.`): without a schema, journal_mode applies to every file
  // attached, and a split load's side file is still attached when the load's transaction ends
  // (it is detached and deleted after). Switching that to WAL too made SQLite sync its 50 MB
  // (1M facts): 70 ms of the run's thread.
  bulkLoad: {
    before: ["PRAGMA main.journal_mode = DELETE", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = OFF"],
    after: ["PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL", "PRAGMA main.journal_mode = WAL"]
  },
  // SQLite sorts an index's keys in runs the size of the page cache, then merges them: runs of 2 MiB
  // sort within the processor's caches. The three index builds: 1M facts 0.95-0.97 s against
  // 1.26-1.30 s with 8 MiB (1 MiB and 512 KiB no faster), 10M 11.4-11.6 s against 12.3-13.4 s.
  // Two sorter threads (SQLite's `threads`: the run's thread waits while an index builds) sort the
  // runs and merge them beside it: at 1M the customer index 0.34 s against 0.49-0.51, all three
  // 0.82 s against 1.02-1.05 (four threads no faster; each holds a run of the cache's size).
  indexBuild: { before: ["PRAGMA cache_size = -2048", "PRAGMA threads = 2"], after: [SQLITE_CACHE, "PRAGMA threads = 0"] },
  // A direct load appends facts (and their keys, in file order) and reads no dimension: a 2 MiB
  // cache holds what it writes until it is spilled. While a second thread reads too (SplitRead),
  // this is the run's peak: 1M, alternating runs, 180-183 MB against 190-193 with 8 MiB, no
  // slower (5.33 s against 5.55); its transaction ids shuffled, 9.48 s against 9.33, the same.
  directLoad: { before: ["PRAGMA cache_size = -2048"], after: [SQLITE_CACHE] }
}

export const postgres: Dialect = {
  kind: "postgres",
  types: {
    text: "TEXT", integer: "BIGINT", decimal: "NUMERIC", money: "NUMERIC(18, 2)", date: "DATE", timestamp: "TIMESTAMPTZ",
    boolean: "BOOLEAN", serial: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", json: "JSONB"
  },
  stagingTable: "UNLOGGED TABLE",
  stagingOptions: "",
  distinct: (a, b) => `${a} IS DISTINCT FROM ${b}`,
  insertIgnore: (table, columns, select, key) => `INSERT INTO ${table} (${columns}) ${select} ON CONFLICT (${key}) DO NOTHING`,
  top: () => "",
  limit: (n) => ` LIMIT ${Math.max(1, Math.floor(n))}`,
  timestampParam: "CAST(? AS TIMESTAMPTZ)",
  clearStage: (table) => `DELETE FROM ${table} WHERE run_id = ?`,
  // A million rows staged since autovacuum last looked: without fresh statistics the planner takes
  // the staging table for empty and joins it in nested loops (a 1M-row merge ran for 12 minutes).
  analyze: (table) => [`ANALYZE ${table}`],
  // A hash self-join; NOT IN over a million rows would not fit work_mem and go quadratic.
  deleteSuperseded: (table, key) =>
    `DELETE FROM ${table} s USING ${table} later
     WHERE s.run_id = ? AND later.run_id = s.run_id AND later.${key} = s.${key} AND later.seq > s.seq`,
  timestampText: (e) => `CAST(${e} AS TEXT)`,
  counting: (sql) => sql,
  jsonObject: (pairs) => `jsonb_build_object(${pairs.map(([k, v]) => `'${k}', ${v}`).join(", ")})`,
  binaryCollation: ` COLLATE "C"`,
  offTheCent: (stored, e) => `abs(${stored} - round(${e}, 2)) >= 0.005`,
  placeholders: (sql) => {
    let n = 0
    return sql.replace(/\?/g, () => `$${++n}`)
  },
  affected: (raw) => Number((raw as { rowCount?: number }).rowCount ?? 0),
  decimalParam: (text) => text,
  centsParam: (cents, text) => text(cents),
  centsInStatement: false,
  releasesSavepoints: true,
  setup: [],
  bulkLoad: { before: [], after: [] },
  indexBuild: { before: [], after: [] },
  directLoad: { before: [], after: [] }
}

/**
 * SQL Server 2016 or later (OPENJSON). Keys are NVARCHAR(450) (an index key
 * holds at most 900 bytes), money DECIMAL; every string is sent as NVARCHAR
 * and every JS number as FLOAT (see SqlClients), so nothing is truncated.
 */
export const mssql: Dialect = {
  kind: "mssql",
  types: {
    text: "NVARCHAR(MAX)", integer: "BIGINT", decimal: "DECIMAL(38, 12)", money: "DECIMAL(18, 2)", date: "DATE",
    timestamp: "DATETIME2(3)", boolean: "BIT", serial: "BIGINT IDENTITY(1, 1) PRIMARY KEY", json: "NVARCHAR(MAX)"
  },
  stagingTable: "TABLE",
  stagingOptions: "",
  // IS DISTINCT FROM arrived only in SQL Server 2022; INTERSECT treats NULLs as equal everywhere.
  distinct: (a, b) => `NOT EXISTS (SELECT ${a} INTERSECT SELECT ${b})`,
  insertIgnore: (table, columns, select, key) =>
    `INSERT INTO ${table} (${columns}) SELECT x.* FROM (${select}) AS x (${columns})
     WHERE NOT EXISTS (SELECT 1 FROM ${table} t WITH (UPDLOCK, HOLDLOCK) WHERE t.${key} = x.${key})`,
  top: (n) => `TOP (${Math.max(1, Math.floor(n))}) `,
  limit: () => "",
  // Style 127: ISO 8601 with its Z, whatever the session's DATEFORMAT and language.
  timestampParam: "CONVERT(DATETIME2(3), ?, 127)",
  clearStage: (table) => `DELETE FROM ${table} WHERE run_id = ?`,
  // SQL Server updates statistics itself when a table has changed enough (AUTO_UPDATE_STATISTICS).
  analyze: () => [],
  deleteSuperseded: (table, key) =>
    `WITH ranked AS (SELECT ROW_NUMBER() OVER (PARTITION BY ${key} ORDER BY seq DESC) AS n FROM ${table} WHERE run_id = ?)
     DELETE FROM ranked WHERE n > 1`,
  timestampText: (e) => `CONCAT(CONVERT(NVARCHAR(30), ${e}, 126), 'Z')`,
  counting: (sql) => `${sql};\nSELECT @@ROWCOUNT AS affected`,
  jsonObject: (pairs) => `(SELECT ${pairs.map(([k, v]) => `${v} AS [${k}]`).join(", ")} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)`,
  // Every text column is declared with a binary collation (MssqlSchema).
  binaryCollation: "",
  offTheCent: (stored, e) => `abs(${stored} - ROUND(${e}, 2)) >= 0.005`,
  placeholders: (sql) => {
    let n = 0
    return sql.replace(/\?/g, () => `@${++n}`)
  },
  affected: (raw) => Number((raw as ReadonlyArray<{ affected?: number }>).at(-1)?.affected ?? 0),
  decimalParam: (text) => text,
  centsParam: (cents, text) => text(cents),
  centsInStatement: false,
  releasesSavepoints: false,
  setup: [],
  bulkLoad: { before: [], after: [] },
  indexBuild: { before: [], after: [] },
  directLoad: { before: [], after: [] }
}
