/**
 * What differs between the warehouse dialects, and nothing else: column
 * types, NULL-safe comparison, JSON, "insert unless present", the collation
 * that orders text by code point, and how a statement reports affected rows.
 * The SQL of SqlWarehouse is written once against this.
 */
export interface Dialect {
  readonly kind: "sqlite" | "postgres"
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
  readonly insertIgnore: (table: string, columnsAndSelect: string, key: string) => string
  /** A JSON object (as text) from alternating key literals and expressions. */
  readonly jsonObject: (pairs: ReadonlyArray<readonly [string, string]>) => string
  /** Orders text by code point (`T15` before `T3`) whatever the database's locale. */
  readonly binaryCollation: string
  /** Rounds a money expression half away from zero to cents. */
  readonly roundMoney: (expr: string) => string
  /** `?` placeholders, rewritten to the dialect's own. */
  readonly placeholders: (sql: string) => string
  /** Rows a write statement affected, from its raw driver result. */
  readonly affected: (raw: unknown) => number
  /** A statement run once per connection (pragmas), if any. */
  readonly setup: ReadonlyArray<string>
}

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
  insertIgnore: (table, rest) => `INSERT OR IGNORE INTO ${table} ${rest}`,
  jsonObject: (pairs) => `json_object(${pairs.map(([k, v]) => `'${k}', ${v}`).join(", ")})`,
  binaryCollation: "",
  // REAL storage may carry a binary tail: nudge away from zero before rounding.
  roundMoney: (e) => `round(${e} + 0.0000001 * sign(${e}), 2)`,
  placeholders: (sql) => sql,
  affected: (raw) => Number((raw as { changes?: number }).changes ?? 0),
  setup: [
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    // WAL with synchronous=NORMAL: a commit survives a killed process (not a power cut in
    // its last instant), and batches stop paying an fsync each. A 64 MiB page cache.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA cache_size = -65536"
  ]
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
  insertIgnore: (table, rest, key) => `INSERT INTO ${table} ${rest} ON CONFLICT (${key}) DO NOTHING`,
  jsonObject: (pairs) => `jsonb_build_object(${pairs.map(([k, v]) => `'${k}', ${v}`).join(", ")})`,
  binaryCollation: ` COLLATE "C"`,
  roundMoney: (e) => `round(${e}, 2)`,
  placeholders: (sql) => {
    let n = 0
    return sql.replace(/\?/g, () => `$${++n}`)
  },
  affected: (raw) => Number((raw as { rowCount?: number }).rowCount ?? 0),
  setup: []
}
