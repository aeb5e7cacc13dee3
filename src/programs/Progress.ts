/**
 * Live progress of a long run. On a terminal, one status line on stderr is
 * redrawn in place four times a second: per running stage, records done,
 * rows/s, and an estimate of what remains. When stderr is not a terminal
 * (cron, CI, a pipe) nothing is redrawn; the same numbers go to the log at a
 * steady interval instead.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { stderr } from "node:process"
import { Metrics } from "../services/Metrics.js"

export interface StageProgress {
  readonly stage: string
  readonly startedAt: number
  readonly counts: { readonly read: number; readonly bytesRead: number; readonly bytesTotal: number } | undefined
}

const thousands = (n: number) => Math.round(n).toLocaleString("en-US")

/** `sales: 412,330 rows, 38,210 rows/s, 41%, ~15 s left` per running stage; empty when none runs. */
export const formatProgress = (stages: ReadonlyArray<StageProgress>, now: number): string =>
  stages
    .filter((s) => s.counts !== undefined || s.stage === "validate" || s.stage === "quality")
    .map((s) => {
      const seconds = Math.max(0.001, (now - s.startedAt) / 1000)
      if (s.counts === undefined) return `${s.stage}: ${seconds.toFixed(0)} s`
      const { bytesRead, bytesTotal, read } = s.counts
      const parts = [`${s.stage}: ${thousands(read)} rows`, `${thousands(read / seconds)} rows/s`]
      if (bytesTotal > 0) {
        const done = Math.min(1, bytesRead / bytesTotal)
        if (done < 1) parts.push(`${Math.floor(done * 100)}%`)
        parts.push(done >= 1 ? "merging into the warehouse" : done > 0 ? `~${Math.ceil(seconds / done - seconds)} s left to read` : "starting")
      }
      return parts.join(", ")
    })
    .join(" | ")

const TERMINAL_EVERY = Duration.millis(250)
const LOG_EVERY = Duration.seconds(10)

/** Runs until interrupted (the run's end); leaves the terminal line clean. */
export const reportProgress = Effect.gen(function* () {
  const metrics = yield* Metrics
  const terminal = stderr.isTTY === true
  const line = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    return formatProgress(yield* metrics.active, now)
  })
  if (!terminal) {
    return yield* Effect.repeat(
      Effect.flatMap(line, (text) => (text === "" ? Effect.void : Effect.logInfo(`progress: ${text}`))),
      Schedule.spaced(LOG_EVERY)
    ).pipe(Effect.delay(LOG_EVERY))
  }
  return yield* Effect.repeat(
    Effect.flatMap(line, (text) => Effect.sync(() => void stderr.write(`\r\x1b[2K${text.slice(0, (stderr.columns ?? 120) - 1)}`))),
    Schedule.spaced(TERMINAL_EVERY)
  ).pipe(Effect.ensuring(Effect.sync(() => void stderr.write("\r\x1b[2K"))))
})
