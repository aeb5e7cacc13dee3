/** The sales source as a database: the same warehouse as the CSV, read in pages, values bound as parameters. */
import { SqlClient } from "@effect/sql"
import { NodeContext } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { join } from "node:path"
import * as TestLayer from "../../src/layers/Test.js"
import { runPipeline } from "../../src/programs/Pipeline.js"
import { seedSourceDatabase } from "../../src/programs/SeedSource.js"
import { pageQuery } from "../../src/programs/SourceDatabase.js"
import { parseDatabaseUrl } from "../../src/services/AppConfig.js"
import { CUSTOMER_HEADER, inputs, product, products, SALES_HEADER } from "../support/Fixtures.js"
import { freshDatabase, skipReason } from "../support/Postgres.js"

const fixture = inputs({
  customers: `${CUSTOMER_HEADER}\nC1,Ann,Lee,ann@example.com,5551234567,1 Main,Premium,2024-01-01\nC2,Bo,Ng,bo@example.com,,2 Main,Standard,\n`,
  products: products([product("P1", "19.99", 12.5), product("P2", 250)]),
  sales: [
    SALES_HEADER,
    "T1,C1,P1,3,19.99,5.00,2024-03-01 10:00:00,R1,completed",
    "T2,C2,P2,1,250,0,2024-03-02,R1,completed",
    "T3,C1,P2,2,250,10,2024-03-02 23:59:59,R2,completed",
    "T4,C2,P1,abc,19.99,0,2024-03-03,R2,completed",
    "T5,C1,P1,1,19.99,0,2024-03-04,R1,pending",
    "T6,C9,P1,1,19.99,0,2024-03-04,R1,completed",
    ...Array.from({ length: 25 }, (_, i) => `T${100 + i},C${1 + (i % 2)},P1,${1 + (i % 4)},19.99,0,2024-03-0${5 + (i % 4)},R3,completed`)
  ].join("\n") + "\n"
})
const salesCsv = join(fixture.settings.INPUT_DIR!, "sales_transactions.csv")

const facts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ transaction_id: string }>`SELECT transaction_id, total_amount, commission, cost_amount, customer_status, transaction_date FROM sales_fact ORDER BY transaction_id`)

const full = { date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false }

const sameAsCsv = (sourceUrl: string) =>
  Effect.gen(function* () {
    const target = Either.getOrThrow(parseDatabaseUrl(sourceUrl))
    expect(yield* seedSourceDatabase(target, salesCsv)).toBe(31)
    const fromCsv = yield* Effect.provide(Effect.zipRight(runPipeline(full), facts), TestLayer.layer(fixture.settings))
    // BATCH_SIZE=4: the source is read in several key-ordered pages.
    const db = TestLayer.layer({ ...fixture.settings, SOURCE_DATABASE_URL: sourceUrl, BATCH_SIZE: "4" })
    const summary = yield* Effect.provide(runPipeline(full), db)
    expect(summary.sources.sales).toMatchObject({ read: 30, rejected: 2, filtered: 0 })
    const fromDb = yield* Effect.provide(Effect.zipRight(runPipeline(full), facts), db)
    expect(fromDb).toEqual(fromCsv)
    const backfill = yield* Effect.provide(
      Effect.zipRight(runPipeline({ ...full, fullRefresh: false, from: Option.some("2024-03-02"), to: Option.some("2024-03-02") }), facts),
      db
    )
    expect(backfill.map((r) => r.transaction_id)).toEqual(["T2", "T3"])
  }).pipe(Effect.provide(NodeContext.layer))

describe("source database: SQLite", () => {
  it.effect("loads the same warehouse as the CSV, page by page", () => sameAsCsv(`sqlite:${join(fixture.dir, "source.db")}`))

  it.effect("fails the sales source alone when the table is missing", () =>
    Effect.gen(function* () {
      const summary = yield* runPipeline(full).pipe(
        Effect.provide(TestLayer.layer({ ...fixture.settings, SOURCE_DATABASE_URL: `sqlite:${join(fixture.dir, "empty.db")}` }))
      )
      expect(summary.status).toBe("partial")
      expect(summary.failures.join()).toMatch(/no sales_transactions table|unable to open/)
      expect(summary.changes.customer_dim).toMatchObject({ inserted: 2 })
    }))

  it.effect("a dry run and a first load read the source, not the warehouse they write in", () =>
    Effect.gen(function* () {
      // Both read the source inside the warehouse's transaction, where @effect/sql would send
      // any client's query to the warehouse's connection.
      const sourceUrl = `sqlite:${join(fixture.dir, "source-dry.db")}`
      expect(yield* seedSourceDatabase(Either.getOrThrow(parseDatabaseUrl(sourceUrl)), salesCsv)).toBe(31)
      const db = TestLayer.layer({ ...fixture.settings, SOURCE_DATABASE_URL: sourceUrl })
      const dry = yield* Effect.provide(runPipeline({ ...full, dryRun: true }), db)
      expect(dry.status).toBe("success")
      expect(dry.sources.sales).toMatchObject({ read: 30, rejected: 2, filtered: 0 })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("binds the window as parameters: an injection attempt is only a string", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const hostile = "2024-03-01' OR '1'='1"
      const [text, params] = pageQuery(sql, "sqlite", { from: hostile, to: null }, { date: null, id: null }, 10).compile()
      expect(text).not.toContain("OR '1'='1")
      expect(params).toContain(hostile)
    }).pipe(Effect.provide(SqliteClient.layer({ filename: ":memory:" }))))
})

describe.skipIf(skipReason !== undefined)("source database: PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>
  beforeAll(async () => {
    db = await freshDatabase("etl_source")
  })
  afterAll(() => db?.drop())
  it.effect("loads the same warehouse as the CSV, page by page", () => Effect.suspend(() => sameAsCsv(db.url)))
})

