/**
 * The `etl` command (contract.md, "Commands"). Exit codes: 0 success, 1
 * failure, 2 bad usage or configuration, 3 partial.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { forEnvironment } from "./layers/ConfigProvider.js"
import * as Main from "./layers/Main.js"
import { dashboardFigures, renderDashboard } from "./programs/Dashboard.js"
import { generate } from "./programs/Generate.js"
import { healthCheck } from "./programs/Health.js"
import { runPipeline } from "./programs/Pipeline.js"
import { formatTable } from "./programs/Report.js"
import { seedSourceDatabase } from "./programs/SeedSource.js"
import { parseIsoDay } from "./rules/Dates.js"
import { Alerts } from "./services/Alerts.js"
import { AppConfig, describeConfigError, parseDatabaseUrl } from "./services/AppConfig.js"
import { RejectCategory } from "./schema/Reject.js"
import { Warehouse } from "./services/Warehouse.js"
import { makeDirectories } from "./services/Directories.js"

/** Ends the command with this exit code; its message has already been printed. */
export class ExitStatus extends Data.TaggedError("ExitStatus")<{ readonly code: number }> {}

export const EXIT = { success: 0, failure: 1, usage: 2, partial: 3, strict: 4 } as const

const env = Options.choice("env", ["dev", "test", "prod"]).pipe(
  Options.withDefault("dev" as const),
  Options.withDescription("Environment: reads .env.<env> after the process environment")
)

const day = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.filterMap((t) => Option.fromNullable(parseIsoDay(t.trim())), `--${name} expects a calendar date as YYYY-MM-DD`),
    Options.optional,
    Options.withDescription(description)
  )

const usageError = (message: string) =>
  Console.error(`etl: ${message}`).pipe(Effect.zipRight(Effect.fail(new ExitStatus({ code: EXIT.usage }))))

/**
 * The warehouse could not be opened while the layers were being built, before
 * the pipeline could alert: send the critical alert from here.
 */
const alertStartupFailure = (error: unknown) => {
  const tag = (error as { _tag?: string })._tag
  if (tag !== "WarehouseError" && tag !== "CircuitOpen") return Effect.void
  const message = (error as { message: string }).message
  return Effect.flatMap(Alerts, (alerts) =>
    Effect.logFatal(`the run stopped before reading any source: ${message}`).pipe(Effect.zipRight(alerts.send({
      key: "warehouse_unreachable", severity: "critical", title: "ETL Pipeline Failed - warehouse unreachable",
      stage: "Connect", errorType: tag, message: `${message}. The run stopped before reading any source.`,
      stackTrace: (error as { stack?: string }).stack
    })))).pipe(
      Effect.provide(Alerts.Default.pipe(Layer.provide(AppConfig.Default), Layer.provide(NodeContext.layer))),
      Effect.ignore
    )
}

/** One readable line for an expected failure, and its exit code. */
const explain = (error: unknown): Effect.Effect<never, ExitStatus> => {
  if (error instanceof ExitStatus) return Effect.fail(error)
  if (ConfigError.isConfigError(error)) {
    return Console.error(describeConfigError(error)).pipe(Effect.zipRight(Effect.fail(new ExitStatus({ code: EXIT.usage }))))
  }
  const message = error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
    ? String((error as { message: unknown }).message)
    : String(error)
  return Console.error(`etl: ${message}`).pipe(Effect.zipRight(Effect.fail(new ExitStatus({ code: EXIT.failure }))))
}

/**
 * Runs `program` with the live layers of environment `envName`, turning every
 * expected failure into one readable line and its exit code.
 */
export const withEnvironment = (envName: string) =>
  <A, E>(program: Effect.Effect<A, E, Layer.Layer.Success<typeof Main.layer>>) =>
    Effect.gen(function* () {
      const provider = yield* forEnvironment(envName)
      return yield* program.pipe(
        Effect.provide(Main.layer),
        Effect.tapError((e) => alertStartupFailure(e)),
        Effect.withConfigProvider(provider)
      )
    }).pipe(
      Effect.catchAllCause((cause): Effect.Effect<never, ExitStatus> => {
        const failure = Cause.failureOption(cause)
        if (Option.isSome(failure)) return explain(failure.value)
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        // The driver's own words too: "SqlError: Failed to execute statement" alone says nothing.
        const squashed = Cause.squash(cause)
        const underlying = squashed instanceof Error && squashed.cause instanceof Error ? ` (${squashed.cause.message})` : ""
        return Console.error(`etl: unexpected error: ${Cause.pretty(cause).split("\n")[0]}${underlying}`).pipe(
          Effect.zipRight(Effect.fail(new ExitStatus({ code: EXIT.failure })))
        )
      })
    )

