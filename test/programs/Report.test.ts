/** The failed-records file, written from the warehouse page by page. */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { writeFailedRecords } from "../../src/programs/Report.js"
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
        // Two passes of 13 pages of at most 1,000, every page after the last id of the one before.
        const pass = Array.from({ length: 13 }, (_, i) => i * 1000)
        expect(asked).toEqual([...pass, ...pass])
      }))
  })
})
