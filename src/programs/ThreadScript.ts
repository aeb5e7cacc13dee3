/**
 * How to start a worker thread of the command: the bundle's `<name>.mjs` beside
 * the command's own (bin/build.js), or, running from src/ (tests, an app that
 * embeds the pipeline), `source` (a file of this folder) bundled once per
 * process by esbuild.
 */
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

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
