import { describe, expect, it } from "@effect/vitest"
import { formatProgress } from "../../src/programs/Progress.js"

describe("progress line", () => {
  it("shows records, rows/s, how much is read and an estimate of what remains", () => {
    const line = formatProgress([{ stage: "sales", startedAt: 0, counts: { read: 400_000, bytesRead: 40, bytesTotal: 100 } }], 10_000)
    expect(line).toBe("sales: 400,000 rows, 40,000 rows/s, 40%, ~15 s left to read")
  })

  it("says when reading is done and the merge runs, and shows every running stage", () => {
    const line = formatProgress([
      { stage: "customers", startedAt: 0, counts: { read: 5000, bytesRead: 1, bytesTotal: 1 } },
      { stage: "products", startedAt: 0, counts: { read: 300, bytesRead: 0, bytesTotal: 0 } }
    ], 1000)
    expect(line).toBe("customers: 5,000 rows, 5,000 rows/s, merging into the warehouse | products: 300 rows, 300 rows/s")
  })

  it("is empty when nothing runs", () => expect(formatProgress([], 0)).toBe(""))
})
