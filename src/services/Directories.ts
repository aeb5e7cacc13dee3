/**
 * `mkdir -p` that always ends. Node's own (`mkdir` with `recursive`, 20 and 22) loops for ever at
 * full CPU where a parent exists but cannot hold the child, as under /proc or through a dangling
 * symbolic link: the child's mkdir says ENOENT, so it makes the parent (EEXIST) and tries the child
 * again. The synchronous one freezes the whole process, deaf to SIGTERM (LOG_DIR=/proc/x did); the
 * others never settle (DATABASE_URL=sqlite:/proc/x/w.db hung at start). These make each missing
 * directory once, from the deepest one that exists down, and the first refusal is the answer.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { SystemError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import { mkdirSync, statSync } from "node:fs"
import { dirname, resolve } from "node:path"

/** `path` and the directories above it, the deepest first, up to the root. */
const lineage = (path: string): Array<string> => {
  const out: Array<string> = []
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    out.push(dir)
    if (dirname(dir) === dir) return out
  }
}

const notADirectory = (dir: string) =>
  new SystemError({ reason: "AlreadyExists", module: "FileSystem", method: "makeDirectory", pathOrDescriptor: dir, description: "it exists and is not a directory" })

/** Makes `path` and the directories above it that are missing (`fs.makeDirectory`, one level at a time). */
export const makeDirectories = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function* () {
    const dirs = lineage(path)
    // Most often it is there already.
    if ((yield* Effect.option(fs.stat(dirs[0]!))).pipe((o) => o._tag === "Some" && o.value.type === "Directory")) return
    // From the top: the first that is missing, and every one below it, is made.
    let missing = dirs.length
    while (missing > 0) {
      const info = yield* Effect.option(fs.stat(dirs[missing - 1]!))
      if (info._tag === "None") break
      if (info.value.type !== "Directory") return yield* notADirectory(dirs[missing - 1]!)
      missing--
    }
    for (let i = missing - 1; i >= 0; i--) {
      yield* fs.makeDirectory(dirs[i]!).pipe(
        Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "AlreadyExists", () =>
          Effect.flatMap(fs.stat(dirs[i]!), (info) => info.type === "Directory" ? Effect.void : notADirectory(dirs[i]!)))
      )
    }
  })

/** makeDirectories, synchronously (node:fs): throws what the first level that cannot be made throws. */
export const makeDirectoriesSync = (path: string): void => {
  const dirs = lineage(path)
  try {
    if (statSync(dirs[0]!).isDirectory()) return
  } catch {
    // Missing: made below.
  }
  let missing = dirs.length
  while (missing > 0) {
    let isDirectory: boolean
    try {
      isDirectory = statSync(dirs[missing - 1]!).isDirectory()
    } catch {
      break
    }
    if (!isDirectory) throw new Error(`cannot make ${dirs[missing - 1]}: it exists and is not a directory`)
    missing--
  }
  for (let i = missing - 1; i >= 0; i--) {
    try {
      mkdirSync(dirs[i]!)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || !statSync(dirs[i]!).isDirectory()) throw e
    }
  }
}
