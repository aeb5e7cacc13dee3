/**
 * mkdir -p that always ends: where Node's recursive mkdir spins for ever (a
 * directory under /proc), each level is made once and the first refusal is
 * the answer, with the path in it.
 */
import { NodeFileSystem } from "@effect/platform-node"
import { FileSystem } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { existsSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeDirectories, makeDirectoriesSync } from "../../src/services/Directories.js"

const dir = mkdtempSync(join(tmpdir(), "etl-dirs-"))
writeFileSync(join(dir, "file"), "")
symlinkSync(join(dir, "nowhere"), join(dir, "dangling"))

const make = (path: string) => Effect.flatMap(FileSystem.FileSystem, (fs) => Effect.either(makeDirectories(fs, path)))
const makeSync = (path: string) => {
  try {
    makeDirectoriesSync(path)
    return "made"
  } catch (e) {
    return (e as Error).message
  }
}

describe("makeDirectories", () => {
  it.layer(NodeFileSystem.layer)((it) => {
    it.effect("makes every missing level, and is done at once when the directory is there", () =>
      Effect.gen(function* () {
        const deep = join(dir, "a", "b", "c")
        expect(Either.isRight(yield* make(deep))).toBe(true)
        expect(statSync(deep).isDirectory()).toBe(true)
        expect(Either.isRight(yield* make(deep))).toBe(true)
        expect(Either.isRight(yield* make(join(dir, "a", "b", "..", "d/")))).toBe(true)
        expect(existsSync(join(dir, "a", "d"))).toBe(true)
      }))

    it.effect.each([
      ["under /proc (Node's own loops for ever)", "/proc/etl-test/out", /NotFound: .*\/proc\/etl-test.*ENOENT/],
      ["below a file", join(dir, "file", "out"), /file\): it exists and is not a directory/],
      ["through a dangling link", join(dir, "dangling", "out"), /NotFound: .*dangling/]
    ] as const)("fails %s, naming the level", ([, path, message]) =>
      Effect.gen(function* () {
        if (path.startsWith("/proc") && !existsSync("/proc/self")) return console.log("skipped: no /proc here")
        const result = yield* make(path)
        expect(Either.isLeft(result) && result.left.message).toMatch(message)
      }))
  })
})

describe("makeDirectoriesSync", () => {
  it("makes every missing level, and fails where one cannot be made", () => {
    expect(makeSync(join(dir, "s", "t"))).toBe("made")
    expect(statSync(join(dir, "s", "t")).isDirectory()).toBe(true)
    expect(makeSync(join(dir, "s", "t"))).toBe("made")
    expect(makeSync(join(dir, "file", "out"))).toMatch(/file: it exists and is not a directory/)
    expect(makeSync(join(dir, "dangling", "out"))).toMatch(/ENOENT.*dangling/)
    if (existsSync("/proc/self")) expect(makeSync("/proc/etl-test/out")).toMatch(/ENOENT.*\/proc\/etl-test/)
  })
})
