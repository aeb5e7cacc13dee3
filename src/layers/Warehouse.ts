/** Picks the warehouse dialect from DATABASE_URL. */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { WarehouseError } from "../schema/Errors.js"
import type * as SqlClient from "@effect/sql/SqlClient"
import { AppConfig } from "../services/AppConfig.js"
import { CircuitBreaker, type CircuitOpen } from "../services/CircuitBreaker.js"
import { makeSqlClient } from "../services/SqlClients.js"
import type { Warehouse } from "../services/Warehouse.js"
import * as SqliteWarehouse from "../services/warehouse/SqliteWarehouse.js"
import { makeDirectories } from "../services/Directories.js"

const cannotOpen = (target: string) => (cause: Cause.Cause<unknown>) =>
  Layer.fail(
    new WarehouseError({
      operation: "connect",
      reason: `cannot open ${target}: ${Cause.squash(cause) instanceof Error ? (Cause.squash(cause) as Error).message : String(Cause.squash(cause))}`,
      transient: false
    })
  )

const sqlite = (filename: string) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      if (filename !== ":memory:" && filename.includes("/")) {
        const fs = yield* FileSystem.FileSystem
        yield* makeDirectories(fs, filename.slice(0, filename.lastIndexOf("/"))).pipe(Effect.ignore)
      }
      return SqliteWarehouse.layerSqlite(filename)
    })
  ).pipe(Layer.catchAllCause(cannotOpen(`sqlite:${filename}`)))

export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, (config): Layer.Layer<Warehouse | SqlClient.SqlClient, WarehouseError | CircuitOpen, FileSystem.FileSystem | CircuitBreaker> => {
    const db = config.database
    switch (db.kind) {
      case "sqlite":
        return sqlite(db.filename)
      case "postgres":
      case "mssql":
        // Connecting is retried on the transient schedule, through the warehouse's circuit breaker.
        return Layer.unwrapEffect(
          Effect.flatMap(CircuitBreaker, (breaker) =>
            breaker.resilient("warehouse", `connecting to ${db.display}`, Effect.scoped(makeSqlClient(db)).pipe(
              Effect.mapError((e) => new WarehouseError({ operation: "connect", reason: e.message, transient: e.transient }))
            )).pipe(
              Effect.catchTag("WarehouseError", (e) =>
                !e.transient ? Effect.fail(e) : Effect.flatMap(breaker.describe("warehouse"), (state) =>
                  Effect.fail(new WarehouseError({
                    operation: "connect",
                    reason: `${db.display} could not be reached in ${config.processing.maxRetries + 1} attempts (${e.reason}); ${state}`,
                    transient: false
                  }))))
            ))
            .pipe(
              // Each server dialect's module (and driver) is loaded only when it is the warehouse.
              Effect.zipRight(Effect.promise(() =>
                db.kind === "postgres"
                  ? import("../services/warehouse/PgWarehouse.js").then((m) => m.layerPg(db.url))
                  : import("../services/warehouse/MssqlWarehouse.js").then((m) => m.layerMssql(db.url))
              )),
              Effect.map((layer) => layer.pipe(Layer.catchAllCause(cannotOpen(db.display))))
            )
        )
    }
  })
)
