/**
 * An append-only file rotated by size: `etl.log` → `etl.log.1` → … →
 * `etl.log.<maxFiles-1>`, the oldest dropped, so the folder never grows past
 * maxFiles × maxBytes. Writes are synchronous: log lines are few and must
 * survive a crash. A write that fails (full disk, read-only folder) is
 * reported once and then dropped: logging never stops the pipeline.
 */
import * as fs from "node:fs"
import { makeDirectoriesSync } from "./Directories.js"

export interface RotatingFile {
  readonly write: (line: string) => void
}

export const makeRotatingFile = (
  path: string,
  maxBytes: number,
  maxFiles: number,
  onError: (message: string) => void
): RotatingFile => {
  let size = -1
  let broken = false
  const rotate = () => {
    for (let i = maxFiles - 1; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`
      if (fs.existsSync(from)) {
        if (i === maxFiles - 1 && fs.existsSync(`${path}.${i}`)) fs.rmSync(`${path}.${i}`)
        fs.renameSync(from, `${path}.${i}`)
      }
    }
    if (maxFiles === 1) fs.rmSync(path, { force: true })
    size = 0
  }
  return {
    write: (line) => {
      if (broken) return
      try {
        if (size < 0) {
          makeDirectoriesSync(path.slice(0, Math.max(0, path.lastIndexOf("/"))) || ".")
          size = fs.existsSync(path) ? fs.statSync(path).size : 0
        }
        const bytes = Buffer.byteLength(line) + 1
        if (size > 0 && size + bytes > maxBytes) rotate()
        fs.appendFileSync(path, line + "\n")
        size += bytes
      } catch (e) {
        broken = true
        onError(`cannot write log file ${path}: ${e instanceof Error ? e.message : String(e)}; file logging is off for this run`)
      }
    }
  }
}
