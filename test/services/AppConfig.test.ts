import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Option, Redacted } from "effect"
import { appConfig, describeConfigError } from "../../src/services/AppConfig.js"

const load = (settings: Record<string, string>) =>
  appConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(settings)))), Effect.either)

const errorFor = (settings: Record<string, string>) =>
  Effect.map(load(settings), (r) => (Either.isLeft(r) ? describeConfigError(r.left) : "no error"))

describe("AppConfig", () => {
  it.effect("has the contract's defaults", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* load({}))
      expect(config.database.kind).toBe("sqlite")
      expect(config.database.filename).toBe("data/warehouse.db")
      expect(config.files.customersFile).toBe("data/input/customers.csv")
      expect(config.processing).toMatchObject({ batchSize: 5000, maxRetries: 3, retryBaseDelayMs: 200, retryBackoffFactor: 2, circuitBreakerThreshold: 5, circuitBreakerResetSeconds: 60 })
      expect(config.alerts.throttleMinutes).toBe(30)
      expect(Option.isNone(config.files.sourceDatabase)).toBe(true)
    }))

  it.effect.each([
    [{ BATCH_SIZE: "abc" }, "BATCH_SIZE: expected a whole number ≥ 1, got 'abc'"],
    [{ BATCH_SIZE: "0" }, "BATCH_SIZE: expected a whole number ≥ 1, got '0'"],
    [{ MAX_RETRIES: "-1" }, "MAX_RETRIES: expected a whole number ≥ 0, got '-1'"],
    [{ COMMISSION_RATE: "3%" }, "COMMISSION_RATE: expected a decimal fraction from 0 to 1, such as 0.03, got '3%'"],
    [{ COMMISSION_RATE: "1.5" }, "COMMISSION_RATE: expected a decimal fraction"],
    [{ RETRY_BACKOFF_FACTOR: "fast" }, "RETRY_BACKOFF_FACTOR: expected a number ≥ 1"],
    [{ DATABASE_URL: "mysql://localhost/db" }, "DATABASE_URL: expected sqlite:PATH"],
    [{ DATABASE_URL: "sqlite:" }, "DATABASE_URL: expected sqlite:PATH"],
    [{ DATABASE_URL: "postgres://u:pw@host:99999/db" }, "DATABASE_URL: expected"],
    [{ SOURCE_DATABASE_URL: "oracle://x" }, "SOURCE_DATABASE_URL: expected sqlite:PATH"],
    [{ DB_SERVER: "sql01" }, "DB_NAME: expected a database name when DB_SERVER is set"],
    [{ DB_SERVER: "sql01", DB_NAME: "dw", DB_PORT: "port" }, "DB_PORT: expected a port number"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL: expected one of trace, debug, info, warning, error, fatal"],
    [{ READ_THREAD: "yes" }, "READ_THREAD: expected on or off, got 'yes'"],
    [{ SPLIT_READ: "yes" }, "SPLIT_READ: expected auto, on or off, got 'yes'"]
  ] as const)("%j is refused with a message naming the variable", ([settings, message]) =>
    Effect.gen(function* () {
      const text = yield* errorFor(settings)
      expect(text.startsWith("Invalid configuration: ")).toBe(true)
      expect(text).toContain(message)
    }))

  it.effect("never shows a password in an error", () =>
    Effect.gen(function* () {
      const text = yield* errorFor({ DATABASE_URL: "postgres://etl:hunter2@db:70000/dw" })
      expect(text).toContain("DATABASE_URL")
      expect(text).not.toContain("hunter2")
    }))

  it.effect("builds a SQL Server target from the origin's DB_* settings, with the password secret", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* load({ DB_SERVER: "sql01", DB_NAME: "dw", DB_USER: "etl", DB_PASSWORD: "p@ss" }))
      expect(config.database.kind).toBe("mssql")
      expect(config.database.display).toBe("mssql://etl:***@sql01:1433/dw")
      expect(Redacted.value(config.database.url)).toBe("mssql://etl:p%40ss@sql01:1433/dw")
      expect(String(config.database.url)).not.toContain("p%40ss")
    }))

  it.effect("keeps webhook URLs and SMTP passwords redacted", () =>
    Effect.gen(function* () {
      const config = Either.getOrThrow(yield* load({ SLACK_WEBHOOK_URL: "https://hooks.example/T/B/secret", SMTP_PASSWORD: "pw" }))
      const shown = JSON.stringify(config, (_, v) => (typeof v === "bigint" ? String(v) : v))
      expect(shown).not.toContain("secret")
      expect(shown).not.toContain('"pw"')
    }))
})
