/** The PostgreSQL warehouse. */
import { PgClient } from "@effect/sql-pg"
import { Duration, Layer, type Redacted } from "effect"
import pg from "pg"
import { postgres } from "./Dialect.js"
import * as SqlWarehouse from "./SqlWarehouse.js"

const DATE_OID = 1082

/** A DATE stays `YYYY-MM-DD`: a JS Date at local midnight would move days across time zones. */
const dateAsText: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === DATE_OID ? (value: string) => value : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"]
}

/** A PostgreSQL warehouse at `url`, with its SqlClient for direct queries. */
export const layerPg = (url: Redacted.Redacted<string>) =>
  SqlWarehouse.layer(postgres).pipe(
    Layer.provideMerge(PgClient.layer({ url, connectTimeout: Duration.seconds(10), maxConnections: 4, applicationName: "etl", types: dateAsText }))
  )