const run = Command.make(
  "run",
  {
    env,
    date: day("date", "Process the transactions dated this day (a backfill: the high-water mark stays)"),
    from: day("from", "First day of a backfill window (inclusive)"),
    to: day("to", "Last day of a backfill window (inclusive)"),
    fullRefresh: Options.boolean("full-refresh").pipe(Options.withDescription("Reprocess everything, ignoring the high-water mark")),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Extract, transform and validate; write nothing to the warehouse")),
    strict: Options.boolean("strict").pipe(Options.withDescription("Exit 4 when a data-quality check finds an error")),
    partitionBy: Options.choice("partition-by", ["none", "day"]).pipe(
      Options.withDefault("none" as const),
      Options.withDescription("day: load the sales as one workflow per day of the window on the cluster's runners (etl runner)")
    )
  },
  (o) =>
    Effect.gen(function* () {
      if (o.partitionBy === "day" && (o.dryRun || o.fullRefresh)) {
        return yield* usageError(`--partition-by day cannot be combined with ${o.dryRun ? "--dry-run" : "--full-refresh (pass --from and --to)"}`)
      }
      if (Option.isSome(o.date) && (Option.isSome(o.from) || Option.isSome(o.to))) {
        return yield* usageError("--date cannot be combined with --from/--to")
      }
      if (o.fullRefresh && (Option.isSome(o.date) || Option.isSome(o.from) || Option.isSome(o.to))) {
        return yield* usageError("--full-refresh reprocesses everything; it cannot be combined with --date, --from or --to")
      }
      if (Option.isSome(o.from) && Option.isSome(o.to) && o.from.value > o.to.value) {
        return yield* usageError(`--from ${o.from.value} is after --to ${o.to.value}`)
      }
      const summary = yield* Effect.gen(function* () {
        // A partitioned run finds out its cluster storage is missing before it starts.
        if (o.partitionBy === "day") yield* Effect.flatMap(Effect.promise(() => import("./layers/Cluster.js")), (m) => m.clusterStorage)
        return yield* runPipeline(o)
      }).pipe(withEnvironment(o.env))
      const code = summary.status === "success" ? EXIT.success : summary.status === "partial" ? EXIT.partial : EXIT.failure
      if (code !== EXIT.success) return yield* new ExitStatus({ code })
      // Quality findings and anomalies leave the exit code alone unless asked.
      const severe = summary.quality.some((q) => q.level === "error") || summary.anomalies.some((a) => a.severity === "critical")
      if (o.strict && severe) {
        yield* Console.error("etl: --strict: a data-quality check found an error (see the summary above)")
        return yield* new ExitStatus({ code: EXIT.strict })
      }
    })
).pipe(Command.withDescription("Run the pipeline: extract, transform, load, validate, report"))

const migrate = Command.make("migrate", { env }, (o) =>
  Effect.gen(function* () {
    const warehouse = yield* Warehouse
    const applied = yield* warehouse.migrate
    yield* Console.log(applied.length === 0 ? "The warehouse schema is up to date." : `Applied: ${applied.join(", ")}`)
  }).pipe(withEnvironment(o.env))).pipe(Command.withDescription("Create or upgrade the warehouse schema"))

const generateCommand = Command.make(
  "generate",
  {
    transactions: Options.integer("transactions").pipe(
      Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--transactions expects a whole number ≥ 1"),
      Options.withDescription("How many sales transactions to write")
    ),
    out: Options.directory("out", { exists: "either" }).pipe(Options.withDescription("Folder for customers.csv, products.json, sales_transactions.csv")),
    seed: Options.integer("seed").pipe(Options.withDefault(42), Options.withDescription("Same seed, same files")),
    days: Options.integer("days").pipe(
      Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--days expects a whole number ≥ 1"),
      Options.withDefault(365),
      Options.withDescription("Spread the transactions over this many days from 2024-01-01")
    ),
    sourceDb: Options.text("source-db").pipe(
      Options.filterMap((url) => Either.getRight(parseDatabaseUrl(url)), "--source-db expects sqlite:PATH or postgres://user:pass@host:port/db"),
      Options.optional,
      Options.withDescription("Also fill this database's sales_transactions table (then set SOURCE_DATABASE_URL to read from it)")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const set = yield* generate({ transactions: o.transactions, outDir: o.out, seed: o.seed, days: o.days })
      yield* Console.log(`Wrote ${set.customers} customers, ${set.products} products, ${set.transactions} transactions to ${o.out}`)
      if (Option.isSome(o.sourceDb)) {
        const rows = yield* seedSourceDatabase(o.sourceDb.value, `${o.out}/sales_transactions.csv`)
        yield* Console.log(`Wrote ${rows} rows to sales_transactions in ${o.sourceDb.value.display}`)
      }
    }).pipe(Effect.catchTag("OutputError", (e) => explain(e)))
).pipe(Command.withDescription("Write a deterministic synthetic data set (with a few percent of dirty rows)"))

