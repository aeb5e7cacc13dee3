// Parses one CSV with each candidate, records per second and peak RSS.
// Usage: node bench/csv-parsers.mjs data/generated/sales_transactions.csv
import { parse } from "csv-parse"
import Papa from "papaparse"
import { createReadStream } from "node:fs"

const path = process.argv[2]
const CHUNK = 1 << 20

const measure = async (name, run) => {
  global.gc?.()
  const start = performance.now()
  let peak = 0
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20)
  const n = await run()
  clearInterval(timer)
  const s = (performance.now() - start) / 1000
  console.log(`${name.padEnd(44)} ${String(n).padStart(8)} records  ${s.toFixed(2)} s  ${Math.round(n / s / 1000)}k/s`)
}

const csvParse = (options) => async () => {
  let n = 0
  const p = parse({ ...options, on_record: () => { n++; return null } })
  for await (const buf of createReadStream(path, { highWaterMark: CHUNK })) p.write(buf)
  p.end()
  return n
}

await measure("csv-parse, defaults (+relax_column_count)", csvParse({ relax_column_count: true }))
await measure("csv-parse, relax_column_count + bom", csvParse({ bom: true, relax_column_count: true }))
await measure("csv-parse, as etl uses it (mixed line endings, raw)", csvParse({
  bom: true, relax_column_count: true, relax_quotes: true, skip_records_with_error: true,
  record_delimiter: ["\r\n", "\n", "\r"], raw: true
}))
await measure("papaparse, chunked", () => new Promise((resolve) => {
  let n = 0
  Papa.parse(createReadStream(path, { highWaterMark: CHUNK }), {
    chunk: (results) => { n += results.data.length },
    complete: () => resolve(n)
  })
}))
