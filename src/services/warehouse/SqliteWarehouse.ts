/** The SQLite warehouse (the embedded default). */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Layer from "effect/Layer"
import { sqlite } from "./Dialect.js"
import * as FileFlush from "./FileFlush.js"
import * as SqlWarehouse from "./SqlWarehouse.js"

/**
 * A SQLite warehouse at `filename` (`:memory:` for tests), with its SqlClient for direct queries.
 * The file's FileFlush is built first, so its descriptor is closed after the connection. The
 * dialect's setup switches to WAL, after choosing a new file's page size (Dialect.sqlite).
 */
export const layerSqlite = (filename: string) =>
  SqlWarehouse.layer(sqlite).pipe(Layer.provideMerge(SqliteClient.layer({ filename, disableWAL: true })), Layer.provideMerge(FileFlush.layer(filename)))