const table = (rows: ReadonlyArray<ReadonlyArray<string>>) => formatTable(rows, "text")

const rejectsCommand = Command.make(
  "rejects",
  {
    env,
    source: Options.choice("source", ["customers", "products", "sales"]).pipe(Options.optional, Options.withDescription("Only this source")),
    category: Options.choice("category", RejectCategory.literals).pipe(Options.optional, Options.withDescription("Only this category")),
    limit: Options.integer("limit").pipe(Options.withDefault(50), Options.withDescription("How many records to list")),
    requeue: Options.boolean("requeue").pipe(Options.withDescription("Mark the category's open rejects for the next run to retry"))
  },
  (o) =>
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      yield* warehouse.migrate
      const source = Option.getOrUndefined(o.source)
      const category = Option.getOrUndefined(o.category)
      if (o.requeue) {
        if (category === undefined) return yield* usageError("--requeue needs --category (and optionally --source)")
        const n = yield* warehouse.requeue(category, source)
        yield* Console.log(`Re-queued ${n} open ${category} reject(s)${source === undefined ? "" : ` of ${source}`}; the next etl run retries them.`)
        return
      }
      if (source === undefined && category === undefined) {
        const groups = yield* warehouse.rejectSummary
        if (groups.length === 0) return yield* Console.log("No open rejects.")
        yield* Console.log(table([
          ["source", "category", "open", "requeued", "e.g."],
          ...groups.map((g) => [g.source, g.category, String(g.count), String(g.requeued), g.topReason.slice(0, 70)])
        ]))
        return
      }
      const rejects = yield* warehouse.listRejects({ source, category, limit: o.limit })
      if (rejects.length === 0) return yield* Console.log("No open rejects match.")
      yield* Console.log(table([
        ["source", "key", "category", "attempts", "reason", "location"],
        ...rejects.map((r) => [r.source, r.recordKey ?? "-", r.category, String(r.attempts), r.reason, r.location ?? "-"])
      ]))
    }).pipe(withEnvironment(o.env))
).pipe(Command.withDescription("List open rejects by category, or re-queue a category for the next run"))

const health = Command.make(
  "health",
  { env, json: Options.boolean("json").pipe(Options.withDescription("Print the findings as JSON")) },
  (o) =>
    Effect.gen(function* () {
      const provider = yield* forEnvironment(o.env)
      const findings = yield* healthCheck.pipe(
        Effect.provide(AppConfig.Default),
        Effect.withConfigProvider(provider),
        Effect.catchAll((e) =>
          Effect.succeed([{ component: "configuration", healthy: false, detail: ConfigError.isConfigError(e) ? describeConfigError(e) : String(e) }]))
      )
      if (o.json) yield* Console.log(JSON.stringify({ healthy: findings.every((f) => f.healthy), components: findings }, null, 2))
      else {
        const width = Math.max(...findings.map((f) => f.component.length))
        for (const f of findings) yield* Console.log(`${f.healthy ? "OK  " : "FAIL"}  ${f.component.padEnd(width)}  ${f.detail}`)
      }
      const configBroken = findings.some((f) => f.component === "configuration" && !f.healthy)
      if (configBroken) return yield* new ExitStatus({ code: EXIT.usage })
      if (!findings.every((f) => f.healthy)) return yield* new ExitStatus({ code: EXIT.failure })
    })
).pipe(Command.withDescription("Check configuration, databases, files, folders and alert channels; exit 0 only when all are healthy"))

