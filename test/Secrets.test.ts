/**
 * Secrets never appear in logs, alerts, run summaries, lineage or messages,
 * even when the connection fails: every file the runs write is scanned.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as TestLayer from "../src/layers/Test.js"
import { runPipeline } from "../src/programs/Pipeline.js"
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { CUSTOMER_HEADER, inputs, product, products, SALES_HEADER } from "./support/Fixtures.js"

const root = join(import.meta.dirname, "..")
const SECRETS = ["Pa55w0rd-db", "T0KEN-in-webhook-9f8e", "smtp-pa55-77"]

const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })

describe("secrets", () => {
  it("appear in no file a failing or a successful run writes, nor in any message", () => {
    const { dir, settings } = inputs({})
    const env = {
      PATH: process.env.PATH ?? "", ...settings, INPUT_DIR: join(root, "data/input"), MAX_RETRIES: "1",
      SLACK_WEBHOOK_URL: `https://hooks.example.invalid/services/T000/B000/${SECRETS[1]}`,
      SMTP_HOST: "smtp.example.invalid", SMTP_USER: "etl", SMTP_PASSWORD: SECRETS[2]!
    }
    const etl = (args: Array<string>, extra: Record<string, string>) =>
      spawnSync(process.execPath, [join(root, "bin/etl.js"), ...args], { cwd: dir, encoding: "utf8", env: { ...env, ...extra }, timeout: 60_000 })
    const outputs = [
      etl(["run"], { DATABASE_URL: `postgres://etl:${SECRETS[0]}@127.0.0.1:1/dw` }),
      etl(["run"], { DATABASE_URL: `sqlite:${join(dir, "w.db")}` }),
      etl(["health", "--json"], { DATABASE_URL: `postgres://etl:${SECRETS[0]}@127.0.0.1:1/dw` }),
      etl(["run"], { DATABASE_URL: "mysql://etl:" + SECRETS[0] + "@h/db" })
    ]
    expect(outputs.map((o) => o.status)).toEqual([1, 0, 1, 2])
    const written = filesUnder(dir).filter((f) => !f.endsWith(".db") && !f.includes(".db-"))
    expect(written.some((f) => f.endsWith("email_alerts.log"))).toBe(true)
    expect(written.some((f) => /run_.*\.json$/.test(f))).toBe(true)
    const texts = [...written.map((f) => readFileSync(f, "utf8")), ...outputs.flatMap((o) => [o.stdout, o.stderr])]
    for (const secret of SECRETS) {
      const leaks = texts.filter((t) => t.includes(secret))
      expect(leaks, `${secret} leaked`).toEqual([])
    }
  }, 120_000)

  const hostile = inputs({
    customers: `${CUSTOMER_HEADER}\n"C1'; DROP TABLE customer_dim;--","Robert'); DELETE FROM sales_fact;--",x,a@b.co,,"1 Main"" OR ""1""=""1",Basic,\n`,
    products: products([product("P1' OR '1'='1", 10)]),
    sales: `${SALES_HEADER}\n"T1'--","C1'; DROP TABLE customer_dim;--","P1' OR '1'='1",1,10,0,2024-03-01,"R'||(SELECT 1)",completed\n`
  })
  it.effect("stores SQL in inputs as plain text: every value is a bound parameter", () =>
    Effect.gen(function* () {
      const summary = yield* runPipeline({ date: Option.none(), from: Option.none(), to: Option.none(), fullRefresh: true, dryRun: false })
      expect(summary.status).toBe("success")
      const sql = yield* SqlClient.SqlClient
      expect(yield* sql`SELECT customer_id, first_name, address FROM customer_dim`).toEqual([
        { customer_id: "C1'; DROP TABLE customer_dim;--", first_name: "Robert'); Delete From Sales_fact;--", address: '1 Main" OR "1"="1' }
      ])
      expect(yield* sql`SELECT transaction_id, product_id, sales_rep_id FROM sales_fact`).toEqual([
        { transaction_id: "T1'--", product_id: "P1' OR '1'='1", sales_rep_id: "R'||(SELECT 1)" }
      ])
    }).pipe(Effect.provide(TestLayer.layer(hostile.settings))))
})
