/**
 * ETLMetrics: per-stage timings, per-source record counts (read, loaded,
 * rejected by category, filtered, flagged by flag), change counts per table,
 * peak memory. Counters are bumped once per chunk, not per record.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { memoryUsage } from "node:process"
import { DUPLICATE } from "../schema/Records.js"
import type { ChangeCounts } from "./Warehouse.js"

export interface SourceCounts {
  read: number
  loaded: number
  rejected: number
  filtered: number
  rejectedBy: Record<string, number>
  filteredBy: Record<string, number>
  flagged: Record<string, number>
  status: "ok" | "failed" | "skipped"
  error: string | null
  location: string
  seconds: number
  bytesRead: number
  bytesTotal: number
}

export interface StageTiming {
  readonly stage: string
  readonly startedAt: number
  readonly finishedAt: number
  readonly seconds: number
  readonly records: number
}

const emptyCounts = (location: string): SourceCounts => ({
  read: 0,
  loaded: 0,
  rejected: 0,
  filtered: 0,
  rejectedBy: {},
  filteredBy: {},
  flagged: {},
  status: "ok",
  error: null,
  location,
  seconds: 0,
  bytesRead: 0,
  bytesTotal: 0
})

const bump = (record: Record<string, number>, key: string, n = 1) => {
  record[key] = (record[key] ?? 0) + n
}

export class Metrics extends Effect.Service<Metrics>()("etl/Metrics", {
  sync: () => {
    const sources = new Map<string, SourceCounts>()
    const stages: Array<StageTiming> = []
    const changes = new Map<string, ChangeCounts & Record<string, number>>()
    let peakRss = memoryUsage.rss()
    const active = new Map<string, number>()

    const sourceOf = (source: string, location = "") => {
      let c = sources.get(source)
      if (c === undefined) {
        c = emptyCounts(location)
        sources.set(source, c)
      } else if (location !== "" && c.location === "") c.location = location
      return c
    }
    const sampleMemory = () => {
      const rss = memoryUsage.rss()
      if (rss > peakRss) peakRss = rss
    }

    return {
      /** Starts a new run's figures (an embedding app may run the pipeline many times). */
      reset: Effect.sync(() => {
        sources.clear()
        stages.length = 0
        changes.clear()
        active.clear()
        peakRss = memoryUsage.rss()
      }),
      /** How far a source's file has been read, for progress and its estimate. */
      bytes: (source: string, read: number, total: number) => Effect.sync(() => {
        const c = sourceOf(source)
        c.bytesRead = read
        c.bytesTotal = total
      }),
      /** The source's input is all staged: what remains is the merge. */
      extracted: (source: string) => Effect.sync(() => {
        const c = sourceOf(source)
        c.bytesRead = c.bytesTotal = Math.max(c.bytesTotal, 1)
      }),
      /** The stages running now and when each started: what a progress line shows. */
      active: Effect.sync(() => [...active].map(([stage, startedAt]) => ({ stage, startedAt, counts: sources.get(stage) }))),
      source: (source: string, location: string) => Effect.sync(() => void sourceOf(source, location)),
      read: (source: string, n: number) => Effect.sync(() => {
        sourceOf(source).read += n
        sampleMemory()
      }),
      loaded: (source: string, n: number) => Effect.sync(() => void (sourceOf(source).loaded += n)),
      rejected: (source: string, category: string, n = 1) => Effect.sync(() => {
        const c = sourceOf(source)
        c.rejected += n
        bump(c.rejectedBy, category, n)
      }),
      /** A previously counted load turned out to be a reject (a referential check at merge time). */
      reclassify: (source: string, category: string, n: number) => Effect.sync(() => {
        const c = sourceOf(source)
        c.loaded -= n
        c.rejected += n
        bump(c.rejectedBy, category, n)
      }),
      /**
       * A source's merge kept `kept` of its loaded records (its table's rows inserted, updated or
       * unchanged). The rest were earlier copies of a key that a later copy in the run replaced, in
       * another batch or among the dead-letter store's retries (the last copy wins): counted as
       * filtered `duplicate` (a batch counts its own), so that loaded is what the table holds.
       */
      kept: (source: string, kept: number) => Effect.sync(() => {
        const c = sourceOf(source)
        const replaced = c.loaded - kept
        if (replaced <= 0) return
        c.loaded = kept
        c.filtered += replaced
        bump(c.filteredBy, DUPLICATE, replaced)
      }),
      filtered: (source: string, why: string, n = 1) => Effect.sync(() => {
        const c = sourceOf(source)
        c.filtered += n
        bump(c.filteredBy, why, n)
      }),
      /** Loaded records with quality flags, counted by flag. */
      flagged: (source: string, counts: Readonly<Record<string, number>>) => Effect.sync(() => {
        const c = sourceOf(source)
        for (const [flag, n] of Object.entries(counts)) bump(c.flagged, flag, n)
      }),
      failed: (source: string, error: string) => Effect.sync(() => {
        const c = sourceOf(source)
        c.status = "failed"
        c.error = error
      }),
      changes: (table: string, counts: ChangeCounts & Record<string, number>) => Effect.sync(() => void changes.set(table, counts)),
      /** Times an effect as a named stage, in a span of the same name. */
      stage: (stage: string, records?: () => number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.gen(function* () {
          const startedAt = yield* Clock.currentTimeMillis
          active.set(stage, startedAt)
          return yield* effect.pipe(
            Effect.ensuring(Effect.gen(function* () {
              active.delete(stage)
              const finishedAt = yield* Clock.currentTimeMillis
              sampleMemory()
              const seconds = (finishedAt - startedAt) / 1000
              stages.push({ stage, startedAt, finishedAt, seconds, records: records?.() ?? sources.get(stage)?.read ?? 0 })
              const source = sources.get(stage)
              if (source !== undefined) source.seconds = seconds
            }))
          )
        }).pipe(Effect.withSpan(stage), Effect.annotateLogs("stage", stage)),
      snapshot: Effect.sync(() => {
        sampleMemory()
        return {
          sources: Object.fromEntries([...sources].map(([k, v]) => [k, { ...structuredClone(v), rows_per_second: v.seconds > 0 ? v.read / v.seconds : 0 }])),
          stages: [...stages],
          changes: Object.fromEntries(changes),
          peakRssBytes: peakRss
        }
      })
    }
  }
}) {}

export type MetricsSnapshot = Effect.Effect.Success<Metrics["snapshot"]>
