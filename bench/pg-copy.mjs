// PostgreSQL staging at 1M rows: a multi-row INSERT … ON CONFLICT (what the warehouse first did), against
// one INSERT … SELECT FROM unnest() with an array parameter per column, and COPY FROM STDIN
// (pg-copy-streams) into the same UNLOGGED staging table, plain and followed by the upsert it
// would need (COPY into a temporary table, then INSERT … SELECT … ON CONFLICT).
// Usage: node bench/pg-copy.mjs [rows] [postgres-url]
import pg from "pg"
import { pipeline } from "node:stream/promises"
import { Readable } from "node:stream"
import copyStreams from "pg-copy-streams"

const rows = Number(process.argv[2] ?? 1_000_000)
const url = process.argv[3] ?? "postgres://postgres@127.0.0.1:5432/test"
const COLUMNS = ["run_id", "transaction_id", "customer_id", "product_id", "quantity", "unit_price", "discount_amount",
  "total_amount", "cost_amount", "profit_margin", "commission", "value_tier", "transaction_date", "sales_rep_id", "location"]
const row = (i) => ["run", `T${i}`, `C${i % 50000}`, `P${i % 2000}`, 3, "19.99", "5.00", "54.97", "37.50", "31.78", "1.65",
  "Low Value", "2024-03-01", `R${i % 40}`, `sales_transactions.csv line ${i + 2}`]
const ddl = (name, extra = "") => `CREATE ${extra} TABLE ${name} (run_id TEXT NOT NULL, transaction_id TEXT NOT NULL,
  customer_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity BIGINT NOT NULL, unit_price NUMERIC NOT NULL,
  discount_amount NUMERIC NOT NULL, total_amount NUMERIC(18,2) NOT NULL, cost_amount NUMERIC(18,2), profit_margin NUMERIC(18,2),
  commission NUMERIC(18,2) NOT NULL, value_tier TEXT NOT NULL, transaction_date DATE NOT NULL, sales_rep_id TEXT, location TEXT
  ${name === "tmp_stage" ? "" : ", PRIMARY KEY (run_id, transaction_id)"})`
const update = COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(", ")

const client = new pg.Client({ connectionString: url })
await client.connect()
const reset = async () => {
  await client.query("DROP TABLE IF EXISTS bench_stage")
  await client.query(ddl("bench_stage", "UNLOGGED"))
}
const time = async (label, f) => {
  await reset()
  const t = performance.now()
  await f()
  const s = (performance.now() - t) / 1000
  const n = (await client.query("SELECT count(*)::int AS n FROM bench_stage")).rows[0].n
  console.log(`| ${label} | ${s.toFixed(2)} | ${Math.round(rows / s).toLocaleString("en")} | ${n.toLocaleString("en")} |`)
}

const BATCH = 10_000, PER_STATEMENT = 500
const multiRow = async () => {
  for (let start = 0; start < rows; start += BATCH) {
    await client.query("BEGIN")
    for (let s = start; s < Math.min(rows, start + BATCH); s += PER_STATEMENT) {
      const n = Math.min(PER_STATEMENT, rows - s, start + BATCH - s)
      const params = []
      const values = []
      for (let i = 0; i < n; i++) {
        values.push(`(${COLUMNS.map((_, c) => `$${i * COLUMNS.length + c + 1}`).join(",")})`)
        params.push(...row(s + i))
      }
      await client.query(`INSERT INTO bench_stage (${COLUMNS}) VALUES ${values.join(",")} ON CONFLICT (run_id, transaction_id) DO UPDATE SET ${update}`, params)
    }
    await client.query("COMMIT")
  }
}
const TYPES = ["text", "text", "text", "text", "bigint", "numeric", "numeric", "numeric", "numeric", "numeric", "numeric", "text", "date", "text", "text"]
const unnest = (upsert) => async () => {
  const statement = `INSERT INTO bench_stage (${COLUMNS}) SELECT * FROM unnest(${TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(", ")})
    ${upsert ? `ON CONFLICT (run_id, transaction_id) DO UPDATE SET ${update}` : ""}`
  for (let start = 0; start < rows; start += BATCH) {
    const columns = COLUMNS.map(() => [])
    for (let i = start; i < Math.min(rows, start + BATCH); i++) row(i).forEach((v, c) => columns[c].push(v))
    await client.query("BEGIN")
    await client.query(statement, columns)
    await client.query("COMMIT")
  }
}
const escape = (v) => (v === null ? "\\N" : String(v).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r"))
const lines = function* (from, to) {
  for (let s = from; s < to; s += 1000) {
    let chunk = ""
    for (let i = s; i < Math.min(to, s + 1000); i++) chunk += row(i).map(escape).join("\t") + "\n"
    yield chunk
  }
}
const copyInto = (table, from, to) =>
  pipeline(Readable.from(lines(from, to)), client.query(copyStreams.from(`COPY ${table} (${COLUMNS}) FROM STDIN`)))
const copyPlain = async () => {
  for (let start = 0; start < rows; start += BATCH) {
    await client.query("BEGIN")
    await copyInto("bench_stage", start, Math.min(rows, start + BATCH))
    await client.query("COMMIT")
  }
}
const copyUpsert = async () => {
  await client.query(ddl("tmp_stage", "TEMPORARY"))
  for (let start = 0; start < rows; start += BATCH) {
    await client.query("BEGIN")
    await client.query("TRUNCATE tmp_stage")
    await copyInto("tmp_stage", start, Math.min(rows, start + BATCH))
    await client.query(`INSERT INTO bench_stage (${COLUMNS}) SELECT DISTINCT ON (run_id, transaction_id) * FROM tmp_stage
      ON CONFLICT (run_id, transaction_id) DO UPDATE SET ${update}`)
    await client.query("COMMIT")
  }
}

console.log(`${rows.toLocaleString("en")} staged sales rows into PostgreSQL ${(await client.query("SHOW server_version")).rows[0].server_version}, ${BATCH.toLocaleString("en")}-row transactions\n`)
console.log("| method | seconds | rows/s | rows |\n|---|---|---|---|")
await time(`multi-row INSERT … ON CONFLICT (${PER_STATEMENT} rows, ${PER_STATEMENT * COLUMNS.length} parameters each)`, multiRow)
await time("INSERT … SELECT FROM unnest(one array parameter per column) … ON CONFLICT", unnest(true))
await time("INSERT … SELECT FROM unnest(…), appending (no upsert)", unnest(false))
await time("COPY FROM STDIN (no upsert)", copyPlain)
await time("COPY into a temporary table, then INSERT … SELECT … ON CONFLICT", copyUpsert)
await client.query("DROP TABLE IF EXISTS bench_stage")
await client.end()
