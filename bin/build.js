// Bundles src/ into dist/etl.mjs with esbuild: ES modules with Effect and our code, the drivers
// (native or CommonJS) left as imports. What is loaded only on demand (the PostgreSQL and SQL
// Server dialects, OpenTelemetry, SMTP) goes into chunks of its own, so a run loads only what
// it uses. `npm run build` runs it; bin/etl.js runs it
// whenever a source file is newer than the bundle, so a checkout never runs stale code.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
export const bundle = join(root, "dist", "etl.mjs")

const newest = (path) => {
  const s = statSync(path)
  return s.isDirectory() ? Math.max(s.mtimeMs, ...readdirSync(path).map((f) => newest(join(path, f)))) : s.mtimeMs
}

/** No bundle yet, or a source file, package.json or this script changed since it was built. */
export const stale = () =>
  existsSync(join(root, "src")) &&
  (!existsSync(bundle) ||
    Math.max(newest(join(root, "src")), statSync(join(root, "package.json")).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs) >
      statSync(bundle).mtimeMs)

/**
 * src/ imports Effect's modules by path (`import * as Effect from "effect/Effect"`), never from a
 * package's index (`import { Effect } from "effect"`): esbuild keeps every module an index
 * re-exports as a namespace object, so `Effect.gen` kept all of Effect, Stream and Schema. By path,
 * the same code: the entry and the chunks it imports 2.7 → 1.6 MB; the bundled sample's run
 * 0.45 → 0.40 s and 109 → 92 MB at the peak (eight alternating runs each), `etl --help` 0.26 →
 * 0.21 s and 91 → 70 MB; a 1M run 4-10 MB lower at the peak, its time the same within the noise.
 */
const modulesByPath = {
  name: "modules-by-path",
  setup(b) {
    b.onResolve({ filter: /^(effect|@effect\/[a-z-]+)$/ }, (args) =>
      args.importer.startsWith(join(root, "src"))
        ? { errors: [{ text: `import ${args.path}'s modules by path (${args.path}/Module), not from its index: the index bundles all of them` }] }
        : undefined)
  }
}

export const build = async () => {
  const esbuild = await import("esbuild")
  const result = await esbuild.build({
    // The command; the second threads that read a large sales file (src/programs/ReadThread.ts,
    // SplitRead.ts) and that validate a SQLite warehouse (src/services/warehouse/QueryThread.ts).
    entryPoints: {
      etl: join(root, "src", "bin.ts"),
      "read-thread": join(root, "src", "programs", "ReadThreadWorker.ts"),
      "split-read": join(root, "src", "programs", "SplitReadWorker.ts"),
      "query-thread": join(root, "src", "services", "warehouse", "QueryThreadWorker.ts")
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    outdir: dirname(bundle),
    entryNames: "[name]",
    chunkNames: "chunks/[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    splitting: true,
    sourcemap: "linked",
    sourcesContent: false,
    // Native and CommonJS drivers stay in node_modules.
    external: ["better-sqlite3", "pg", "pg-native", "pg-copy-streams", "tedious", "nodemailer"],
    banner: { js: "import { createRequire as __etlRequire } from 'node:module'; const require = __etlRequire(import.meta.url);" },
    logLevel: "warning",
    plugins: [modulesByPath]
  })
  // Written aside and renamed, the entry last: two first runs at once never read half a file.
  const files = [...result.outputFiles].sort((a, b) => Number(a.path.endsWith("etl.mjs")) - Number(b.path.endsWith("etl.mjs")))
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true })
    const tmp = `${file.path}.${process.pid}.tmp`
    writeFileSync(tmp, file.contents)
    renameSync(tmp, file.path)
  }
  // Chunks of earlier builds, once no process started from them can still be loading them.
  const chunks = join(dirname(bundle), "chunks")
  const current = new Set(files.map((f) => f.path))
  for (const f of readdirSync(chunks)) {
    const path = join(chunks, f)
    if (!current.has(path) && Date.now() - statSync(path).mtimeMs > 3600_000) rmSync(path, { force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build()
