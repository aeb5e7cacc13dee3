/**
 * A first load into a SQLite file writes its pages to disk ahead of the commit
 * (FileFlush) through a descriptor of its own, held until the connection has
 * closed (closing it earlier would drop SQLite's locks on the file) and not after.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { readdirSync, readlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import * as FileFlush from "../../src/services/warehouse/FileFlush.js"
import { inputs } from "../support/Fixtures.js"

const root = join(import.meta.dirname, "../..")
const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

/** How many of this process's descriptors are open on `path` (Linux's /proc). */
const descriptorsOf = (path: string) =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path
    } catch {
      return false
    }
  }).length

describe.skipIf(process.platform !== "linux")("FileFlush", () => {
  it.effect("opens one descriptor at the first start, starts one flush at a time, and closes it with its scope", () =>
    Effect.gen(function* () {
      const file = join(inputs({}).dir, "warehouse.db")
      writeFileSync(file, "x".repeat(1 << 20))
      yield* Effect.scoped(Effect.gen(function* () {
        const flush = Context.get(yield* Layer.build(FileFlush.layer(file)), FileFlush.FileFlush)
        expect(descriptorsOf(file)).toBe(0)
        yield* flush.start
        yield* flush.start
        expect(descriptorsOf(file)).toBe(1)
      }))
      expect(descriptorsOf(file)).toBe(0)
    }))

  it.effect("leaves no descriptor of the file behind after a first load's run", () =>
    Effect.gen(function* () {
      const { dir, settings } = inputs({})
      const file = join(dir, "warehouse.db")
      yield* Effect.scoped(Effect.gen(function* () {
        const context = yield* Layer.build(TestLayer.layer({ ...settings, INPUT_DIR: join(root, "data/input") }, file))
        expect((yield* runPipeline(full).pipe(Effect.provide(context))).status).toBe("success")
        expect(descriptorsOf(file)).toBeGreaterThan(1)
      }))
      expect(descriptorsOf(file)).toBe(0)
    }))

  it.effect("writes nothing for a warehouse in memory", () =>
    Effect.gen(function* () {
      const { settings } = inputs({})
      const before = readdirSync("/proc/self/fd").length
      yield* Effect.scoped(Effect.gen(function* () {
        const context = yield* Layer.build(TestLayer.layer({ ...settings, INPUT_DIR: join(root, "data/input") }))
        yield* Effect.flatMap(FileFlush.FileFlush, (f) => f.start).pipe(Effect.provide(context))
        expect(readdirSync("/proc/self/fd").length).toBe(before)
      }))
    }))
})
