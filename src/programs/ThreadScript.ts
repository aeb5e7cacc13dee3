/**
 * How to start a worker thread of the command: the bundle's `<name>.mjs` beside
 * the command's own (bin/build.js), or, running from src/ (tests, an app that
 * embeds the pipeline), `source` (a file of this folder) bundled once per
 * process by esbuild.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker, type ResourceLimits } from "node:worker_threads"

export type ThreadScript = { readonly file: URL } | { readonly code: string }

export const threadScript = (name: string, source: string): Effect.Effect<ThreadScript> => {
  let fromSource: Promise<string> | undefined
  return Effect.promise(async (): Promise<ThreadScript> => {
    for (const candidate of [`./${name}.mjs`, `../${name}.mjs`]) {
      const file = new URL(candidate, import.meta.url)
      if (file.protocol === "file:" && existsSync(fileURLToPath(file))) return { file }
    }
    fromSource ??= import("esbuild").then(async (esbuild) => {
      const result = await esbuild.build({
        entryPoints: [fileURLToPath(new URL(`./${source}`, import.meta.url))],
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        write: false,
        // Native and CommonJS drivers stay in node_modules, as in the command's bundle.
        external: ["better-sqlite3", "pg", "pg-native", "pg-copy-streams", "tedious", "nodemailer"],
        logLevel: "warning"
      })
      return result.outputFiles[0]!.text
    })
    return { code: await fromSource }
  })
}

/**
 * A worker thread running `script` with `data`, within `limits`. Each message it posts goes to
 * `message`; an error it throws, or its exit (whatever the code), to `ended`.
 */
export const newThread = <M>(
  script: ThreadScript,
  data: unknown,
  limits: ResourceLimits,
  message: (m: M) => void,
  ended: (reason: string) => void
): Worker => {
  const options = { workerData: data, resourceLimits: limits }
  const w = "file" in script ? new Worker(script.file, options) : new Worker(script.code, { ...options, eval: true })
  w.on("message", message)
  w.on("error", (e) => ended(e.stack ?? e.message))
  w.on("exit", (code) => ended(`the thread exited with code ${code}`))
  return w
}

/** newThread, terminated when the scope closes. */
export const startThread = <M>(...args: Parameters<typeof newThread<M>>): Effect.Effect<Worker, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => newThread(...args)), (w) => Effect.promise(() => w.terminate()))
