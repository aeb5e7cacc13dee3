/**
 * In-memory wiring for tests and for apps that embed the pipeline: an
 * in-memory SQLite warehouse, configuration from a map instead of the
 * environment, fresh metrics, and no log output.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { Alerts } from "../services/Alerts.js"
import { AppConfig, appConfig } from "../services/AppConfig.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { Metrics } from "../services/Metrics.js"
import * as SqliteWarehouse from "../services/warehouse/SqliteWarehouse.js"

/**
 * Configuration from `settings` only (no environment, no .env files). Built
 * fresh each call: a shared layer would be memoized with its first settings.
 */
export const config = (settings: Readonly<Record<string, string>>) =>
  Layer.effect(
    AppConfig,
    appConfig.pipe(
      Effect.map((c) => AppConfig.make(c)),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings))))
    )
  )

/**
 * A whole run's services on an in-memory SQLite warehouse (or the SQLite file
 * `filename`). Fresh layers: test runners share one memo map per file, and a
 * shared service would keep the settings of the suite that built it.
 */
export const layer = (settings: Readonly<Record<string, string>>, filename = ":memory:") =>
  Layer.mergeAll(SqliteWarehouse.layerSqlite(filename), Layer.fresh(Metrics.Default), Logger.remove(Logger.defaultLogger), Layer.fresh(CircuitBreaker.Default)).pipe(
    Layer.provideMerge(Layer.fresh(Alerts.Default)),
    Layer.provideMerge(config({ DATABASE_URL: `sqlite:${filename}`, ...settings })),
    Layer.provideMerge(NodeContext.layer)
  )
