/** The failed-records file, written from the warehouse page by page. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeCsvParser } from "../../src/programs/CsvParser.js"
import { padRecords, writeFailedRecords } from "../../src/programs/Report.js"
import type { OpenReject } from "../../src/services/Warehouse.js"

describe("failed records", () => {
  it.layer(NodeContext.layer)((it) => {
    it.effect("pages through 12,001 rejects, every raw column in the header, each reject once", () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "etl-report-"))
        const all: Array<OpenReject & { id: number }> = Array.from({ length: 12_001 }, (_, i) => ({
          id: i + 1, source: "sales", recordKey: `T${i}`, category: "validation", reason: "quantity must be at least 1",
          location: `sales.csv line ${i + 2}`, attempts: 1,
          // A column only the very last reject has must still be in the header.
          payload: JSON.stringify(i === 12_000 ? { transaction_id: `T${i}`, late: "x,y" } : { transaction_id: `T${i}`, quantity: "0" })
        }))
        const asked: Array<number> = []
        yield* writeFailedRecords(dir, "run-1", (after, limit) =>
          Effect.sync(() => {
            asked.push(after)
            return all.filter((r) => r.id > after).slice(0, limit)
          }))
        const lines = readFileSync(join(dir, "failed_records_run-1.csv"), "utf8").trimEnd().split("\n")
        expect(lines[0]).toBe("source,record_key,category,reason,location,attempts,transaction_id,quantity,late")
        expect(lines).toHaveLength(12_002)
        expect(lines[1]).toBe("sales,T0,validation,quantity must be at least 1,sales.csv line 2,1,T0,0,")
        expect(lines.at(-1)).toBe(`sales,T12000,validation,quantity must be at least 1,sales.csv line 12002,1,T12000,,"x,y"`)
        // One pass of 13 pages of at most 1,000, every page after the last id of the one before.
        expect(asked).toEqual(Array.from({ length: 13 }, (_, i) => i * 1000))
        expect(readdirSync(dir)).toEqual(["failed_records_run-1.csv"])
      }))

    it.effect("writes the file in one pass when the first page names every column", () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "etl-report-"))
        const all = Array.from({ length: 2500 }, (_, i) => ({
          id: i + 1, source: "sales" as const, recordKey: `T${i}`, category: "validation" as const, reason: "plain",
          location: null, attempts: 2, payload: JSON.stringify({ transaction_id: `T${i}`, note: i % 2 === 0 ? `a "b",\n${i}` : "" })
        }))
        // A part file an earlier attempt left behind is not carried into this one.
        writeFileSync(join(dir, "failed_records_run-3.csv.part"), "stale\n")
        yield* writeFailedRecords(dir, "run-3", (after, limit) => Effect.sync(() => all.filter((r) => r.id > after).slice(0, limit)))
        const records: Array<Array<string>> = []
        const parser = makeCsvParser({ record: (fields) => records.push(fields), broken: (raw) => records.push(["broken", raw]) })
        parser.write(readFileSync(join(dir, "failed_records_run-3.csv"), "utf8"))
        parser.end()
        expect(records[0]).toEqual(["source", "record_key", "category", "reason", "location", "attempts", "transaction_id", "note"])
        expect(records.slice(1)).toEqual(all.map((r, i) => ["sales", r.recordKey, "validation", "plain", "", "2", r.recordKey, i % 2 === 0 ? `a "b",\n${i}` : ""]))
        expect(readdirSync(dir)).toEqual(["failed_records_run-3.csv"])
      }))

    it.effect("writes only the header when nothing is open", () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "etl-report-"))
        yield* writeFailedRecords(join(dir, "new"), "run-4", () => Effect.succeed([]))
        expect(readFileSync(join(dir, "new", "failed_records_run-4.csv"), "utf8")).toBe("source,record_key,category,reason,location,attempts\n")
        expect(readdirSync(join(dir, "new"))).toEqual(["failed_records_run-4.csv"])
      }))

    it.effect("gives every record the header's fields when a column first appears pages later", () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "etl-report-"))
        // Values that hold the separator, quotes and line breaks, in the lines written before the
        // late columns appear (3,500 rejects: three pages and a half).
        const tricky = ["a,b", 'say "hi"', "two\nlines", "cr\r\nlf", '"', ""]
        const payload = (i: number) =>
          i < 1500 ? { transaction_id: `T${i}`, note: tricky[i % tricky.length] }
          : i < 2500 ? { transaction_id: `T${i}`, note: tricky[i % tricky.length], status: `s${i}` }
          : { transaction_id: `T${i}`, late: `x\n${i}` }
        const all = Array.from({ length: 3500 }, (_, i) => ({
          id: i + 1, source: "sales" as const, recordKey: `T${i}`, category: "validation" as const, reason: i % 2 === 0 ? 'a "quoted" reason' : "plain",
          location: null, attempts: 1, payload: JSON.stringify(payload(i))
        }))
        yield* writeFailedRecords(dir, "run-2", (after, limit) => Effect.sync(() => all.filter((r) => r.id > after).slice(0, limit)))
        const records: Array<Array<string>> = []
        const parser = makeCsvParser({ record: (fields) => records.push(fields), broken: (raw) => records.push(["broken", raw]) })
        parser.write(readFileSync(join(dir, "failed_records_run-2.csv"), "utf8"))
        parser.end()
        const header = ["source", "record_key", "category", "reason", "location", "attempts", "transaction_id", "note", "status", "late"]
        expect(records[0]).toEqual(header)
        // Every reject once, in order, each with exactly the header's fields and its own values.
        expect(records.slice(1)).toEqual(all.map((r, i) => {
          const p = payload(i) as Record<string, string>
          return ["sales", r.recordKey, "validation", r.reason, "", "1", ...header.slice(6).map((c) => p[c] ?? "")]
        }))
      }))
  })

  it("pads each record, wherever the text is cut into chunks", () => {
    const text = 'a,"x\ny",1\n"say ""hi""",b,2\n"\n",,3\n'
    const expected = 'a,"x\ny",1,,\n"say ""hi""",b,2,,\n"\n",,3,,\n'
    const bytes = new TextEncoder().encode(text)
    for (let cut = 0; cut <= bytes.length; cut++) {
      const pad = padRecords(2)
      const out = [pad(bytes.subarray(0, cut)), pad(bytes.subarray(cut))]
      expect(new TextDecoder().decode(Buffer.concat(out))).toBe(expected)
    }
  })
})
