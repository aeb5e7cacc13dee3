// The baseline of issue 9: csv-parse + better-sqlite3 prepared inserts in 10,000-row
// transactions, computing only total, commission and a tier inline (floats, no rules).
// Usage: node bench/hand-loader.mjs sales_transactions.csv warehouse.db
import Database from "better-sqlite3"
import { parse } from "csv-parse"
import { createReadStream } from "node:fs"

const [csv, dbPath] = process.argv.slice(2)
const db = new Database(dbPath)
db.pragma("journal_mode = WAL")
db.pragma("synchronous = NORMAL")
db.exec(`CREATE TABLE IF NOT EXISTS sales (transaction_id TEXT PRIMARY KEY, customer_id TEXT, product_id TEXT, quantity INTEGER,
  unit_price REAL, discount_amount REAL, total_amount REAL, commission REAL, value_tier TEXT, transaction_date TEXT, sales_rep_id TEXT)`)
const insert = db.prepare("INSERT OR REPLACE INTO sales VALUES (?,?,?,?,?,?,?,?,?,?,?)")
const flush = db.transaction((rows) => { for (const r of rows) insert.run(r) })
let batch = []
let n = 0
for await (const row of createReadStream(csv).pipe(parse({ from_line: 2, relax_column_count: true }))) {
  const [id, customer, product, q, price, discount, date, rep] = row
  const total = Number(q) * Number(price) - Number(discount || 0)
  batch.push([id, customer, product, Number(q), Number(price), Number(discount || 0), total, total * 0.03,
    total >= 500 ? "High Value" : total >= 100 ? "Medium Value" : "Low Value", date, rep])
  if (batch.length === 10_000) { flush(batch); n += batch.length; batch = [] }
}
flush(batch)
n += batch.length
db.close()
console.log(`${n} rows`)