const report = Command.make(
  "report",
  { env, json: Options.boolean("json").pipe(Options.withDescription("Print the figures as JSON instead of writing the page")) },
  (o) =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      yield* (yield* Warehouse).migrate
      const figures = yield* dashboardFigures()
      if (o.json) return yield* Console.log(JSON.stringify(figures, null, 2))
      const fs = yield* FileSystem.FileSystem
      const path = `${config.files.outputDir.replace(/\/+$/, "")}/dashboard.html`
      yield* makeDirectories(fs, config.files.outputDir)
      yield* fs.writeFileString(path, renderDashboard(figures))
      yield* Console.log(`Wrote ${path} (${figures.runs.length} runs)`)
    }).pipe(withEnvironment(o.env))
).pipe(Command.withDescription("Write OUTPUT_DIR/dashboard.html from the run history (or print the figures as JSON)"))

const runner = Command.make(
  "runner",
  {
    env,
    host: Options.text("host").pipe(
      Options.withFallbackConfig(Config.string("RUNNER_HOST")),
      Options.withDefault("127.0.0.1"),
      Options.withDescription("Address the other runners and the runs reach this runner at (RUNNER_HOST)")
    ),
    port: Options.integer("port").pipe(
      Options.withFallbackConfig(Config.integer("RUNNER_PORT")),
      Options.withDefault(34431),
      Options.withDescription("TCP port of this runner (RUNNER_PORT)")
    ),
    concurrency: Options.integer("concurrency").pipe(
      Options.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), "--concurrency expects a whole number ≥ 1"),
      Options.withDefault(1),
      Options.withDescription("How many partitions this runner stages at once")
    )
  },
  (o) =>
    Effect.gen(function* () {
      const [partitions, cluster] = yield* Effect.promise(() => Promise.all([import("./programs/Partitions.js"), import("./layers/Cluster.js")]))
      const storage = yield* cluster.clusterStorage
      // The run migrates the warehouse before it submits partitions (runners starting together would race).
      const name = `${o.host}:${o.port} pid ${process.pid}`
      yield* Effect.logInfo(`runner ${name} starting (cluster state in ${storage.display}); stop it with Ctrl-C`)
      return yield* Layer.launch(cluster.runnerLayer({ host: o.host, port: o.port }, partitions.partitionWorkflows(name, o.concurrency))).pipe(
        Effect.catchTag("SocketServerError", (e) =>
          Effect.fail(new Error(`the runner cannot listen on ${o.host}:${o.port}: ${(e.cause as { message?: string } | undefined)?.message ?? e.reason} (pick another --port)`)))
      )
    }).pipe(withEnvironment(o.env))
).pipe(Command.withDescription("Run partitions of partitioned runs (etl run --partition-by day) until stopped"))

const partitionsCommand = Command.make(
  "partitions",
  {
    env,
    runId: Options.text("run").pipe(Options.optional, Options.withDescription("The run (default: the newest partitioned run)")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the partitions as JSON"))
  },
  (o) =>
    Effect.gen(function* () {
      const warehouse = yield* Warehouse
      yield* warehouse.migrate
      const rows = yield* warehouse.partitions(Option.getOrNull(o.runId))
      if (o.json) return yield* Console.log(JSON.stringify(rows, null, 2))
      if (rows.length === 0) return yield* Console.log("No partitioned run yet.")
      const merged = rows.filter((r) => r.state === "merged").length
      yield* Console.log(`Run ${rows[0]!.runId}: ${merged} of ${rows.length} partitions merged`)
      const summary = (json: string | null, keys: ReadonlyArray<string>) => {
        if (json === null) return "-"
        const v = JSON.parse(json) as Record<string, number>
        return keys.map((k) => `${v[k] ?? 0} ${k}`).join(", ")
      }
      yield* Console.log(table([
        ["partition", "state", "runner", "stagings", "merges", "staged", "merged", "updated"],
        ...rows.map((r) => [
          r.key, r.state + (r.error === null ? "" : `: ${r.error.slice(0, 60)}`), r.runner ?? "-", String(r.stageAttempts), String(r.merges),
          summary(r.staged, ["read", "loaded"]), summary(r.merged, ["inserted", "updated"]), r.updatedAt.slice(0, 19)
        ])
      ]))
    }).pipe(withEnvironment(o.env))
).pipe(Command.withDescription("Show the partitions of a partitioned run: state, runner, attempts"))

export const etl = Command.make("etl").pipe(
  Command.withDescription("ETL of customers, products and sales into a star schema"),
  Command.withSubcommands([run, migrate, health, report, rejectsCommand, generateCommand, runner, partitionsCommand])
)

export const cli = (version: string) => Command.run(etl, { name: "etl", version })
