/** Picks the warehouse dialect from DATABASE_URL. */
import { FileSystem } from "@effect/platform"
import { Cause, Effect, Layer } from "effect"
import { WarehouseError } from "../schema/Errors.js"
import { AppConfig } from "../services/AppConfig.js"
import * as SqliteWarehouse from "../services/warehouse/SqliteWarehouse.js"

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
        yield* fs.makeDirectory(filename.slice(0, filename.lastIndexOf("/")), { recursive: true }).pipe(Effect.ignore)
      }
      return SqliteWarehouse.layerSqlite(filename)
    })
  ).pipe(Layer.catchAllCause(cannotOpen(`sqlite:${filename}`)))

export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    const db = config.database
    switch (db.kind) {
      case "sqlite":
        return sqlite(db.filename)
      case "postgres":
      case "mssql":
        return Layer.fail(
          new WarehouseError({
            operation: "connect",
            reason: `the ${db.kind === "postgres" ? "PostgreSQL" : "SQL Server"} warehouse (${db.display}) is not available in this build yet; use sqlite:PATH`,
            transient: false
          })
        )
    }
  })
)
