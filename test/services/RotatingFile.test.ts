import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync, readdirSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeRotatingFile } from "../../src/services/RotatingFile.js"

describe("log rotation", () => {
  it("never lets the log folder grow past LOG_MAX_FILES files of LOG_MAX_BYTES", () => {
    const dir = mkdtempSync(join(tmpdir(), "etl-logs-"))
    const log = makeRotatingFile(join(dir, "etl.log"), 2048, 3, (m) => { throw new Error(m) })
    for (let i = 0; i < 5000; i++) log.write(JSON.stringify({ i, message: "a line of about sixty bytes of log text" }))
    const files = readdirSync(dir).sort()
    expect(files).toEqual(["etl.log", "etl.log.1", "etl.log.2"])
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(2048)
    const total = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0)
    expect(total).toBeLessThanOrEqual(3 * 2048)
  })

  it("reports an unwritable log once and goes on without it", () => {
    const problems: Array<string> = []
    const log = makeRotatingFile("/etc/hostname/logs/etl.log", 2048, 3, (m) => void problems.push(m))
    log.write("one")
    log.write("two")
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/cannot write log file \/etc\/hostname\/logs\/etl.log/)
  })
})
