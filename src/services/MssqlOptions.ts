/** The SQL Server client's options, in a module of their own so tedious loads only when it is used. */
import * as MssqlClient from "@effect/sql-mssql/MssqlClient"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import Tedious from "tedious"

export { MssqlClient }

/**
 * SQL Server parameter types: every string NVARCHAR (the default, VARCHAR,
 * loses characters outside the server's code page) and every JS number FLOAT
 * (the default, Int, truncates 1.5 to 1). Money never travels as a number.
 */
export const mssqlParameterTypes = {
  ...MssqlClient.defaultParameterTypes,
  string: Tedious.TYPES.NVarChar,
  number: Tedious.TYPES.Float
}

/** The client options for `mssql://user:password@host:port/database?encrypt=…&trustServerCertificate=…`. */
export const mssqlOptions = (url: URL): MssqlClient.MssqlClientConfig => ({
  server: url.hostname,
  port: url.port === "" ? 1433 : Number(url.port),
  database: decodeURIComponent(url.pathname.replace(/^\//, "")),
  username: decodeURIComponent(url.username),
  password: Redacted.make(decodeURIComponent(url.password)),
  trustServer: url.searchParams.get("trustServerCertificate") === "true",
  encrypt: url.searchParams.get("encrypt") !== "false",
  connectTimeout: Duration.seconds(15),
  parameterTypes: mssqlParameterTypes
})

