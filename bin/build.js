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
    logLevel: "warning"
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
