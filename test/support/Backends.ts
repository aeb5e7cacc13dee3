/**
 * The warehouses a suite runs against: in-memory SQLite always, and the real
 * PostgreSQL (a fresh database per suite, dropped after) when
 * TEST_DATABASE_URL is set.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Logger, Redacted } from "effect"
import * as TestLayer from "../../src/layers/Test.js"
import { Alerts } from "../../src/services/Alerts.js"
import { CircuitBreaker } from "../../src/services/CircuitBreaker.js"
import { Metrics } from "../../src/services/Metrics.js"
import * as PgWarehouse from "../../src/services/warehouse/PgWarehouse.js"
import { freshDatabase, skipReason } from "./Postgres.js"

const pgLayer = (settings: Readonly<Record<string, string>>) =>
  Layer.unwrapScoped(
    Effect.map(
      Effect.acquireRelease(Effect.promise(() => freshDatabase("etl_wh")), (db) => Effect.promise(() => db.drop())),
      (db) =>
        Layer.mergeAll(PgWarehouse.layerPg(Redacted.make(db.url)), Layer.fresh(Metrics.Default), Logger.remove(Logger.defaultLogger), Layer.fresh(CircuitBreaker.Default)).pipe(
          Layer.provideMerge(Layer.fresh(Alerts.Default)),
          Layer.provideMerge(TestLayer.config({ ...settings, DATABASE_URL: db.url })),
          Layer.provideMerge(NodeContext.layer)
        )
    )
  )

export interface Backend {
  readonly name: string
  readonly skip: string | undefined
  readonly layer: (settings: Readonly<Record<string, string>>) => ReturnType<typeof TestLayer.layer>
}

export const backends: ReadonlyArray<Backend> = [
  { name: "SQLite", skip: undefined, layer: (settings) => TestLayer.layer(settings) },
  { name: "PostgreSQL", skip: skipReason, layer: (settings) => pgLayer(settings) as unknown as ReturnType<typeof TestLayer.layer> }
]

/** A value as the contract reads it, whatever the dialect: numbers as numbers, booleans 0/1, dates as text. */
const normalize = (v: unknown): unknown =>
  typeof v === "boolean" ? (v ? 1 : 0)
  : typeof v === "bigint" ? Number(v)
  : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v)
  : v instanceof Date ? v.toISOString()
  : v

/** Rows of a query, normalized so SQLite and PostgreSQL read the same. */
export const rows = (text: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<Record<string, unknown>>(text)).pipe(
    Effect.map((rs) => rs.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, normalize(v)]))))
  )
