/** The SQLite warehouse (the embedded default). */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Layer } from "effect"
import { sqlite } from "./Dialect.js"
import * as SqlWarehouse from "./SqlWarehouse.js"

/** A SQLite warehouse at `filename` (`:memory:` for tests), with its SqlClient for direct queries. */
export const layerSqlite = (filename: string) =>
  SqlWarehouse.layer(sqlite).pipe(Layer.provideMerge(SqliteClient.layer({ filename })))
