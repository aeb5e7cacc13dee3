/**
 * track_data_lineage as OpenLineage 2-0-2 run events: START when a run
 * begins, then COMPLETE, FAIL or ABORT, with the datasets named by the
 * OpenLineage naming spec and `outputStatistics` row counts. Appended to
 * `OUTPUT_DIR/lineage.jsonl`, and posted to `OPENLINEAGE_URL` when it is set.
 * Lineage never fails a run: a write or post that fails is logged.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { resolve } from "node:path"
import { AppConfig, type AppConfigShape, type DatabaseTarget } from "../services/AppConfig.js"
import type { RunSummary } from "./Report.js"
import { makeDirectories } from "../services/Directories.js"

const PRODUCER = "urn:etl:0.1.0"
const SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
const FACETS = "https://openlineage.io/spec/facets/1-0-1"

export type EventType = "START" | "COMPLETE" | "FAIL" | "ABORT"

/** A table of the warehouse (or the source database) as the naming spec names it. */
export const tableDataset = (db: DatabaseTarget, table: string) => {
  if (db.kind === "sqlite") return { namespace: "sqlite", name: `${db.filename === ":memory:" ? ":memory:" : resolve(db.filename)}.main.${table}` }
  const url = new URL(db.display.replace(/:\*\*\*@/, "@"))
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""))
  const schema = db.kind === "postgres" ? "public" : "dbo"
  return { namespace: `${db.kind === "postgres" ? "postgres" : "sqlserver"}://${url.hostname}:${url.port || (db.kind === "postgres" ? "5432" : "1433")}`, name: `${database}.${schema}.${table}` }
}

const fileDataset = (path: string) => ({ namespace: "file", name: resolve(path) })

const inputs = (config: AppConfigShape) => [
  fileDataset(config.files.customersFile),
  fileDataset(config.files.productsFile),
  Option.match(config.files.sourceDatabase, { onNone: () => fileDataset(config.files.salesFile), onSome: (db) => tableDataset(db, "sales_transactions") })
]

export const runEvent = (
  config: AppConfigShape,
  lineageRunId: string,
  runId: string,
  eventType: EventType,
  eventTime: string,
  summary?: RunSummary
) => {
  const loaded = (source: string) => summary?.sources[source]?.loaded
  const outputs = [["customers", "customer_dim"], ["products", "product_dim"], ["sales", "sales_fact"]].map(([source, table]) => {
    const rowCount = loaded(source!)
    return {
      ...tableDataset(config.database, table!),
      ...(rowCount === undefined ? {} : {
        outputFacets: { outputStatistics: { _producer: PRODUCER, _schemaURL: `${FACETS}/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet`, rowCount } }
      })
    }
  })
  return {
    eventType,
    eventTime,
    producer: PRODUCER,
    schemaURL: SCHEMA,
    run: {
      runId: lineageRunId,
      facets: {
        etl: { _producer: PRODUCER, _schemaURL: "urn:etl:facets:EtlRunFacet", runId, env: config.env, ...(summary ? { status: summary.status, mode: summary.mode, records: summary.records } : {}) },
        ...(eventType === "FAIL" && summary
          ? { errorMessage: { _producer: PRODUCER, _schemaURL: `${FACETS}/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet`, message: summary.failures.join("; ") || "the run failed", programmingLanguage: "TypeScript" } }
          : {})
      }
    },
    job: { namespace: `etl-${config.env}`, name: "etl.run" },
    inputs: inputs(config),
    outputs
  }
}

/** Emits one event: appended to lineage.jsonl, posted to OPENLINEAGE_URL when set. */
export const emitLineage = (event: ReturnType<typeof runEvent>) =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const fs = yield* FileSystem.FileSystem
    const line = JSON.stringify(event) + "\n"
    yield* makeDirectories(fs, config.files.outputDir).pipe(
      Effect.zipRight(fs.writeFileString(`${config.files.outputDir.replace(/\/+$/, "")}/lineage.jsonl`, line, { flag: "a" })),
      Effect.catchAll((e) => Effect.logWarning(`could not append to lineage.jsonl: ${e.message}`))
    )
    if (Option.isSome(config.lineageUrl)) {
      const url = `${config.lineageUrl.value.replace(/\/+$/, "")}/api/v1/lineage`
      yield* Effect.flatMap(HttpClient.HttpClient, (http) =>
        HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson(event), http.pipe(HttpClient.filterStatusOk).execute, Effect.scoped)).pipe(
        Effect.timeout(Duration.seconds(5)),
        Effect.provide(FetchHttpClient.layer),
        Effect.catchAll((e) => Effect.logWarning(`could not post the lineage event to ${url}: ${e._tag}`))
      )
    }
  })

export const newLineageRunId = () => randomUUID()
