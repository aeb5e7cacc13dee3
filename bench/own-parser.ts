// The parser etl uses, on the same file as bench/csv-parsers.mjs.
import { createReadStream } from "node:fs"
import { makeCsvParser } from "../src/programs/CsvParser.js"
const start = performance.now()
let n = 0
const parser = makeCsvParser({ record: () => void n++, broken: () => void n++ })
const decoder = new TextDecoder()
for await (const buf of createReadStream(process.argv[2]!, { highWaterMark: 1 << 20 })) parser.write(decoder.decode(buf as Buffer, { stream: true }))
parser.write(decoder.decode())
parser.end()
const s = (performance.now() - start) / 1000
console.log(`${"etl's CsvParser".padEnd(44)} ${String(n).padStart(8)} records  ${s.toFixed(2)} s  ${Math.round(n / s / 1000)}k/s`)
