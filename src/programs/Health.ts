/**
 * pipeline_health_check: configuration, warehouse and source connectivity
 * (with a timeout), input files readable, output/log/alert folders writable,
 * SMTP and webhook reachable when configured. One finding per component.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createConnection } from "node:net"
import { AppConfig, parseClusterUrl } from "../services/AppConfig.js"
import { makeSqlClient } from "../services/SqlClients.js"
import { makeDirectories } from "../services/Directories.js"

export interface HealthFinding {
  readonly component: string
  readonly healthy: boolean
  readonly detail: string
}

const TIMEOUT = Duration.seconds(5)

const check = (component: string, probe: Effect.Effect<string, string>): Effect.Effect<HealthFinding> =>
  probe.pipe(
    Effect.timeoutFail({ duration: TIMEOUT, onTimeout: () => `no answer within ${Duration.format(TIMEOUT)}` }),
    Effect.match({
      onFailure: (detail) => ({ component, healthy: false, detail }),
      onSuccess: (detail) => ({ component, healthy: true, detail })
    })
  )

/** Opens a TCP connection to host:port and closes it. */
const reachable = (host: string, port: number) =>
  Effect.async<string, string>((resume) => {
    const socket = createConnection({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(`${host}:${port} reachable`))
    })
    socket.once("error", (e) => resume(Effect.fail(`${host}:${port} unreachable: ${e.message}`)))
    return Effect.sync(() => socket.destroy())
  })

export const healthCheck = Effect.gen(function* () {
  const config = yield* AppConfig
  const fs = yield* FileSystem.FileSystem

  const database = (target: typeof config.database, what: string) =>
    Effect.scoped(
      Effect.gen(function* () {
        const sql = yield* makeSqlClient(target, { readonly: target.kind === "sqlite" }).pipe(Effect.mapError((e) => `${target.display}: ${e.message}`))
        yield* sql.unsafe(what).pipe(Effect.mapError((e) => `${target.display}: ${e.message}`))
        return `${target.display} answers`
      })
    )

  const readable = (path: string) =>
    fs.access(path, { readable: true }).pipe(
      Effect.zipRight(fs.stat(path)),
      Effect.flatMap((s) => (s.type === "File" ? Effect.succeed(`${path} readable`) : Effect.fail(`${path} is not a file`))),
      Effect.mapError((e) => (typeof e === "string" ? e : `${path}: ${e._tag === "SystemError" && e.reason === "NotFound" ? "file not found" : e.message}`))
    )

  const writable = (dir: string) =>
    Effect.gen(function* () {
      yield* makeDirectories(fs, dir)
      const probe = `${dir.replace(/\/+$/, "")}/.etl-health-${process.pid}`
      yield* fs.writeFileString(probe, "ok")
      yield* fs.remove(probe)
      return `${dir} writable`
    }).pipe(Effect.mapError((e) => `${dir} not writable: ${e.message}`))

  const warehouseProbe = config.database.kind === "sqlite" && config.database.filename !== ":memory:"
    ? fs.exists(config.database.filename).pipe(
        Effect.orElseSucceed(() => false),
        Effect.flatMap((exists) =>
          exists
            ? database(config.database, "SELECT 1")
            : writable(config.database.filename.includes("/") ? config.database.filename.slice(0, config.database.filename.lastIndexOf("/")) : ".").pipe(
                Effect.as(`${config.database.display} will be created on the first run`)
              ))
      )
    : database(config.database, "SELECT 1")

  // Partitioned runs keep the cluster's state in PostgreSQL (see layers/Cluster.ts).
  const clusterUrl = yield* Config.string("CLUSTER_DATABASE_URL").pipe(Config.option, Effect.orElseSucceed(() => Option.none<string>()))
  const clusterCheck = Option.match(clusterUrl, {
    onNone: () =>
      Effect.succeed({
        component: "cluster storage", healthy: true,
        detail: config.database.kind === "postgres"
          ? "the warehouse's database (for etl run --partition-by and etl runner)"
          : "not configured: runs are single-process (set CLUSTER_DATABASE_URL for --partition-by)"
      }),
    onSome: (url) =>
      check("cluster storage", Either.match(parseClusterUrl(url), {
        onLeft: (reason) => Effect.fail(`CLUSTER_DATABASE_URL: ${reason}`),
        onRight: (target) => database(target, "SELECT 1")
      }))
  })

  const checks: Array<Effect.Effect<HealthFinding>> = [
    Effect.succeed({ component: "configuration", healthy: true, detail: `valid (env ${config.env})` }),
    check("warehouse", warehouseProbe),
    clusterCheck,
    check("customers file", readable(config.files.customersFile)),
    check("products file", readable(config.files.productsFile)),
    Option.match(config.files.sourceDatabase, {
      onNone: () => check("sales file", readable(config.files.salesFile)),
      onSome: (db) => check("source database", database(db, "SELECT count(*) FROM sales_transactions WHERE 1 = 0"))
    }),
    check("output folder", writable(config.files.outputDir)),
    check("log folder", writable(config.logging.logDir)),
    check("alerts folder", writable(config.alerts.alertsDir)),
    Option.match(config.alerts.smtpHost, {
      onNone: () => Effect.succeed({ component: "smtp", healthy: true, detail: "not configured: email alerts are simulated only" }),
      onSome: (host) => check("smtp", reachable(host, config.alerts.smtpPort))
    }),
    Option.match(config.alerts.slackWebhookUrl, {
      onNone: () => Effect.succeed({ component: "slack webhook", healthy: true, detail: "not configured: Slack alerts are simulated only" }),
      onSome: (url) => {
        const u = new URL(Redacted.value(url))
        // The URL itself is a secret: only its host is shown.
        return check("slack webhook", reachable(u.hostname, u.port === "" ? (u.protocol === "http:" ? 80 : 443) : Number(u.port)))
      }
    })
  ]
  return yield* Effect.all(checks, { concurrency: "unbounded" })
})
