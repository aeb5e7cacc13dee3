/**
 * Which transactions a run processes (contract.md, "Date window"):
 * `--date D`, `--from/--to`: backfills that never move the high-water mark;
 * `--full-refresh`: everything; neither: incremental from the mark.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { DateWindow } from "../rules/Sales.js"
import { Warehouse } from "../services/Warehouse.js"

export interface WindowOptions {
  readonly date: Option.Option<string>
  readonly from: Option.Option<string>
  readonly to: Option.Option<string>
  readonly fullRefresh: boolean
}

export type RunMode = "incremental" | "full-refresh" | "backfill"

export interface ResolvedWindow {
  readonly mode: RunMode
  readonly window: DateWindow
  readonly moveMark: boolean
}

const minusDays = (day: string, days: number): string => {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() - days)
  return d.toISOString().slice(0, 10)
}

/**
 * Incremental runs re-read the mark's own day (and `lookbackDays` before it):
 * transactions dated that day may have arrived after the last run, and the
 * upserts make reading them again free of duplicates.
 */
export const resolveWindow = (options: WindowOptions, lookbackDays: number) =>
  Effect.gen(function* () {
    if (Option.isSome(options.date)) {
      return { mode: "backfill", window: { from: options.date.value, to: options.date.value }, moveMark: false } as ResolvedWindow
    }
    if (Option.isSome(options.from) || Option.isSome(options.to)) {
      return {
        mode: "backfill",
        window: { from: Option.getOrNull(options.from), to: Option.getOrNull(options.to) },
        moveMark: false
      } as ResolvedWindow
    }
    if (options.fullRefresh) return { mode: "full-refresh", window: { from: null, to: null }, moveMark: true } as ResolvedWindow
    const mark = yield* Effect.flatMap(Warehouse, (w) => w.highWaterMark)
    return {
      mode: "incremental",
      window: { from: Option.getOrNull(Option.map(mark, (m) => minusDays(m, lookbackDays))), to: null },
      moveMark: true
    } as ResolvedWindow
  })
